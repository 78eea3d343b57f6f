import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { buildOciLayout, demoImageSet, MediaTypes, type BuiltImage } from '../support/images.ts';
import { useTempDir } from '../support/tmp.ts';

// The distribution API's answers, checked with a plain HTTP client (fetch): status codes, headers, the spec's
// error bodies, ranges, pagination, and pushes that must be refused with nothing stored.
const tmp = useTempDir('airgap-serve-');
let images: BuiltImage[];
let readOnly: RunningServer;
let writable: RunningServer;
let storeDir: string;

const ALL_MANIFESTS = [MediaTypes.ociIndex, MediaTypes.dockerManifestList, MediaTypes.ociManifest, MediaTypes.dockerManifest].join(', ');

function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function image(repository: string): BuiltImage {
  const found = images.find((i) => i.repository === repository);
  if (found === undefined) throw new Error(`no test image ${repository}`);
  return found;
}

async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json()) as { errors?: { code?: string }[] };
  return body.errors?.[0]?.code;
}

/** Push a blob in one POST ?digest= and return the answer. */
function monolithic(server: RunningServer, name: string, bytes: Buffer, digest = sha256(bytes)): Promise<Response> {
  return fetch(`${server.url}/v2/${name}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, {
    method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' },
  });
}

async function putManifest(server: RunningServer, name: string, reference: string, doc: unknown, mediaType: string = MediaTypes.ociManifest): Promise<Response> {
  return fetch(`${server.url}/v2/${name}/manifests/${reference}`, { method: 'PUT', body: JSON.stringify(doc), headers: { 'content-type': mediaType } });
}

async function storeFiles(): Promise<string[]> {
  return [...(await readdir(join(storeDir, 'blobs', 'sha256'))), ...(await readdir(join(storeDir, 'tmp')))];
}

beforeAll(async () => {
  const layout = join(tmp.path, 'layout');
  images = await buildOciLayout(layout, demoImageSet());
  storeDir = join(tmp.path, 'store');
  [readOnly, writable] = await Promise.all([
    startServer({ source: layout, listen: '127.0.0.1:0' }),
    startServer({ listen: '127.0.0.1:0', writable: true, store: storeDir }),
  ]);
});

afterAll(async () => {
  await Promise.all([readOnly?.close(), writable?.close()]);
});

describe('pull', () => {
  it('answers /v2/ with the API version header', async () => {
    const res = await fetch(`${readOnly.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect((await fetch(`${readOnly.url}/v2/`, { method: 'HEAD' })).status).toBe(200);
  });

  it('serves a manifest by tag and by digest with its media type, digest and length', async () => {
    const appA = image('airgap-test/app-a');
    for (const reference of [appA.tag, appA.digest]) {
      const res = await fetch(`${readOnly.url}/v2/${appA.repository}/manifests/${reference}`, { headers: { accept: ALL_MANIFESTS } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(MediaTypes.ociManifest);
      expect(res.headers.get('docker-content-digest')).toBe(appA.digest);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(sha256(bytes)).toBe(appA.digest);
      expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    }
    const head = await fetch(`${readOnly.url}/v2/${appA.repository}/manifests/${appA.tag}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(appA.size);
    const docker = image('airgap-test/docker-format');
    const res = await fetch(`${readOnly.url}/v2/${docker.repository}/manifests/${docker.tag}`);
    expect(res.headers.get('content-type')).toBe(MediaTypes.dockerManifest);
  });

  it('honours Accept loosely: an index asked for by a client that takes only manifests gets its amd64 entry', async () => {
    const multi = image('airgap-test/multi');
    const whole = await fetch(`${readOnly.url}/v2/${multi.repository}/manifests/${multi.tag}`, { headers: { accept: ALL_MANIFESTS } });
    expect(whole.headers.get('docker-content-digest')).toBe(multi.digest);
    expect(whole.headers.get('content-type')).toBe(MediaTypes.ociIndex);
    const narrow = await fetch(`${readOnly.url}/v2/${multi.repository}/manifests/${multi.tag}`, { headers: { accept: MediaTypes.ociManifest } });
    const amd64 = multi.manifests.find((m) => m.platform?.architecture === 'amd64');
    expect(narrow.headers.get('docker-content-digest')).toBe(amd64?.digest);
    // By digest the bytes must be the digest's, whatever the client says it takes.
    const byDigest = await fetch(`${readOnly.url}/v2/${multi.repository}/manifests/${multi.digest}`, { headers: { accept: MediaTypes.ociManifest } });
    expect(byDigest.headers.get('docker-content-digest')).toBe(multi.digest);
  });

  it('serves blobs by digest, only under repositories whose images need them', async () => {
    const appA = image('airgap-test/app-a');
    const layer = appA.manifests[0]?.layers[1];
    if (layer === undefined) throw new Error('app-a has two layers');
    const res = await fetch(`${readOnly.url}/v2/${appA.repository}/blobs/${layer.digest}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(layer.digest);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(layer.digest);
    // app-a's own layer is nothing of base's.
    const elsewhere = await fetch(`${readOnly.url}/v2/airgap-test/base/blobs/${layer.digest}`);
    expect(elsewhere.status).toBe(404);
    expect(await errorCode(elsewhere)).toBe('BLOB_UNKNOWN');
    // Manifests are blobs too.
    expect((await fetch(`${readOnly.url}/v2/${appA.repository}/blobs/${appA.digest}`, { method: 'HEAD' })).status).toBe(200);
  });

  it('answers a Range with 206 and the right bytes, and a range past the end with 416', async () => {
    const base = image('airgap-test/base');
    const layer = base.manifests[0]?.layers[0];
    if (layer === undefined) throw new Error('base has a layer');
    const url = `${readOnly.url}/v2/${base.repository}/blobs/${layer.digest}`;
    const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
    const partial = await fetch(url, { headers: { range: 'bytes=10-99' } });
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-range')).toBe(`bytes 10-99/${layer.size}`);
    expect(Buffer.from(await partial.arrayBuffer())).toEqual(whole.subarray(10, 100));
    const open = await fetch(url, { headers: { range: 'bytes=100-' } });
    expect(Buffer.from(await open.arrayBuffer())).toEqual(whole.subarray(100));
    const suffix = await fetch(url, { headers: { range: 'bytes=-16' } });
    expect(Buffer.from(await suffix.arrayBuffer())).toEqual(whole.subarray(whole.length - 16));
    const past = await fetch(url, { headers: { range: `bytes=${layer.size}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${layer.size}`);
    // Backwards (RFC 9110 lets a server reject it; the conformance suite expects it to).
    expect((await fetch(url, { headers: { range: 'bytes=99-10' } })).status).toBe(416);
  });

  it('gives the spec\'s error codes for unknown and malformed requests', async () => {
    const cases: [string, number, string][] = [
      ['/v2/airgap-test/app-a/manifests/nope', 404, 'MANIFEST_UNKNOWN'],
      [`/v2/airgap-test/app-a/manifests/sha256:${'0'.repeat(64)}`, 404, 'MANIFEST_UNKNOWN'],
      ['/v2/nothing/here/manifests/1.0', 404, 'MANIFEST_UNKNOWN'],
      [`/v2/airgap-test/app-a/blobs/sha256:${'0'.repeat(64)}`, 404, 'BLOB_UNKNOWN'],
      ['/v2/airgap-test/app-a/blobs/sha256:abc', 400, 'DIGEST_INVALID'],
      ['/v2/airgap-test/app-a/manifests/sha256:xyz', 400, 'DIGEST_INVALID'],
      ['/v2/Bad_Name/manifests/1.0', 400, 'NAME_INVALID'],
      ['/v2/a//b/tags/list', 400, 'NAME_INVALID'],
      ['/v2/nothing/tags/list', 404, 'NAME_UNKNOWN'],
      ['/v2/airgap-test/app-a/tags/list?n=x', 400, 'UNSUPPORTED'],
      ['/v2/airgap-test/app-a/nonsense', 404, 'UNSUPPORTED'],
    ];
    for (const [path, status, code] of cases) {
      const res = await fetch(`${readOnly.url}${path}`);
      expect(res.status, path).toBe(status);
      expect(await errorCode(res), path).toBe(code);
    }
  });

  it('refuses pushes on a read-only registry with 405 UNSUPPORTED', async () => {
    const post = await fetch(`${readOnly.url}/v2/airgap-test/app-a/blobs/uploads/`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(await errorCode(post)).toBe('UNSUPPORTED');
    const put = await putManifest(readOnly, 'airgap-test/app-a', 'x', {});
    expect(put.status).toBe(405);
    expect(await errorCode(put)).toBe('UNSUPPORTED');
    const del = await fetch(`${readOnly.url}/v2/airgap-test/app-a/manifests/1.0`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    // Allow names what this registry really offers: no PUT or DELETE when it is read-only.
    expect(put.headers.get('allow')).toBe('GET, HEAD');
    expect(del.headers.get('allow')).toBe('GET, HEAD');
    expect(post.headers.get('allow')).toBe('');
  });

  it('lists the catalog with n/last pagination and a Link to the next page', async () => {
    const all = (await (await fetch(`${readOnly.url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(all.repositories).toEqual(images.map((i) => i.repository).sort());
    const first = await fetch(`${readOnly.url}/v2/_catalog?n=2`);
    expect(((await first.json()) as { repositories: string[] }).repositories).toEqual(all.repositories.slice(0, 2));
    const link = first.headers.get('link');
    expect(link).toMatch(/^<\/v2\/_catalog\?n=2&last=[^>]+>; rel="next"$/);
    const next = await fetch(`${readOnly.url}${/<([^>]+)>/.exec(link ?? '')?.[1] ?? ''}`);
    expect(((await next.json()) as { repositories: string[] }).repositories).toEqual(all.repositories.slice(2, 4));
  });
});

describe('push with --writable', () => {
  it('takes a monolithic upload whose bytes match, and refuses one that does not, storing nothing', async () => {
    const good = Buffer.from('a blob pushed in one go');
    const res = await monolithic(writable, 'push/mono', good);
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(good));
    expect(res.headers.get('location')).toBe(`${writable.url}/v2/push/mono/blobs/${sha256(good)}`);
    expect(Buffer.from(await (await fetch(`${writable.url}/v2/push/mono/blobs/${sha256(good)}`)).arrayBuffer())).toEqual(good);

    const before = await storeFiles();
    const claimed = sha256('something else');
    const bad = await monolithic(writable, 'push/mono', Buffer.from('corrupted bytes'), claimed);
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe('DIGEST_INVALID');
    expect(await storeFiles()).toEqual(before);
    expect(existsSync(join(storeDir, 'blobs', 'sha256', claimed.slice(7)))).toBe(false);
    expect((await fetch(`${writable.url}/v2/push/mono/blobs/${claimed}`, { method: 'HEAD' })).status).toBe(404);
  });

  it('takes a chunked upload: PATCH with Content-Range, status by GET, a wrong range refused, PUT ?digest=', async () => {
    const blob = Buffer.alloc(300_000, 7);
    const start = await fetch(`${writable.url}/v2/push/chunked/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    expect(start.headers.get('range')).toBe('0-0');
    let location = start.headers.get('location') ?? '';
    expect(location).toMatch(new RegExp(`^${writable.url}/v2/push/chunked/blobs/uploads/[0-9a-f-]+$`));
    const first = await fetch(location, { method: 'PATCH', body: blob.subarray(0, 100_000), headers: { 'content-range': '0-99999', 'content-type': 'application/octet-stream' } });
    expect(first.status).toBe(202);
    expect(first.headers.get('range')).toBe('0-99999');
    location = first.headers.get('location') ?? location;
    const status = await fetch(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-99999');
    const gap = await fetch(location, { method: 'PATCH', body: blob.subarray(150_000), headers: { 'content-range': `150000-${blob.length - 1}` } });
    expect(gap.status).toBe(416);
    expect(await errorCode(gap)).toBe('BLOB_UPLOAD_INVALID');
    const second = await fetch(location, { method: 'PATCH', body: blob.subarray(100_000, 200_000), headers: { 'content-range': '100000-199999' } });
    expect(second.status).toBe(202);
    const done = await fetch(`${location}?digest=${encodeURIComponent(sha256(blob))}`, { method: 'PUT', body: blob.subarray(200_000) });
    expect(done.status).toBe(201);
    const served = Buffer.from(await (await fetch(`${writable.url}/v2/push/chunked/blobs/${sha256(blob)}`)).arrayBuffer());
    expect(served.equals(blob)).toBe(true);
    // The session is over.
    expect(await errorCode(await fetch(location))).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('refuses a chunked upload whose bytes do not match the digest at PUT, keeping nothing', async () => {
    const before = await storeFiles();
    const start = await fetch(`${writable.url}/v2/push/chunked/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location') ?? '';
    await fetch(location, { method: 'PATCH', body: Buffer.from('these are the bytes'), headers: { 'content-range': '0-18' } });
    const claimed = sha256('these are not the bytes');
    const res = await fetch(`${location}?digest=${encodeURIComponent(claimed)}`, { method: 'PUT' });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('DIGEST_INVALID');
    expect(await storeFiles()).toEqual(before);
    expect(await errorCode(await fetch(location))).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('cancels an upload with DELETE', async () => {
    const start = await fetch(`${writable.url}/v2/push/cancel/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location') ?? '';
    expect((await fetch(location, { method: 'DELETE' })).status).toBe(204);
    const gone = await fetch(location, { method: 'PATCH', body: 'x' });
    expect(gone.status).toBe(404);
    expect(await errorCode(gone)).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('mounts a blob from another repository that has it (201), and opens an upload otherwise (202)', async () => {
    const bytes = Buffer.from('a blob to mount');
    await monolithic(writable, 'push/mount-from', bytes);
    const digest = encodeURIComponent(sha256(bytes));
    const mounted = await fetch(`${writable.url}/v2/push/mount-to/blobs/uploads/?mount=${digest}&from=push/mount-from`, { method: 'POST' });
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get('docker-content-digest')).toBe(sha256(bytes));
    expect((await fetch(`${writable.url}/v2/push/mount-to/blobs/${sha256(bytes)}`, { method: 'HEAD' })).status).toBe(200);
    const refused = await fetch(`${writable.url}/v2/push/mount-else/blobs/uploads/?mount=${digest}&from=push/nobody`, { method: 'POST' });
    expect(refused.status).toBe(202);
    expect(refused.headers.get('location')).toMatch(/\/v2\/push\/mount-else\/blobs\/uploads\//);
  });

  it('checks a pushed manifest: its blobs must exist, its digest must match, it must parse', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const manifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: sha256(config), size: config.length }, layers: [] };
    const missing = await putManifest(writable, 'push/manifest', 'v1', manifest);
    expect(missing.status).toBe(400);
    expect(await errorCode(missing)).toBe('MANIFEST_BLOB_UNKNOWN');
    expect((await monolithic(writable, 'push/manifest', config)).status).toBe(201);
    const wrongDigest = await putManifest(writable, 'push/manifest', sha256('other'), manifest);
    expect(wrongDigest.status).toBe(400);
    expect(await errorCode(wrongDigest)).toBe('DIGEST_INVALID');
    const garbage = await fetch(`${writable.url}/v2/push/manifest/manifests/v1`, { method: 'PUT', body: '{not json', headers: { 'content-type': MediaTypes.ociManifest } });
    expect(garbage.status).toBe(400);
    expect(await errorCode(garbage)).toBe('MANIFEST_INVALID');
    const index = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [{ mediaType: MediaTypes.ociManifest, digest: sha256('unknown child'), size: 10 }] };
    const orphan = await putManifest(writable, 'push/manifest', 'index', index, MediaTypes.ociIndex);
    expect(await errorCode(orphan)).toBe('MANIFEST_BLOB_UNKNOWN');

    const bytes = JSON.stringify(manifest);
    const ok = await putManifest(writable, 'push/manifest', 'v1', manifest);
    expect(ok.status).toBe(201);
    expect(ok.headers.get('docker-content-digest')).toBe(sha256(bytes));
    const back = await fetch(`${writable.url}/v2/push/manifest/manifests/v1`);
    expect(Buffer.from(await back.arrayBuffer()).toString()).toBe(bytes);
    expect(back.headers.get('content-type')).toBe(MediaTypes.ociManifest);
  });

  it('paginates tags with n and last', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"tags":true}');
    await monolithic(writable, 'push/tags', config);
    const manifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: sha256(config), size: config.length }, layers: [] };
    for (const tag of ['v3', 'v1', 'latest', 'v2', 'v10']) expect((await putManifest(writable, 'push/tags', tag, manifest)).status).toBe(201);
    const all = (await (await fetch(`${writable.url}/v2/push/tags/tags/list`)).json()) as { name: string; tags: string[] };
    expect(all).toEqual({ name: 'push/tags', tags: ['latest', 'v1', 'v10', 'v2', 'v3'] });
    const page = await fetch(`${writable.url}/v2/push/tags/tags/list?n=2`);
    expect(((await page.json()) as { tags: string[] }).tags).toEqual(['latest', 'v1']);
    expect(page.headers.get('link')).toBe('</v2/push/tags/tags/list?n=2&last=v1>; rel="next"');
    const next = await fetch(`${writable.url}/v2/push/tags/tags/list?n=2&last=v1`);
    expect(((await next.json()) as { tags: string[] }).tags).toEqual(['v10', 'v2']);
    const end = await fetch(`${writable.url}/v2/push/tags/tags/list?n=2&last=v2`);
    expect(((await end.json()) as { tags: string[] }).tags).toEqual(['v3']);
    expect(end.headers.get('link')).toBeNull();
  });

  it('keeps its store across a restart: index.json names what was pushed', async () => {
    const index = JSON.parse(await readFile(join(storeDir, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
    expect(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name'])).toContain('push/manifest:v1');
    const again = await startServer({ listen: '127.0.0.1:0', store: storeDir });
    try {
      expect((await fetch(`${again.url}/v2/push/manifest/manifests/v1`)).status).toBe(200);
      const tags = (await (await fetch(`${again.url}/v2/push/tags/tags/list`)).json()) as { tags: string[] };
      expect(tags.tags).toHaveLength(5);
      // Read-only now: the same store, no pushes.
      expect((await fetch(`${again.url}/v2/push/x/blobs/uploads/`, { method: 'POST' })).status).toBe(405);
    } finally {
      await again.close();
    }
  });
});
