import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lock } from '../../src/lock.ts';
import { runAirgap } from '../support/airgap-cli.ts';
import { unpackTarGz } from '../support/archive.ts';
import { pushTestImages, type LayerSpec, type PushedImage } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { inspectRaw, sha256Digest, skopeo } from '../support/skopeo.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';
import { startServeCli } from './serve-cli.ts';

// Two releases in a real registry: 2.0 changes one image, adds one in a new repository, keeps the rest.
let tmp: TempDir;
let upstream: RunningRegistry;
let v1: PushedImage[];
let v2: PushedImage[];
let out1: string;
let out2: string;
let diff: string;

const base: LayerSpec = { seed: 'diff-base', sizeBytes: 600_000, files: 2 };

beforeAll(async () => {
  tmp = await makeTempDir('airgap-diff-');
  upstream = await startRegistry();
  const b = { repository: 'rel/b', tag: '1', layers: [base, { seed: 'diff-b', sizeBytes: 300_000 }] };
  const c = { repository: 'rel/c', tag: '1', format: 'docker' as const, layers: [{ seed: 'diff-c', sizeBytes: 400_000 }] };
  v1 = await pushTestImages(upstream, [{ repository: 'rel/a', tag: '1', layers: [base, { seed: 'diff-a-1', sizeBytes: 200_000 }] }, b, c]);
  v2 = await pushTestImages(upstream, [
    { repository: 'rel/a', tag: '2', layers: [base, { seed: 'diff-a-2', sizeBytes: 200_000 }] },
    b,
    c,
    // A new repository whose base layer the target registry has only under rel/a, rel/b.
    { repository: 'rel/d', tag: '1', layers: [base, { seed: 'diff-d', sizeBytes: 100_000 }] },
  ]);
  out1 = await collect('1.0', v1, []);
  out2 = await collect('2.0', v2, []);
  diff = await collect('2.0', v2, ['--since', join(out1, 'airgap-lock.json')], 'diff');
});

afterAll(async () => {
  await upstream?.stop();
  await tmp?.remove();
});

async function collect(version: string, images: readonly PushedImage[], args: string[], name = version): Promise<string> {
  const dir = join(tmp.path, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'airgap.yaml'), ['name: rel', `version: "${version}"`, 'images:', ...images.map((p) => `  - ${p.reference}`), ''].join('\n'));
  const result = await runAirgap(['collect', join(dir, 'airgap.yaml'), '-o', join(dir, 'out'), '--plain-http', upstream.host, ...args]);
  if (result.code !== 0) throw new Error(result.stderr);
  return join(dir, 'out');
}

async function lockOf(dir: string): Promise<Lock> {
  return JSON.parse(await readFile(join(dir, 'airgap-lock.json'), 'utf8')) as Lock;
}

async function catalog(registry: RunningRegistry): Promise<string[]> {
  const res = await fetch(`${registry.url}/v2/_catalog`);
  return ((await res.json()) as { repositories: string[] }).repositories;
}

async function load(dir: string, registry: RunningRegistry): Promise<Awaited<ReturnType<typeof runAirgap>>> {
  return runAirgap(['load', dir, '--registry', registry.host, '--plain-http', registry.host, '--charms-dir', join(dir, '..', `charms-${registry.host.replace(':', '-')}`)]);
}

describe('collect --since OLD-LOCK', () => {
  it('writes only the layers the old release lacked, and records the base and what it leaves out', async () => {
    const lock = await lockOf(diff);
    const oldLock = await readFile(join(out1, 'airgap-lock.json'));
    expect(lock.base).toEqual({ name: 'rel', version: '1.0', sha256: `sha256:${createHash('sha256').update(oldLock).digest('hex')}` });
    const v1Layers = new Set(v1.flatMap((i) => i.manifests.flatMap((m) => m.layers.map((l) => l.digest))));
    const v2Layers = new Set(v2.flatMap((i) => i.manifests.flatMap((m) => m.layers.map((l) => l.digest))));
    const shared = [...v2Layers].filter((d) => v1Layers.has(d));
    expect(lock.leftOut?.map((b) => b.digest).sort()).toEqual(shared.sort());
    const baseLayer = lock.leftOut?.find((b) => b.size > 600_000);
    expect(baseLayer?.baseImages.sort()).toEqual(['rel/a:1', 'rel/b:1']);
    // The archive holds every manifest and config, and only the new layers.
    const members = (await unpackTarGz(join(diff, 'images.tar.gz'), join(tmp.path, 'diff-unpacked'))).map((m) => m.name);
    for (const digest of shared) expect(members).not.toContain(`blobs/sha256/${digest.slice(7)}`);
    for (const digest of [...v2Layers].filter((d) => !v1Layers.has(d))) expect(members).toContain(`blobs/sha256/${digest.slice(7)}`);
    for (const image of v2) expect(members).toContain(`blobs/sha256/${image.digest.slice(7)}`);
    expect((await stat(join(diff, 'images.tar.gz'))).size).toBeLessThan((await stat(join(out2, 'images.tar.gz'))).size / 2);
    // The full and the differential collect agree on every image.
    expect(lock.images.map((i) => i.digest)).toEqual((await lockOf(out2)).images.map((i) => i.digest));
  });

  it('load into a registry without the base stops before pushing anything, naming the release to load first', async () => {
    const target = await startRegistry();
    try {
      const result = await load(diff, target);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: this is a differential archive: it builds on rel 1\.0 \(lock sha256:[0-9a-f]{12}…\), and the registry 127\.0\.0\.1:\d+ lacks 3 of the 3 layers it leaves out/);
      expect(result.stderr).toContain('nothing was pushed');
      expect(result.stderr).toContain('(load rel 1.0 first, then this archive)');
      expect(await catalog(target)).toEqual([]);
    } finally {
      await target.stop();
    }
  });

  it('load into a registry holding the base pushes the new layers and links the rest: every image complete', async () => {
    const target = await startRegistry();
    try {
      expect((await load(out1, target)).code).toBe(0);
      const result = await load(diff, target);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      for (const image of v2) {
        const ref = `${target.host}/${image.repository}:${image.tag}`;
        expect(sha256Digest(await inspectRaw(ref, { tlsVerify: false }))).toBe(image.digest);
      }
      // rel/d is a repository the base never had: its base layer was linked in, so a client pulls it whole.
      await skopeo(['copy', '--src-tls-verify=false', `docker://${target.host}/rel/d:1`, `dir:${join(tmp.path, 'pulled-d')}`]);
      const layer = v2.find((i) => i.repository === 'rel/d')?.manifests[0]?.layers[0];
      expect((await stat(join(tmp.path, 'pulled-d', layer?.digest.slice(7) ?? ''))).size).toBe(layer?.size);
    } finally {
      await target.stop();
    }
  });

  it('serve refuses it without its base in the store, in the words of load, and serves it over the base', async () => {
    const refused = await runAirgap(['serve', diff, '--listen', '127.0.0.1:0']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: this is a differential archive: it builds on rel 1\.0 \(lock sha256:[0-9a-f]{12}…\), and a new, empty store lacks 3 of the 3 layers it leaves out/);
    expect(refused.stderr).toContain('nothing was served');
    const store = join(tmp.path, 'serve-store');
    // The base first, into the store; then the differential archive over it.
    const base = await startServeCli([out1, '--store', store]);
    await base.stop();
    const server = await startServeCli([diff, '--store', store]);
    try {
      for (const image of v2) {
        expect(sha256Digest(await inspectRaw(`${server.host}/${image.repository}:${image.tag}`, { tlsVerify: false }))).toBe(image.digest);
      }
      await skopeo(['copy', '--src-tls-verify=false', `docker://${server.host}/rel/d:1`, `dir:${join(tmp.path, 'served-d')}`]);
    } finally {
      await server.stop();
    }
  });

  it('verify checks a differential archive against its own lock', async () => {
    const result = await runAirgap(['verify', diff]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('a differential archive: its 3 left-out layers are in rel 1.0');
  });

  it('is refused with --per-image, whose tars are each for docker load', async () => {
    const result = await runAirgap(['collect', join(tmp.path, '2.0', 'airgap.yaml'), '-o', join(tmp.path, 'refused'), '--since', join(out1, 'airgap-lock.json'), '--per-image']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--since cannot go with --per-image');
  });
});
