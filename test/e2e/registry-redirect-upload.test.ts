/**
 * Registries as they behave in the field, all real on loopback: docker-registry with the `redirect` storage
 * middleware handing blobs to another origin (a static file server), chunked uploads killed mid-chunk and
 * resumed from the registry's own byte count, a registry whose disk is full, and a redirect that would
 * give up HTTPS.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { pushTestImages, type PushedImage } from '../support/images.ts';
import { run } from '../support/process.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { inspectRaw, sha256Digest } from '../support/skopeo.ts';
import { startStaticServer, type StaticServer } from '../support/static-server.ts';
import { uncancelledSessions } from '../support/upload-sessions.ts';
import { useTempDir } from '../support/tmp.ts';

const USER = 'redirect-user';
const PASSWORD = 'r3direct-Pa55';

const tmp = useTempDir('airgap-redirect-');
let upstream: RunningRegistry;
let pushed: PushedImage[];
/** images.tar.gz and its lock, of images with layers big enough for several small chunks. */
let collected: string;

async function tags(registry: RunningRegistry, repository: string, auth?: string): Promise<string[]> {
  const res = await fetch(`${registry.url}/v2/${repository}/tags/list`, auth === undefined ? {} : { headers: { authorization: auth } }).catch(() => undefined);
  if (res === undefined || res.status !== 200) return [];
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

/** Upload sessions the registry still holds: every abandoned one is a directory under some _uploads/. */
async function openUploads(storageDir: string): Promise<string[]> {
  const found = await run('find', [storageDir, '-path', '*/_uploads/*', '-maxdepth', '12', '-mindepth', '1', '-type', 'd', '-prune']).catch(() => undefined);
  return (found?.stdout.toString('utf8') ?? '').split('\n').filter((l) => l !== '');
}

beforeAll(async () => {
  upstream = await startRegistry();
  pushed = await pushTestImages(upstream, [
    { repository: 'field/one', tag: '1', layers: [{ seed: 'field-base', sizeBytes: 600_000 }, { seed: 'field-1', sizeBytes: 900_000 }] },
    { repository: 'field/two', tag: '1', layers: [{ seed: 'field-base', sizeBytes: 600_000 }, { seed: 'field-2', sizeBytes: 300_000 }] },
  ]);
  collected = join(tmp.path, 'collected');
  await mkdir(collected);
  await writeFile(join(collected, 'images.txt'), pushed.map((p) => p.reference).join('\n'));
  const collect = await runAirgap(['collect', join(collected, 'images.txt'), '-o', collected, '--plain-http', upstream.host]);
  if (collect.code !== 0) throw new Error(collect.stderr);
});

afterAll(async () => {
  await upstream?.stop();
});

describe('a registry that redirects blobs to another origin (redirect storage middleware)', () => {
  let storage: string;
  let files: StaticServer;
  let registry: RunningRegistry;
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

  beforeAll(async () => {
    storage = join(tmp.path, 'redirect-storage');
    await mkdir(storage);
    files = await startStaticServer(storage);
    registry = await startRegistry({ storageDir: storage, redirectBaseUrl: files.url, htpasswd: { username: USER, password: PASSWORD } });
  });
  afterAll(async () => {
    await registry?.stop();
    await files?.stop();
  });

  const load = (dir: string, extra: string[] = []): ReturnType<typeof runAirgap> =>
    runAirgap(['load', dir, '--registry', registry.host, '--plain-http', registry.host, '--username', USER, '--password-stdin', '--json', '--charms-dir', join(tmp.path, 'charms'), ...extra], { input: PASSWORD });

  it('load, then collect back through the redirects: digests kept, no credentials at the other origin', async () => {
    const loaded = await load(collected);
    expect(loaded.stderr).toBe('');
    expect(loaded.code).toBe(0);
    const out = join(tmp.path, 'back');
    await mkdir(out);
    await writeFile(join(out, 'images.txt'), pushed.map((p) => `${registry.host}/${p.repository}:${p.tag}`).join('\n'));
    const before = files.seen.length;
    // The storage origin is plain HTTP behind a plain-HTTP registry: no --plain-http needed for it.
    const result = await runAirgap(['collect', join(out, 'images.txt'), '-o', out, '--plain-http', registry.host, '--username', USER, '--password-stdin'], { input: PASSWORD });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const downloads = files.seen.slice(before).filter((r) => r.method === 'GET' && r.url.endsWith('/data'));
    // Every config and layer came from the storage origin, and none of those requests carried credentials.
    expect(downloads.length).toBeGreaterThanOrEqual(4);
    expect(downloads.every((r) => r.status === 200)).toBe(true);
    expect(files.seen.some((r) => r.headers.authorization !== undefined)).toBe(false);
    for (const image of pushed) {
      expect(sha256Digest(await inspectRaw(`${registry.host}/${image.repository}:${image.tag}`, { username: USER, password: PASSWORD }))).toBe(image.digest);
    }
  });

  it('after a manifest is deleted, a re-run finds every blob by its 307 and uploads none', async () => {
    const image = pushed[0] as PushedImage;
    const del = await fetch(`${registry.url}/v2/${image.repository}/manifests/${image.digest}`, { method: 'DELETE', headers: { authorization: basic } });
    expect(del.status).toBe(202);
    expect(await tags(registry, image.repository, basic)).toEqual([]);
    const again = await load(collected);
    expect(again.code, again.stderr).toBe(0);
    const summary = JSON.parse(again.stdout) as { uploadedBlobs: number; skippedBlobs: number; images: { alreadyPresent: boolean }[] };
    expect(summary.uploadedBlobs).toBe(0);
    expect(summary.skippedBlobs).toBeGreaterThan(0);
    expect(summary.images.filter((i) => !i.alreadyPresent)).toHaveLength(1);
    expect(await tags(registry, image.repository, basic)).toEqual([image.tag]);
  });
});

describe('chunked uploads', () => {
  it('a chunk killed mid-way is resumed from the byte count the registry reports', async () => {
    const registry = await startRegistry();
    const proxy = await startFaultProxy(registry.host, { killChunks: { count: 1, afterBytes: 100_000, skip: 1 } });
    try {
      const result = await runAirgap(['load', collected, '--registry', proxy.host, '--plain-http', proxy.host, '--chunk-size', '256KiB', '-j', '1', '--charms-dir', join(tmp.path, 'charms-chunks')]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const killed = proxy.requests.findIndex((r) => r.faulted !== undefined);
      expect(killed).toBeGreaterThanOrEqual(0);
      const uploadUrl = (url: string): string => url.split('?')[0] ?? url;
      const session = uploadUrl(proxy.requests[killed]?.url ?? '');
      const after = proxy.requests.slice(killed + 1).filter((r) => uploadUrl(r.url) === session);
      // The client asked where the registry stood, then sent the same chunk again from there, and went on.
      expect(after[0]?.method).toBe('GET');
      expect(after[0]?.status).toBe(204);
      // The second chunk was killed: the registry had the first one (256 KiB), and the resend starts there.
      expect(proxy.requests.slice(0, killed).filter((r) => uploadUrl(r.url) === session && r.method === 'PATCH' && r.status === 202)).toHaveLength(1);
      expect(after[1]?.method).toBe('PATCH');
      expect(after.some((r) => r.method === 'PUT' && r.status === 201)).toBe(true);
      // Several chunks per layer: the chunk size was honoured.
      expect(proxy.requests.filter((r) => r.method === 'PATCH').length).toBeGreaterThan(4);
      for (const image of pushed) {
        expect(sha256Digest(await inspectRaw(`${registry.host}/${image.repository}:${image.tag}`))).toBe(image.digest);
      }
      expect(await openUploads(registry.storageDir)).toEqual([]);
    } finally {
      await proxy.stop();
      await registry.stop();
    }
  });
});

describe('registries that fail for good', () => {
  let ca: CertificateAuthority;
  beforeAll(async () => {
    ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  });

  it('a full registry disk: said as such, nothing tagged, every failed upload cancelled', async () => {
    const storage = join(tmp.path, 'full-disk');
    await mkdir(storage);
    // A real full disk: a 1 MiB tmpfs under the registry's storage, smaller than the images.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', storage]);
    const registry = await startRegistry({ storageDir: storage });
    try {
      const result = await runAirgap(['load', collected, '--registry', registry.host, '--plain-http', registry.host, '--charms-dir', join(tmp.path, 'charms-full')]);
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/out of storage space/);
      expect(lines[0]).toContain(registry.host);
      expect(lines[0]).not.toMatch(/lost the upload/);
      const sessions = await uncancelledSessions(registry);
      expect(sessions.failed).toBeGreaterThan(0);
      expect(sessions.open).toEqual([]);
    } finally {
      await registry.stop();
      await run('umount', [storage]);
    }
  });

  it('an HTTPS registry redirecting to http://: not followed without --plain-http, nothing sent there', async () => {
    const storage = join(tmp.path, 'https-redirect');
    await mkdir(storage);
    const files = await startStaticServer(storage);
    const registry = await startRegistry({ storageDir: storage, redirectBaseUrl: files.url, tls: { certFile: ca.certFile, keyFile: ca.keyFile } });
    try {
      const loaded = await runAirgap(['load', collected, '--registry', registry.host, '--ca-file', ca.caFile, '--charms-dir', join(tmp.path, 'charms-https')]);
      expect(loaded.code, loaded.stderr).toBe(0);
      const out = join(tmp.path, 'downgrade');
      await mkdir(out);
      await writeFile(join(out, 'images.txt'), `${registry.host}/${pushed[0]?.repository}:${pushed[0]?.tag}\n`);
      const result = await runAirgap(['collect', join(out, 'images.txt'), '-o', out, '--ca-file', ca.caFile]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(`refusing plain HTTP to ${files.host}`);
      expect(result.stderr).toContain(`--plain-http ${files.host}`);
      expect(files.seen.filter((r) => r.method === 'GET')).toEqual([]);
      expect((await readdir(out)).filter((f) => f !== 'images.txt')).toEqual([]);
    } finally {
      await registry.stop();
      await files.stop();
    }
  });
});
