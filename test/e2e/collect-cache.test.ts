import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lock } from '../../src/lock.ts';
import { AIRGAP_BIN, runAirgap } from '../support/airgap-cli.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { pushTestImages, type PushedImage } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

// A real registry, a release of a few MB, and a proxy in front that counts what collect downloads. Every
// collect pulls through the one proxy: the archive names its host, so archives of different runs compare.
let tmp: TempDir;
let registry: RunningRegistry;
let proxy: FaultProxy;
let pushed: PushedImage[];
/** The archive a collect straight through writes, to compare every other run with. */
let straight: { sha256: string; lock: Lock };

const MB = 1_000_000;

beforeAll(async () => {
  tmp = await makeTempDir('airgap-cache-');
  registry = await startRegistry();
  const base = { seed: 'cache-base', sizeBytes: 2 * MB, files: 2 };
  pushed = await pushTestImages(registry, [
    { repository: 'cache/a', tag: '1', layers: [base, { seed: 'cache-a', sizeBytes: 1.5 * MB }] },
    { repository: 'cache/b', tag: '1', layers: [base, { seed: 'cache-b-1', sizeBytes: MB }, { seed: 'cache-b-2', sizeBytes: 1.2 * MB }] },
    { repository: 'cache/c', tag: '1', format: 'docker', layers: [{ seed: 'cache-c', sizeBytes: 2.5 * MB, files: 3 }] },
    { repository: 'cache/d', tag: '1', layers: [base, { seed: 'cache-d', sizeBytes: 0.8 * MB }], platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }] },
  ]);
  proxy = await startFaultProxy(registry.host, {});
  const dir = await release('straight');
  const result = await runAirgap(['collect', dir.list, '-o', dir.out, '--plain-http', proxy.host, '--no-cache']);
  expect(result.stderr).toBe('');
  straight = { sha256: await sha256Of(join(dir.out, 'images.tar.gz')), lock: JSON.parse(await readFile(join(dir.out, 'airgap-lock.json'), 'utf8')) as Lock };
});

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  await tmp?.remove();
});

async function release(name: string): Promise<{ dir: string; list: string; out: string; cache: string }> {
  const dir = join(tmp.path, name);
  await mkdir(dir);
  const list = join(dir, 'images.txt');
  await writeFile(list, pushed.map((p) => `${p.reference.replace(registry.host, proxy.host)}\n`).join(''));
  return { dir, list, out: join(dir, 'out'), cache: join(dir, 'cache') };
}

async function sha256Of(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Layer bytes of the release (what the archive carries besides manifests and configs). */
function layerBytes(lock: Lock): Map<string, number> {
  const layers = new Map<string, number>();
  const small = new Set(lock.images.map((i) => i.digest));
  for (const blob of lock.blobs ?? []) if (!small.has(blob.digest) && blob.size > 4096) layers.set(blob.digest, blob.size);
  return layers;
}

/** Bytes of the release's layers the cache holds, whole (under their digest) or in part (a killed download). */
async function cachedLayerBytes(cache: string, layers: ReadonlyMap<string, number>): Promise<{ whole: number; partial: number }> {
  let whole = 0;
  for (const [digest, size] of layers) if (existsSync(join(cache, 'blobs', 'sha256', digest.slice(7)))) whole += size;
  let partial = 0;
  for (const name of await readdir(join(cache, 'tmp'))) if (name.endsWith('.partial')) partial += (await stat(join(cache, 'tmp', name))).size;
  return { whole, partial };
}

describe('collect with a blob cache', () => {
  it('killed with SIGKILL half-way, then run again: downloads only what the cache lacks, and writes the archive a run straight through writes', async () => {
    const layers = layerBytes(straight.lock);
    const total = [...layers.values()].reduce((n, s) => n + s, 0);
    let child: ReturnType<typeof spawn> | undefined;
    const start = proxy.blobBytes;
    // Paced, so that the kill lands while blobs are in flight; the bytes decide when, not the clock.
    proxy.plan.blobBytesPerSecond = 4 * MB;
    proxy.plan.onBlobBytes = (sent) => {
      if (sent - start >= total / 2 && child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    try {
      const r = await release('killed');
      child = spawn(process.execPath, [AIRGAP_BIN, 'collect', r.list, '-o', r.out, '--plain-http', proxy.host, '--cache', r.cache], { stdio: 'ignore' });
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => child?.on('close', (_code, s) => resolve(s)));
      expect(signal).toBe('SIGKILL');
      // Nothing under a final name.
      expect(existsSync(join(r.out, 'images.tar.gz'))).toBe(false);
      expect(existsSync(join(r.out, 'airgap-lock.json'))).toBe(false);
      const before = await cachedLayerBytes(r.cache, layers);
      expect(before.whole + before.partial).toBeGreaterThan(0);
      expect(before.whole + before.partial).toBeLessThan(total);

      proxy.plan.blobBytesPerSecond = undefined;
      proxy.plan.onBlobBytes = undefined;
      const sentBefore = proxy.blobBytes;
      const requestsBefore = proxy.requests.length;
      const again = await runAirgap(['collect', r.list, '-o', r.out, '--plain-http', proxy.host, '--cache', r.cache]);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      expect(await sha256Of(join(r.out, 'images.tar.gz'))).toBe(straight.sha256);
      // Exactly the layer bytes the cache lacked came down again (plus the configs, which every run reads).
      const configs = (straight.lock.blobs ?? []).filter((b) => !layers.has(b.digest) && !straight.lock.images.some((i) => i.digest === b.digest));
      const configRequests = proxy.requests.slice(requestsBefore).filter((q) => q.method === 'GET' && q.url.includes('/blobs/') && configs.some((c) => q.url.endsWith(c.digest)));
      const configBytes = configs.filter((c) => configRequests.some((q) => q.url.endsWith(c.digest))).reduce((n, c) => n + c.size, 0);
      expect(proxy.blobBytes - sentBefore).toBe(total - before.whole - before.partial + configBytes);
      // What a killed download left was continued with a Range request, not fetched again from its start.
      if (before.partial > 0) expect(proxy.requests.slice(requestsBefore).some((q) => q.range !== undefined)).toBe(true);
      expect(again.stdout).toMatch(/layers: \d+ \(.+\): \d+ in the cache .+, \d+ to download/);
    } finally {
      child?.kill('SIGKILL');
      proxy.plan.blobBytesPerSecond = undefined;
      proxy.plan.onBlobBytes = undefined;
    }
  });

  it('a warm cache writes the same archive and downloads no blob', async () => {
    {
      const r = await release('warm');
      const first = await runAirgap(['collect', r.list, '-o', r.out, '--plain-http', proxy.host, '--cache', r.cache]);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const afterFirst = proxy.blobBytes;
      const requestsBefore = proxy.requests.length;
      const second = await runAirgap(['collect', r.list, '-o', join(r.dir, 'out2'), '--plain-http', proxy.host, '--cache', r.cache]);
      expect(second.code).toBe(0);
      const layers = layerBytes(straight.lock);
      const layerGets = proxy.requests.slice(requestsBefore).filter((q) => [...layers.keys()].some((d) => q.url.endsWith(d)));
      expect(layerGets).toEqual([]);
      // Not a config either: a re-run asks the registry only for each tag's manifest.
      expect(proxy.blobBytes - afterFirst).toBe(0);
      expect(proxy.requests.slice(requestsBefore).filter((q) => q.url.includes('/blobs/'))).toEqual([]);
      expect(await sha256Of(join(r.dir, 'out2', 'images.tar.gz'))).toBe(straight.sha256);
      expect(second.stdout).toMatch(/cache .+: [\d.]+ MB in \d+ blobs/);
    }
  });

  it('finds a damaged layer in the cache, downloads it again, and still writes the right archive', async () => {
    {
      const r = await release('damaged');
      const first = await runAirgap(['collect', r.list, '-o', r.out, '--plain-http', proxy.host, '--cache', r.cache]);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      // The largest layer, one bit flipped on disk.
      const [digest] = [...layerBytes(straight.lock).entries()].sort((a, b) => b[1] - a[1])[0] ?? [''];
      const path = join(r.cache, 'blobs', 'sha256', digest.slice(7));
      const bytes = await readFile(path);
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0x10;
      await writeFile(path, bytes);

      const before = proxy.requests.length;
      const again = await runAirgap(['collect', r.list, '-o', join(r.dir, 'out2'), '--plain-http', proxy.host, '--cache', r.cache]);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`warning: image`);
      expect(again.stderr).toContain(digest);
      expect(again.stderr).toMatch(/damaged.*downloading it again/);
      expect(proxy.requests.slice(before).filter((q) => q.url.endsWith(digest))).toHaveLength(1);
      expect(await sha256Of(join(r.dir, 'out2', 'images.tar.gz'))).toBe(straight.sha256);
      // The cache holds the good bytes again.
      expect(createHash('sha256').update(await readFile(path)).digest('hex')).toBe(digest.slice(7));
    }
  });

  it('cache prune keeps what the kept locks need and removes the rest', async () => {
    const r = await release('prune');
    expect((await runAirgap(['collect', r.list, '-o', r.out, '--plain-http', proxy.host, '--cache', r.cache])).code).toBe(0);
    const lockPath = join(r.out, 'airgap-lock.json');
    const lock = JSON.parse(await readFile(lockPath, 'utf8')) as Lock;
    const kept = await runAirgap(['cache', 'prune', '--cache', r.cache, '--keep-lock', lockPath]);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain('removed 0 blobs');
    expect((await readdir(join(r.cache, 'blobs', 'sha256'))).length).toBe(lock.blobs?.length);
    const all = await runAirgap(['cache', 'prune', '--cache', r.cache, '--json']);
    expect(all.code).toBe(0);
    expect((JSON.parse(all.stdout) as { removed: { blobs: number } }).removed.blobs).toBe(lock.blobs?.length);
    expect(await readdir(join(r.cache, 'blobs', 'sha256'))).toEqual([]);
  });
});
