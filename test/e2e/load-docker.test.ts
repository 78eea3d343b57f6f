import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap, type CliResult } from '../support/airgap-cli.ts';
import { DOCKER_CLI, startDockerd, type RunningDockerd } from '../support/dockerd.ts';
import { demoImageSet, pushTestImages, type PushedImage } from '../support/images.ts';
import { run } from '../support/process.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { inspectRaw, sha256Digest } from '../support/skopeo.ts';
import { writeTestCharm } from '../support/charm.ts';
import { useTempDir } from '../support/tmp.ts';
import type { Lock } from '../../src/lock.ts';

// The Docker Engine paths of `airgap load`, against a real dockerd: `--via docker` (the daemon loads, tags
// and pushes), and the registry path reading archives that a real `docker save` wrote.

const PLACEHOLDER = '172.17.0.2:5000';
const USER = 'pusher';
const PASSWORD = 'Pu5h-through-d0cker';

const tmp = useTempDir('airgap-ldock-');
let upstream: RunningRegistry;
/** Loads and pushes: the site's daemon. */
let source: RunningDockerd;
/** Pulls what was pushed: a machine that has never seen the images. */
let puller: RunningDockerd;
let pushed: PushedImage[];
let collected: string;
let lock: Lock;

interface ImageMap {
  registry: string;
  images: { reference: string; private: string; digest: string }[];
}

/** The config digest the daemon loads for an image: the linux/amd64 entry of a multi-arch one. */
function configDigestOf(image: PushedImage): string | undefined {
  return image.manifests.find((m) => !m.attestation && (m.platform === undefined || m.platform.architecture === 'amd64'))?.config.digest;
}

function placeholderReference(image: PushedImage): string {
  return `${PLACEHOLDER}/${image.repository}:${image.tag}`;
}

async function served(reference: string): Promise<{ digest: string; config: string | undefined }> {
  const raw = await inspectRaw(reference);
  const manifest = JSON.parse(raw.toString('utf8')) as { config?: { digest: string } };
  return { digest: sha256Digest(raw), config: manifest.config?.digest };
}

/** Pulls into the second daemon and returns the image ID it ends up with (the config digest). */
async function pullId(reference: string): Promise<string> {
  await puller.docker(['pull', '--quiet', reference]);
  const inspected = JSON.parse((await puller.docker(['image', 'inspect', reference])).stdout.toString('utf8')) as { Id: string }[];
  return inspected[0]?.Id ?? '';
}

function oneLine(result: CliResult): string {
  expect(result.code, result.stdout).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return lines[0] ?? '';
}

beforeAll(async () => {
  upstream = await startRegistry();
  [pushed, source, puller] = await Promise.all([
    pushTestImages(upstream, demoImageSet()),
    startDockerd(join(tmp.path, 's')),
    startDockerd(join(tmp.path, 'p')),
  ]);
  const dir = join(tmp.path, 'collect');
  await mkdir(dir);
  await writeTestCharm(join(dir, 'charm_1.charm'), 'charm');
  await writeFile(join(dir, 'airgap.yaml'), [
    'name: demo', 'version: "1.0"', `placeholder: ${PLACEHOLDER}`, 'upstream:', `  "*": ${upstream.host}`,
    'charms:', '  - name: charm', '    charm: ./charm_1.charm',
    'images:', ...pushed.map((p) => `  - ${placeholderReference(p)}`), '',
  ].join('\n'));
  // Juju's own images would come from docker.io: these tests never leave loopback, whatever juju is installed.
  const result = await runAirgap(['collect', join(dir, 'airgap.yaml'), '-o', join(dir, 'out'), '--plain-http', upstream.host, '--no-juju-images']);
  if (result.code !== 0) throw new Error(`collect failed: ${result.stderr}`);
  collected = join(dir, 'out');
  lock = JSON.parse(await readFile(join(collected, 'airgap-lock.json'), 'utf8')) as Lock;
});

afterAll(async () => {
  await Promise.all([source?.stop(), puller?.stop(), upstream?.stop()]);
});

describe('airgap load --via docker', () => {
  let registry: RunningRegistry;
  let dir: string;
  let result: CliResult;
  let map: ImageMap;

  beforeAll(async () => {
    registry = await startRegistry();
    dir = join(tmp.path, 'via');
    await cp(collected, dir, { recursive: true });
    // A plain-HTTP loopback registry: dockerd allows 127.0.0.0/8 without TLS by default.
    result = await runAirgap(['load', dir, '--via', 'docker', '--registry', `${registry.host}/via`, '--charms-dir', join(dir, 'charms')], { env: { DOCKER_HOST: source.host } });
    if (result.code === 0) map = JSON.parse(await readFile(join(dir, 'airgap-images.json'), 'utf8')) as ImageMap;
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('says up front that digests cannot be kept, and why', () => {
    expect(result.code, result.stderr).toBe(0);
    const warnings = result.stderr.trim().split('\n');
    expect(warnings[0]).toMatch(/^warning: --via docker cannot keep digests/);
    expect(warnings[0]).toContain('uncompressed');
    expect(warnings[0]).toContain('one platform of a multi-arch index');
    // Then, at the end, which images changed.
    expect(warnings.at(-1)).toContain(`${pushed.length} of ${pushed.length} images were pushed under a digest other than airgap-lock.json's`);
    expect(result.stdout).toContain(`Docker daemon 20.10`);
    expect(result.stdout).toContain(`Pushed ${pushed.length} images into ${registry.host}/via through the Docker daemon at ${source.host}`);
  });

  it('writes airgap-images.json with the digests the registry serves', async () => {
    expect(map.registry).toBe(`${registry.host}/via`);
    expect(map.images).toHaveLength(pushed.length);
    for (const image of pushed) {
      const entry = map.images.find((i) => i.reference === placeholderReference(image));
      expect(entry?.private).toBe(`${registry.host}/via/${image.repository}:${image.tag}`);
      const now = await served(entry?.private ?? '?');
      expect(now.digest).toBe(entry?.digest);
      expect(now.digest).not.toBe(lock.images.find((i) => i.path === `${image.repository}:${image.tag}`)?.digest);
      // The config is the one thing the daemon keeps: the linux/amd64 one for the multi-arch image.
      expect(now.config, image.repository).toBe(configDigestOf(image));
    }
  });

  it('pushes images a fresh Docker Engine pulls', async () => {
    for (const image of pushed) {
      expect(await pullId(`${registry.host}/via/${image.repository}:${image.tag}`)).toBe(configDigestOf(image));
    }
  });

  it('unpacks charms.tar.gz as the registry path does', async () => {
    expect((await readdir(join(dir, 'charms'))).sort()).toEqual(['airgap.yaml', 'charm_1.charm']);
  });

  it('hands --username/--password-stdin to the daemon, and names the image when the registry refuses', async () => {
    const secured = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
    try {
      const chosen = pushed.filter((p) => p.repository === 'airgap-test/base');
      const small = join(tmp.path, 'auth');
      await cp(collected, small, { recursive: true });
      const refused = await runAirgap(['load', small, '--via', 'docker', '--registry', secured.host, '--username', USER, '--password-stdin', '--charms-dir', join(small, 'charms')], {
        env: { DOCKER_HOST: source.host },
        input: 'wrong-password\n',
      });
      // One line: the warning goes out first, then the failure.
      const line = refused.stderr.trim().split('\n').filter((l) => !l.startsWith('warning:'));
      expect(refused.code).toBe(1);
      expect(line).toHaveLength(1);
      expect(line[0]).toMatch(/^error: image airgap-test\/[a-z/-]+:[\w.]+: the Docker daemon could not push /);
      expect(line[0]).toMatch(/unauthorized|authentication required/);
      expect(refused.stderr).not.toContain('wrong-password');

      const accepted = await runAirgap(['load', small, '--via', 'docker', '--registry', secured.host, '--username', USER, '--password-stdin', '--json', '--charms-dir', join(small, 'charms')], {
        env: { DOCKER_HOST: source.host },
        input: `${PASSWORD}\n`,
      });
      expect(accepted.code, accepted.stderr).toBe(0);
      expect(accepted.stdout).not.toContain(PASSWORD);
      const summary = JSON.parse(accepted.stdout) as { via: string; images: { private: string; digest: string }[] };
      expect(summary.via).toBe('docker');
      const base = summary.images.find((i) => i.private === `${secured.host}/${chosen[0]?.repository}:${chosen[0]?.tag}`);
      const raw = await inspectRaw(base?.private ?? '?', { username: USER, password: PASSWORD });
      expect(sha256Digest(raw)).toBe(base?.digest);
    } finally {
      await secured.stop();
    }
  });

  it('fails with one line when the daemon cannot be reached', async () => {
    const line = oneLine(await runAirgap(['load', collected, '--via', 'docker', '--registry', '127.0.0.1:1/x'], { env: { DOCKER_HOST: 'unix:///nonexistent.sock' } }));
    expect(line).toContain('cannot reach the Docker daemon at unix:///nonexistent.sock');
    expect(line).toContain('is dockerd running? DOCKER_HOST=unix:///nonexistent.sock');
  });

  it('loads the --per-image layout, one inner tar at a time', async () => {
    const perImage = join(tmp.path, 'per-image');
    await mkdir(perImage);
    const chosen = pushed.filter((p) => p.repository === 'airgap-test/app-c' || p.repository === 'airgap-test/docker-format');
    await writeFile(join(perImage, 'images.txt'), `${chosen.map((p) => p.reference).join('\n')}\n`);
    const collect = await runAirgap(['collect', join(perImage, 'images.txt'), '-o', perImage, '--plain-http', upstream.host, '--per-image']);
    expect(collect.code, collect.stderr).toBe(0);
    const loaded = await runAirgap(['load', perImage, '--via', 'docker', '--registry', `${registry.host}/per-image`, '--charms-dir', join(perImage, 'charms')], { env: { DOCKER_HOST: source.host } });
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.stdout).toContain('per-image layout');
    const written = JSON.parse(await readFile(join(perImage, 'airgap-images.json'), 'utf8')) as ImageMap;
    for (const image of chosen) {
      const entry = written.images.find((i) => i.private === `${registry.host}/per-image/${image.repository}:${image.tag}`);
      expect((await served(entry?.private ?? '?')).digest).toBe(entry?.digest);
    }
  });
});

describe('airgap load of archives written by docker save (Docker 20.10 legacy layout)', () => {
  let registry: RunningRegistry;
  /** Image ID (config digest) of each image in the daemon that saved it. */
  const ids = new Map<string, string>();
  let plain: string;
  let gzipped: string;

  beforeAll(async () => {
    registry = await startRegistry();
    await source.docker(['load', '--quiet', '-i', join(collected, 'images.tar.gz')]);
    const names = pushed.map(placeholderReference);
    for (const name of names) {
      ids.set(name, (JSON.parse((await source.docker(['image', 'inspect', name])).stdout.toString('utf8')) as { Id: string }[])[0]?.Id ?? '');
    }
    plain = join(tmp.path, 'saved', 'saved.tar');
    gzipped = join(tmp.path, 'saved-gz', 'saved.tar.gz');
    await mkdir(join(tmp.path, 'saved'));
    await mkdir(join(tmp.path, 'saved-gz'));
    await source.docker(['save', '-o', plain, ...names]);
    await run('bash', ['-o', 'pipefail', '-c', `"$0" -H "$1" save "\${@:3}" | gzip > "$2"`, DOCKER_CLI, source.host, gzipped, ...names], { env: { ...process.env, ...source.env } });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('is the legacy layout: <id>/layer.tar, a shared layer as a symlink, manifest.json last', async () => {
    const listing = (await run('tar', ['-tvf', plain])).stdout.toString('utf8').trim().split('\n');
    expect(listing.at(-1)).toMatch(/ (manifest\.json|repositories)$/);
    expect(listing.some((l) => /[a-f0-9]{64}\/layer\.tar$/.test(l))).toBe(true);
    expect(listing.some((l) => l.startsWith('l') && /layer\.tar -> /.test(l))).toBe(true);
    expect(listing.some((l) => l.endsWith('index.json'))).toBe(false);
    expect((await stat(gzipped)).size).toBeGreaterThan(0);
  });

  for (const variant of ['plain', 'gzip'] as const) {
    it(`pushes every image of a ${variant === 'plain' ? 'docker save -o' : 'docker save | gzip'} archive with its config unchanged, pullable`, async () => {
      const file = variant === 'plain' ? plain : gzipped;
      // A docker save has no lock: --no-lock says so, and the output says it was loaded without one.
      const result = await runAirgap(['load', file, '--no-lock', '--registry', `${registry.host}/${variant}`, '--plain-http', registry.host]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('without a lock (--no-lock)');
      expect(result.stderr).toContain('warning: loading without a lock (--no-lock)');
      expect(result.stdout).toContain(`docker-save layout, ${pushed.length} images`);
      expect(result.stderr).toContain('warning: this archive was made by docker save');
      const map = JSON.parse(await readFile(join(file, '..', 'airgap-images.json'), 'utf8')) as ImageMap;
      expect(map.images).toHaveLength(pushed.length);
      for (const image of pushed) {
        const reference = `${registry.host}/${variant}/${image.repository}:${image.tag}`;
        const now = await served(reference);
        expect(now.config, reference).toBe(ids.get(placeholderReference(image)));
        expect(map.images.find((i) => i.private === reference)?.digest).toBe(now.digest);
        expect(await pullId(reference)).toBe(ids.get(placeholderReference(image)));
      }
    });
  }

  it('--via docker takes a docker save archive too, naming images from what the daemon loaded', async () => {
    const result = await runAirgap(['load', plain, '--no-lock', '--via', 'docker', '--registry', `${registry.host}/via-saved`], { env: { DOCKER_HOST: source.host } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('without a lock (--no-lock)');
    const map = JSON.parse(await readFile(join(plain, '..', 'airgap-images.json'), 'utf8')) as ImageMap;
    expect(map.images.map((i) => i.reference).sort()).toEqual(pushed.map(placeholderReference).sort());
    for (const entry of map.images) {
      const now = await served(entry.private);
      expect(now.digest).toBe(entry.digest);
      expect(now.config).toBe(ids.get(entry.reference));
    }
  });
});
