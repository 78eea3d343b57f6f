import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AIRGAP_BIN, runAirgap } from '../support/airgap-cli.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { demoImageSet, pushTestImages, type PushedImage } from '../support/images.ts';
import { run } from '../support/process.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { inspectRaw, sha256Digest } from '../support/skopeo.ts';
import { writeTestCharm } from '../support/charm.ts';
import { useTempDir } from '../support/tmp.ts';
import { corruptLastLayer } from '../support/archive.ts';
import type { Lock } from '../../src/lock.ts';
import { sleep } from '../../src/util/sleep.ts';

const PLACEHOLDER = '172.17.0.2:5000';
const USER = 'loader';
const PASSWORD = 'l0ad-Pa55word';

const tmp = useTempDir('airgap-load-');
let ca: CertificateAuthority;
let upstream: RunningRegistry;
let pushed: PushedImage[];
/** A collect of the demo set, the way the online side hands it over. */
let collected: string;
let lock: Lock;

async function collectInto(dir: string, extraArgs: string[] = []): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeTestCharm(join(dir, 'charm_1.charm'), 'charm');
  await writeFile(join(dir, 'airgap.yaml'), [
    'name: demo', 'version: "1.0"', `placeholder: ${PLACEHOLDER}`, 'upstream:', `  "*": ${upstream.host}`,
    'charms:', '  - name: charm', '    charm: ./charm_1.charm',
    'images:', ...pushed.map((p) => `  - ${PLACEHOLDER}/${p.repository}:${p.tag}`), '',
  ].join('\n'));
  // Juju's own images would come from docker.io: these tests never leave loopback, whatever juju is installed.
  const result = await runAirgap(['collect', join(dir, 'airgap.yaml'), '-o', join(dir, 'out'), '--plain-http', upstream.host, '--no-juju-images', ...extraArgs]);
  if (result.code !== 0) throw new Error(`collect failed: ${result.stderr}`);
}

async function copyCollected(name: string): Promise<string> {
  const dir = join(tmp.path, name);
  await cp(collected, dir, { recursive: true });
  return dir;
}

/** The digest the registry serves for a reference, by an independent client. */
async function servedDigest(reference: string, registry: RunningRegistry): Promise<string> {
  return sha256Digest(await inspectRaw(reference, registry.url.startsWith('https') ? { caFile: ca.caFile, username: USER, password: PASSWORD } : {}));
}

async function tags(registry: RunningRegistry, repository: string): Promise<string[]> {
  const res = await fetch(`${registry.url.replace('https:', 'http:')}/v2/${repository}/tags/list`).catch(() => undefined);
  if (res === undefined || res.status !== 200) return [];
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  upstream = await startRegistry();
  pushed = await pushTestImages(upstream, demoImageSet());
  const dir = join(tmp.path, 'collect');
  await collectInto(dir);
  collected = join(dir, 'out');
  lock = JSON.parse(await readFile(join(collected, 'airgap-lock.json'), 'utf8')) as Lock;
});

afterAll(async () => {
  await upstream?.stop();
});

describe('airgap load into a private HTTPS registry with basic auth', () => {
  let registry: RunningRegistry;
  let dir: string;
  let first: { code: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    registry = await startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile }, htpasswd: { username: USER, password: PASSWORD } });
    dir = await copyCollected('https');
    first = await runAirgap(['load', dir, '--registry', registry.host, '--ca-file', ca.caFile, '--username', USER, '--password-stdin', '--charms-dir', join(dir, 'charms')], { input: `${PASSWORD}\n`, cwd: dir });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes every image with the digest recorded in the lock and served upstream', async () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    for (const image of pushed) {
      const locked = lock.images.find((i) => i.path === `${image.repository}:${image.tag}`);
      expect(locked?.digest).toBe(image.digest);
      expect(await servedDigest(`${registry.host}/${image.repository}:${image.tag}`, registry)).toBe(image.digest);
    }
  });

  it('keeps the multi-arch index whole, attestation included', async () => {
    const multi = pushed.find((p) => p.repository === 'airgap-test/multi');
    const raw = JSON.parse((await inspectRaw(`${registry.host}/airgap-test/multi:1.0`, { caFile: ca.caFile, username: USER, password: PASSWORD })).toString()) as { manifests: { digest: string }[] };
    expect(raw.manifests.map((m) => m.digest)).toEqual(multi?.manifests.map((m) => m.digest));
    for (const child of multi?.manifests ?? []) {
      expect(await servedDigest(`${registry.host}/airgap-test/multi@${child.digest}`, registry)).toBe(child.digest);
    }
  });

  it('writes airgap-images.json: reference as written, private reference, digest', async () => {
    const map = JSON.parse(await readFile(join(dir, 'airgap-images.json'), 'utf8')) as { images: { reference: string; private: string; digest: string }[] };
    const appB = map.images.find((i) => i.private === `${registry.host}/airgap-test/team/app-b:v2.1.0`);
    expect(appB?.reference).toBe(`${PLACEHOLDER}/airgap-test/team/app-b:v2.1.0`);
    expect(appB?.digest).toBe(pushed.find((p) => p.repository === 'airgap-test/team/app-b')?.digest);
    expect(map.images).toHaveLength(pushed.length);
  });

  it('unpacks charms.tar.gz into --charms-dir, checked against the lock', async () => {
    const files = (await readdir(join(dir, 'charms'))).sort();
    expect(files).toEqual(['airgap.yaml', 'charm_1.charm']);
    const sha = createHash('sha256').update(await readFile(join(dir, 'charms', 'charm_1.charm'))).digest('hex');
    expect(sha).toBe(lock.charms[0]?.sha256);
  });

  it('pushes nothing on a second run', async () => {
    const again = await runAirgap(['load', dir, '--registry', registry.host, '--ca-file', ca.caFile, '--username', USER, '--password-stdin', '--json', '--charms-dir', join(dir, 'charms')], { input: PASSWORD });
    expect(again.code).toBe(0);
    const summary = JSON.parse(again.stdout) as { uploadedBlobs: number; images: { alreadyPresent: boolean }[] };
    expect(summary.uploadedBlobs).toBe(0);
    expect(summary.images.every((i) => i.alreadyPresent)).toBe(true);
    expect(again.stdout).not.toContain(PASSWORD);
  });
});

describe('airgap load, other layouts and places', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('puts images under a prefix: REGISTRY/PREFIX/PATH', async () => {
    const dir = await copyCollected('prefix');
    const result = await runAirgap(['load', join(dir, 'images.tar.gz'), '--registry', `${registry.host}/mirror/team`, '--plain-http', registry.host, '--charms-dir', join(dir, 'charms')]);
    expect(result.code).toBe(0);
    for (const image of pushed) {
      expect(await servedDigest(`${registry.host}/mirror/team/${image.repository}:${image.tag}`, registry)).toBe(image.digest);
    }
  });

  it('reads the --per-image layout', async () => {
    const dir = join(tmp.path, 'per-image');
    await collectInto(dir, ['--per-image']);
    const result = await runAirgap(['load', join(dir, 'out'), '--registry', `${registry.host}/per-image`, '--plain-http', registry.host, '--charms-dir', join(dir, 'charms')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const image of pushed) {
      expect(await servedDigest(`${registry.host}/per-image/${image.repository}:${image.tag}`, registry)).toBe(image.digest);
    }
  });
});

describe('airgap load refuses bad input with one clear line and tags nothing incomplete', () => {
  let registry: RunningRegistry;
  let secure: RunningRegistry;
  beforeAll(async () => {
    [registry, secure] = await Promise.all([startRegistry(), startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile }, htpasswd: { username: USER, password: PASSWORD } })]);
  });
  afterAll(async () => {
    await Promise.all([registry?.stop(), secure?.stop()]);
  });

  async function failingLoad(name: string, prepare: (dir: string) => Promise<void>, args: (dir: string) => string[], input = ''): Promise<string> {
    const dir = await copyCollected(name);
    await prepare(dir);
    const result = await runAirgap(['load', dir, ...args(dir)], { input });
    expect(result.code, result.stdout).toBe(1);
    const lines = result.stderr.trim().split('\n').filter((l) => !l.startsWith('warning:'));
    expect(lines).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    return lines[0] ?? '';
  }

  it('a truncated archive: says so and tags nothing', async () => {
    const line = await failingLoad('truncated', async (dir) => {
      const size = lock.archives['images.tar.gz']?.size ?? 0;
      await truncate(join(dir, 'images.tar.gz'), Math.floor(size * 0.6));
    }, () => ['--registry', `${registry.host}/truncated`, '--plain-http', registry.host]);
    expect(line).toMatch(/truncated|corrupt/);
    expect(line).toContain('images.tar.gz');
    for (const image of pushed) expect(await tags(registry, `truncated/${image.repository}`)).toEqual([]);
  });

  it('a corrupted layer: names the blob and the image, tags nothing of it', async () => {
    const line = await failingLoad('corrupt', async (dir) => {
      await corruptLastLayer(dir);
    }, () => ['--registry', `${registry.host}/corrupt`, '--plain-http', registry.host]);
    expect(line).toMatch(/sha256:[a-f0-9]{64}/);
    expect(line).toMatch(/image airgap-test\//);
    expect(line).toMatch(/corrupt/);
  });

  it('a lock that disagrees with the archive', async () => {
    const line = await failingLoad('lock', async (dir) => {
      const edited = { ...lock, images: lock.images.map((i, n) => (n === 0 ? { ...i, digest: `sha256:${'1'.repeat(64)}` } : i)) };
      await writeFile(join(dir, 'airgap-lock.json'), JSON.stringify(edited));
    }, () => ['--registry', `${registry.host}/lock`, '--plain-http', registry.host]);
    expect(line).toContain('airgap-lock.json');
    expect(line).toContain(lock.images[0]?.path ?? '?');
  });

  it('an untrusted certificate: says how to trust it', async () => {
    const line = await failingLoad('untrusted', async () => {}, () => ['--registry', secure.host, '--username', USER, '--password-stdin'], PASSWORD);
    expect(line).toContain('--ca-file');
    expect(line).toContain(`/etc/docker/certs.d/${secure.host}/ca.crt`);
  });

  it('an HTTP registry without --plain-http', async () => {
    const line = await failingLoad('plain', async () => {}, () => ['--registry', registry.host]);
    expect(line).toContain(`--plain-http ${registry.host}`);
  });

  it('wrong credentials: names the registry, never the password', async () => {
    const line = await failingLoad('credentials', async () => {}, () => ['--registry', secure.host, '--ca-file', ca.caFile, '--username', USER, '--password-stdin'], 'not-the-password');
    expect(line).toContain(secure.host);
    expect(line).toMatch(/credentials|denied|401/);
    expect(line).not.toContain('not-the-password');
  });

  it('a charms.tar.gz member that would escape the charms directory', async () => {
    const line = await failingLoad('escape', async (dir) => {
      const evil = join(dir, 'evil');
      await mkdir(join(evil, 'sub'), { recursive: true });
      await writeFile(join(evil, 'sub', 'x'), 'owned');
      await run('tar', ['-czf', join(dir, 'charms.tar.gz'), '-C', join(evil, 'sub'), '--transform', 's,^x,../../escaped,', 'x']);
      // Not the lock's charms.tar.gz: without --no-lock its sha256 alone would stop the load, before the names are read.
      await rm(join(dir, 'airgap-lock.json'));
    }, (dir) => ['--registry', `${registry.host}/escape`, '--plain-http', registry.host, '--no-lock', '--charms-dir', join(dir, 'charms')]);
    expect(line).toContain('escaped');
    expect(line).toMatch(/outside/);
  });

  it('a registry that answers 500 for a while, then works: retried', async () => {
    const proxy = await startFaultProxy(registry.host, { failFirst: { status: 500, count: 4 } });
    try {
      const dir = await copyCollected('flaky');
      const result = await runAirgap(['load', dir, '--registry', `${proxy.host}/flaky`, '--plain-http', proxy.host, '--charms-dir', join(dir, 'charms')]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(proxy.requests.filter((r) => r.faulted !== undefined)).toHaveLength(4);
    } finally {
      await proxy.stop();
    }
    for (const image of pushed) expect(await servedDigest(`${registry.host}/flaky/${image.repository}:${image.tag}`, registry)).toBe(image.digest);
  });
});

describe('airgap load after kill -9', () => {
  it('tags nothing incomplete, and a re-run finishes the job', async () => {
    const registry = await startRegistry();
    const proxy = await startFaultProxy(registry.host, {});
    try {
      const big = await pushTestImages(upstream, [
        { repository: 'kill/one', tag: '1', layers: [{ seed: 'kill-base', sizeBytes: 1_500_000 }, { seed: 'kill-1', sizeBytes: 1_500_000 }] },
        { repository: 'kill/two', tag: '1', layers: [{ seed: 'kill-base', sizeBytes: 1_500_000 }, { seed: 'kill-2', sizeBytes: 1_500_000 }] },
      ]);
      const dir = join(tmp.path, 'kill');
      await mkdir(dir);
      await writeFile(join(dir, 'images.txt'), big.map((b) => b.reference).join('\n'));
      const collect = await runAirgap(['collect', join(dir, 'images.txt'), '-o', dir, '--plain-http', upstream.host]);
      expect(collect.code).toBe(0);
      // Slow uploads through the proxy (request bodies are not paced, so pace by failing nothing and killing early).
      const child = spawn(process.execPath, [AIRGAP_BIN, 'load', dir, '--registry', proxy.host, '--plain-http', proxy.host], { stdio: 'ignore' });
      for (let i = 0; i < 400 && !proxy.requests.some((r) => r.method === 'PUT' && /blobs\/uploads/.test(r.url) && r.status === 201); i++) await sleep(10);
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      expect(proxy.requests.some((r) => r.method === 'PUT' && /manifests\/1$/.test(r.url))).toBe(false);
      for (const b of big) expect(await tags(registry, b.repository)).toEqual([]);

      const again = await runAirgap(['load', dir, '--registry', registry.host, '--plain-http', registry.host, '--charms-dir', join(dir, 'charms')]);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      for (const b of big) expect(await servedDigest(`${registry.host}/${b.repository}:1`, registry)).toBe(b.digest);
    } finally {
      await proxy.stop();
      await registry.stop();
    }
  });
});
