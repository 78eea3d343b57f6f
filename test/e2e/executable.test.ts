import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lock } from '../../src/lock.ts';
import { runAirgap, runCommand, type CliResult } from '../support/airgap-cli.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { startDockerd } from '../support/dockerd.ts';
import { demoImageSet, pushTestImages, type PushedImage } from '../support/images.ts';
import { run } from '../support/process.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { inspectRaw, sha256Digest } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';

// The tool as it crosses the air gap: `npm run package` builds the single executable, which then runs from a
// directory holding nothing else, with no Node on PATH, against the real docker-registry.
const ROOT = resolve(import.meta.dirname, '../..');
const HOST_PLATFORM = `${process.platform}-${process.arch}`;
const BUILT = join(ROOT, 'dist', `airgap-${HOST_PLATFORM}`);
const PLACEHOLDER = '172.17.0.2:5000';

const tmp = useTempDir('airgap-exe-');
let ca: CertificateAuthority;
let upstream: RunningRegistry;
let privateRegistry: RunningRegistry;
let pushed: PushedImage[];
/** What `npm run package` printed: the version text and the executables it built. */
let buildLog: string;
let versionText: string;
/** The executable, alone in its directory. */
let toolDir: string;
let tool: string;
/** Where the collect side's three files are (collected with --include-tool), and the lock they hold. */
let carried: string;
let lock: Lock;
/** What an operator's shell would have on the offline side: no Node anywhere on PATH, no NODE_* settings. */
let offlineEnv: NodeJS.ProcessEnv;

function withoutNode(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept = Object.entries(env).filter(([name]) => !/^(NODE_|npm_)/i.test(name) && name !== 'PATH');
  const path = (env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '' && !existsSync(join(dir, 'node')));
  return { ...Object.fromEntries(kept), PATH: path.join(delimiter) };
}

/** Runs the executable itself (no `node` in front), from its own directory unless told otherwise. */
function runTool(file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return runCommand(file, args, { cwd: options.cwd ?? toolDir, env: { ...offlineEnv, ...options.env } });
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** The members of a .tar.gz with their header modes, reading each one's bytes through a hash. */
async function tarMembers(archive: string): Promise<{ name: string; size: number; mode: number; sha256: string }[]> {
  const members: { name: string; size: number; mode: number; sha256: string }[] = [];
  const ex = extract();
  const reading = pipeline(createReadStream(archive), createGunzip(), ex);
  for await (const entry of ex) {
    const hash = createHash('sha256');
    for await (const chunk of entry) hash.update(chunk as Buffer);
    members.push({ name: entry.header.name, size: entry.header.size ?? 0, mode: (entry.header.mode ?? 0) & 0o777, sha256: hash.digest('hex') });
  }
  await reading;
  return members;
}

beforeAll(async () => {
  // The build runs while the registries start and the test images are pushed.
  const building = run(process.execPath, [join(ROOT, 'scripts', 'package.ts')], { cwd: ROOT, timeoutMs: 600_000 });
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  [upstream, privateRegistry] = await Promise.all([startRegistry(), startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile } })]);
  pushed = await pushTestImages(upstream, demoImageSet());
  buildLog = (await building).stdout.toString('utf8');
  versionText = /airgap (\S+ \(commit [^)]+\))/.exec(buildLog)?.[1] ?? '';

  toolDir = join(tmp.path, 'tool');
  await mkdir(toolDir);
  // Renamed on purpose: an operator may call it just `airgap`.
  tool = join(toolDir, 'airgap');
  await copyFile(BUILT, tool);
  offlineEnv = withoutNode(process.env);

  const release = join(tmp.path, 'release');
  await cp(join(ROOT, 'bundles', 'demo'), release, { recursive: true });
  const manifest = join(release, 'airgap.yaml');
  await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('127.0.0.1:5000', upstream.host));
  carried = join(tmp.path, 'carried');
  // The online side runs from the source tree, as a developer would, and packs the tool it built.
  // Juju's own images would come from docker.io: these tests never leave loopback, whatever juju is installed.
  const collected = await runAirgap(['collect', manifest, '-o', carried, '--plain-http', upstream.host, '--include-tool', '--no-juju-images']);
  if (collected.code !== 0) throw new Error(collected.stderr);
  lock = JSON.parse(await readFile(join(carried, 'airgap-lock.json'), 'utf8')) as Lock;
}, 900_000);

afterAll(async () => {
  await Promise.all([upstream?.stop(), privateRegistry?.stop()]);
});

describe('the single executable (npm run package)', () => {
  it('runs from a directory holding nothing else, with no Node on PATH, and names its version and commit', async () => {
    expect(buildLog).toContain(`built dist/airgap-${HOST_PLATFORM}`);
    expect(await readdir(toolDir)).toEqual(['airgap']);
    expect((offlineEnv['PATH'] ?? '').split(delimiter).filter((dir) => existsSync(join(dir, 'node')))).toEqual([]);
    expect(Object.keys(offlineEnv).filter((name) => name.startsWith('NODE_'))).toEqual([]);

    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await runTool(tool, ['--version']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(versionText);
    const match = /^(\S+) \(commit ([^)]+)\)$/.exec(result.stdout.trim());
    expect(match?.[1]).toBe(pkg.version);
    const head = await run('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT }).then((r) => r.stdout.toString('utf8').trim(), () => undefined);
    if (head !== undefined) expect(match?.[2]).toMatch(new RegExp(`^${head}(-dirty)?$`));
    else expect(match?.[2]).toBe('unknown');
    // NODE_OPTIONS meant for another program on that machine does not reach it.
    const despite = await runTool(tool, ['--version'], { env: { NODE_OPTIONS: '--no-such-flag --require /nonexistent.js' } });
    expect(despite.code, despite.stderr).toBe(0);
    expect(despite.stdout.trim()).toBe(versionText);
    // `node bin/airgap.js --version` knows no commit; the executable's lock records it.
    expect((await runAirgap(['--version'])).stdout.trim()).toBe(pkg.version);
  });

  it('collect --include-tool packs every executable built into charms.tar.gz, runnable, recorded in the lock with its sha256', async () => {
    const built = ['linux-x64', 'linux-arm64'].filter((p) => existsSync(join(ROOT, 'dist', `airgap-${p}`)));
    expect(built).toContain(HOST_PLATFORM);
    const members = await tarMembers(join(carried, 'charms.tar.gz'));
    expect(lock.tools?.map((t) => t.file).sort()).toEqual(built.map((p) => `airgap-${p}`).sort());
    for (const locked of lock.tools ?? []) {
      const file = join(ROOT, 'dist', locked.file);
      expect(locked.sha256).toBe(await sha256OfFile(file));
      expect(locked.size).toBe((await stat(file)).size);
      expect(locked.platform).toBe(locked.file.endsWith('arm64') ? 'linux/arm64' : 'linux/amd64');
      const member = members.find((m) => m.name === locked.file);
      expect(member).toMatchObject({ mode: 0o755, sha256: locked.sha256, size: locked.size });
    }
    // Tools are kept apart from charms, and the release files stay plain files.
    expect(lock.charms.map((c) => c.file)).not.toContain(`airgap-${HOST_PLATFORM}`);
    expect(members.find((m) => m.name === 'airgap.yaml')?.mode).toBe(0o644);
  });

  it('loads the archive into docker-registry with digests unchanged, and unpacks the tool runnable', async () => {
    const charms = join(tmp.path, 'offline', 'charms');
    const result = await runTool(tool, ['load', carried, '--registry', privateRegistry.host, '--ca-file', ca.caFile, '--charms-dir', charms]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Loaded ${lock.images.length} images into ${privateRegistry.host}`);
    for (const image of pushed) {
      const raw = await inspectRaw(`${privateRegistry.host}/${image.repository}:${image.tag}`, { caFile: ca.caFile });
      const locked = lock.images.find((i) => i.path === `${image.repository}:${image.tag}`);
      expect(sha256Digest(raw)).toBe(locked?.digest);
      expect(locked?.digest).toBe(image.digest);
    }

    for (const locked of lock.tools ?? []) {
      const unpacked = join(charms, locked.file);
      expect((await stat(unpacked)).mode & 0o777).toBe(0o755);
      expect(await sha256OfFile(unpacked)).toBe(locked.sha256);
    }
    // The unpacked tool is the one that made the archive, and it runs.
    const again = await runTool(join(charms, `airgap-${HOST_PLATFORM}`), ['--version']);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(versionText);
  });

  it('refuses an executable whose sha256 is not the lock\'s, and leaves nothing under its name', async () => {
    const dir = join(tmp.path, 'tampered');
    await mkdir(dir);
    for (const name of ['images.tar.gz', 'charms.tar.gz']) await copyFile(join(carried, name), join(dir, name));
    const altered: Lock = { ...lock, tools: (lock.tools ?? []).map((t) => ({ ...t, sha256: '0'.repeat(64) })) };
    await writeFile(join(dir, 'airgap-lock.json'), JSON.stringify(altered));
    const charms = join(dir, 'charms');
    const result = await runTool(tool, ['load', dir, '--registry', privateRegistry.host, '--ca-file', ca.caFile, '--charms-dir', charms]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/the airgap executable airgap-linux-\S+ has sha256 [0-9a-f]{64}, the lock says 0{64}/);
    expect((await readdir(charms)).filter((f) => f.startsWith('airgap-linux-'))).toEqual([]);
  });

  it('loads --via docker: dockerode is inside, talking to the daemon over its unix socket', async () => {
    const daemon = await startDockerd(join(tmp.path, 'd'));
    const registry = await startRegistry();
    try {
      // A plain-HTTP loopback registry: dockerd allows 127.0.0.0/8 without TLS by default.
      const result = await runTool(tool, ['load', carried, '--via', 'docker', '--registry', `${registry.host}/via`, '--charms-dir', join(tmp.path, 'via-charms')], { env: { DOCKER_HOST: daemon.host } });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`Pushed ${pushed.length} images into ${registry.host}/via through the Docker daemon at ${daemon.host}`);
      for (const image of pushed) {
        const raw = await inspectRaw(`${registry.host}/via/${image.repository}:${image.tag}`);
        expect(raw.length).toBeGreaterThan(0);
      }
    } finally {
      await Promise.all([daemon.stop(), registry.stop()]);
    }
  });

  it('renders config and init from the templates built into it: no templates/ directory is beside it', async () => {
    const juju = await runTool(tool, ['config', 'juju', '--registry', privateRegistry.host, '--juju-version', '3.4.0']);
    expect(juju.code, juju.stderr).toBe(0);
    expect(juju.stdout).toContain(`juju bootstrap microk8s --config caas-image-repo=${privateRegistry.host}/jujusolutions`);
    const init = await runTool(tool, ['init', join(tmp.path, 'offline', 'charms', 'bundle.yaml'), '-o', join(tmp.path, 'init-airgap.yaml')]);
    expect(init.code, init.stderr).toBe(0);
    expect(await readFile(join(tmp.path, 'init-airgap.yaml'), 'utf8')).toContain('placeholder: "172.17.0.2:5000"');
  });

  it('deploy --dry-run prints every rewrite and every Juju command, with no juju and no Node to be found', async () => {
    const charms = join(tmp.path, 'offline', 'charms');
    const result = await runTool(tool, ['deploy', join(charms, 'airgap.yaml'), '--registry', privateRegistry.host, '--ca-file', ca.caFile, '--charms-dir', charms, '--lock', join(carried, 'airgap-lock.json'), '--dry-run']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`applications.app-a.resources.oci-image (line 9): ${PLACEHOLDER}/airgap-test/app-a:1.0 -> ${privateRegistry.host}/airgap-test/app-a:1.0`);
    expect(result.stdout).toMatch(/would run: juju deploy \S+bundle\.airgap\.yaml --trust/);
    expect(result.stdout).toContain(`--resource oci-image=${privateRegistry.host}/airgap-test/docker-format:1.0`);
    expect(result.stdout).toContain('would run: juju relate demo-extra app-a');
    expect(existsSync(join(charms, 'bundle.airgap.yaml'))).toBe(false);
  });

  it('collect --include-tool run by the executable packs itself, and names what is missing', async () => {
    const list = join(tmp.path, 'one-image.txt');
    await writeFile(list, `${upstream.host}/airgap-test/base:1.0\n`);
    const out = join(tmp.path, 'self-collect');
    const result = await runTool(tool, ['collect', list, '-o', out, '--plain-http', upstream.host, '--include-tool', '--tool-platform', HOST_PLATFORM]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const selfLock = JSON.parse(await readFile(join(out, 'airgap-lock.json'), 'utf8')) as Lock;
    expect(selfLock.tool).toBe(`airgap ${versionText}`);
    expect(selfLock.tools).toEqual([{ file: `airgap-${HOST_PLATFORM}`, platform: HOST_PLATFORM === 'linux-arm64' ? 'linux/arm64' : 'linux/amd64', sha256: await sha256OfFile(tool), size: (await stat(tool)).size }]);

    const other = HOST_PLATFORM === 'linux-arm64' ? 'linux-x64' : 'linux-arm64';
    const missing = await runTool(tool, ['collect', list, '-o', join(tmp.path, 'missing'), '--plain-http', upstream.host, '--include-tool', '--tool-platform', other]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain(`no airgap executable for ${other.replace('linux-x64', 'linux/amd64').replace('linux-arm64', 'linux/arm64')}`);
    expect(missing.stderr).toContain('npm run package');
    expect(existsSync(join(tmp.path, 'missing', 'images.tar.gz'))).toBe(false);
  });
});
