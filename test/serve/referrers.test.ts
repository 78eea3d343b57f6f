import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { MediaTypes } from '../support/images.ts';
import { useTempDir } from '../support/tmp.ts';

// OCI 1.1 on a --writable serve, checked with fetch: sha512 content, manifests with a subject, the referrers
// API with artifactType filtering, and all of it again after a restart over the same store.
const tmp = useTempDir('airgap-serve-referrers-');
let server: RunningServer;
let storeDir: string;

const ARTIFACT_SIG = 'application/vnd.example.signature.v1';
const ARTIFACT_SBOM = 'application/vnd.example.sbom.v1';
const EMPTY = Buffer.from('{}');

function digest(bytes: Uint8Array | string, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

async function pushBlob(name: string, bytes: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<Response> {
  return fetch(`${server.url}/v2/${name}/blobs/uploads/?digest=${digest(bytes, algorithm)}`, { method: 'POST', body: bytes });
}

async function pushManifest(name: string, reference: string, doc: object, mediaType: string = MediaTypes.ociManifest): Promise<{ res: Response; digest: string; bytes: Buffer }> {
  const bytes = Buffer.from(JSON.stringify(doc));
  const res = await fetch(`${server.url}/v2/${name}/manifests/${reference}`, { method: 'PUT', body: bytes, headers: { 'content-type': mediaType } });
  return { res, digest: res.headers.get('docker-content-digest') ?? '', bytes };
}

interface Listed {
  mediaType: string;
  manifests: { digest: string; size: number; mediaType: string; artifactType?: string; annotations?: Record<string, string> }[];
}

async function referrers(base: string, name: string, subject: string, artifactType?: string): Promise<{ res: Response; body: Listed }> {
  const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
  const res = await fetch(`${base}/v2/${name}/referrers/${subject}${query}`);
  return { res, body: (await res.json()) as Listed };
}

let image: { digest: string; size: number };
let signature: { digest: string; size: number };
let sbom: { digest: string; size: number };
let referringIndex: { digest: string; size: number };

beforeAll(async () => {
  storeDir = join(tmp.path, 'store');
  server = await startServer({ listen: '127.0.0.1:0', writable: true, store: storeDir });
  // The image, and two artifacts about it pushed as OCI 1.1 does (empty config, artifactType, subject).
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  expect((await pushBlob('app', config)).status).toBe(201);
  expect((await pushBlob('app', EMPTY)).status).toBe(201);
  const pushedImage = await pushManifest('app', 'v1', { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: digest(config), size: config.length }, layers: [] });
  image = { digest: pushedImage.digest, size: pushedImage.bytes.length };
  const subject = { mediaType: MediaTypes.ociManifest, ...image };
  const artifact = (artifactType: string, note: string): object => ({
    schemaVersion: 2, mediaType: MediaTypes.ociManifest, artifactType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digest(EMPTY), size: 2 }, layers: [], subject, annotations: { note },
  });
  const sig = await pushManifest('app', digest(JSON.stringify(artifact(ARTIFACT_SIG, 'signed'))), artifact(ARTIFACT_SIG, 'signed'));
  expect(sig.res.status).toBe(201);
  expect(sig.res.headers.get('oci-subject')).toBe(image.digest);
  signature = { digest: sig.digest, size: sig.bytes.length };
  const bom = await pushManifest('app', digest(JSON.stringify(artifact(ARTIFACT_SBOM, 'listed'))), artifact(ARTIFACT_SBOM, 'listed'));
  sbom = { digest: bom.digest, size: bom.bytes.length };
  // An index can refer too; with no artifactType of its own it is listed without one.
  const index = await pushManifest('app', 'referring-index', { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [], subject }, MediaTypes.ociIndex);
  expect(index.res.headers.get('oci-subject')).toBe(image.digest);
  referringIndex = { digest: index.digest, size: index.bytes.length };
});

afterAll(async () => {
  await server?.close();
});

describe('the referrers API', () => {
  it('lists every manifest whose subject is the digest, with artifactType and annotations', async () => {
    const { res, body } = await referrers(server.url, 'app', image.digest);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(MediaTypes.ociIndex);
    expect(res.headers.get('oci-filters-applied')).toBeNull();
    expect(body.mediaType).toBe(MediaTypes.ociIndex);
    expect(body.manifests).toHaveLength(3);
    expect(body.manifests).toContainEqual({ mediaType: MediaTypes.ociManifest, ...signature, artifactType: ARTIFACT_SIG, annotations: { note: 'signed' } });
    expect(body.manifests).toContainEqual({ mediaType: MediaTypes.ociManifest, ...sbom, artifactType: ARTIFACT_SBOM, annotations: { note: 'listed' } });
    expect(body.manifests).toContainEqual({ mediaType: MediaTypes.ociIndex, ...referringIndex });
  });

  it('filters by artifactType and says so in OCI-Filters-Applied', async () => {
    const { res, body } = await referrers(server.url, 'app', image.digest, ARTIFACT_SBOM);
    expect(res.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(body.manifests.map((m) => m.digest)).toEqual([sbom.digest]);
  });

  it('answers an empty index (never 404) for a digest nothing refers to, in any repository; 400 for a malformed digest', async () => {
    const { res, body } = await referrers(server.url, 'no/such/repo', digest('nothing'));
    expect(res.status).toBe(200);
    expect(body.manifests).toEqual([]);
    expect((await fetch(`${server.url}/v2/app/referrers/sha256:not-hex`)).status).toBe(400);
    // Referrers are per repository.
    expect((await referrers(server.url, 'other', image.digest)).body.manifests).toEqual([]);
  });

  it('accepts a referrer pushed before its subject, and lists it', async () => {
    const later = digest('a subject pushed later');
    const early = await pushManifest('app', 'early', {
      schemaVersion: 2, mediaType: MediaTypes.ociManifest, artifactType: ARTIFACT_SIG,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digest(EMPTY), size: 2 }, layers: [], subject: { mediaType: MediaTypes.ociManifest, digest: later, size: 10 },
    });
    expect(early.res.status).toBe(201);
    expect((await referrers(server.url, 'app', later)).body.manifests.map((m) => m.digest)).toEqual([early.digest]);
  });
});

describe('sha512', () => {
  it('stores blobs and manifests under sha512 (blobs/sha512/), chunked and monolithic, and serves them', async () => {
    const layer = Buffer.from('a layer named by its sha512');
    const config = Buffer.from('{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    expect((await pushBlob('app512', layer, 'sha512')).status).toBe(201);
    // Chunked, announced with digest-algorithm.
    const started = await fetch(`${server.url}/v2/app512/blobs/uploads/?digest-algorithm=sha512`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = started.headers.get('location') ?? '';
    expect((await fetch(location, { method: 'PATCH', body: config, headers: { 'content-range': `0-${config.length - 1}` } })).status).toBe(202);
    const closed = await fetch(`${location}?digest=${digest(config, 'sha512')}`, { method: 'PUT' });
    expect(closed.status).toBe(201);
    expect(closed.headers.get('docker-content-digest')).toBe(digest(config, 'sha512'));

    const doc = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: digest(config, 'sha512'), size: config.length }, layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: digest(layer, 'sha512'), size: layer.length }] };
    const manifestDigest = digest(JSON.stringify(doc), 'sha512');
    const pushed = await fetch(`${server.url}/v2/app512/manifests/${manifestDigest}?tag=v1&tag=latest`, { method: 'PUT', body: JSON.stringify(doc), headers: { 'content-type': MediaTypes.ociManifest } });
    expect(pushed.status).toBe(201);
    expect(pushed.headers.get('docker-content-digest')).toBe(manifestDigest);
    expect(pushed.headers.get('oci-tag')).toBe('v1, latest');
    const byTag = await fetch(`${server.url}/v2/app512/manifests/latest`, { headers: { accept: MediaTypes.ociManifest } });
    expect(byTag.headers.get('docker-content-digest')).toBe(manifestDigest);
    const blob = await fetch(`${server.url}/v2/app512/blobs/${digest(layer, 'sha512')}`);
    expect(Buffer.from(await blob.arrayBuffer())).toEqual(layer);
    expect(await readdir(join(storeDir, 'blobs', 'sha512'))).toEqual(expect.arrayContaining([manifestDigest.slice(7), digest(layer, 'sha512').slice(7)]));
    // An algorithm the registry does not store is refused, not taken for sha256.
    const md5 = await fetch(`${server.url}/v2/app512/blobs/uploads/?digest=md5:${'0'.repeat(32)}`, { method: 'POST', body: layer });
    expect(md5.status).toBe(400);
  });
});

describe('a restart over the same store', () => {
  it('keeps tags, blobs, sha512 content and referrers', async () => {
    const again = await startServer({ listen: '127.0.0.1:0', store: storeDir });
    try {
      expect((await fetch(`${again.url}/v2/app/manifests/v1`, { method: 'HEAD' })).headers.get('docker-content-digest')).toBe(image.digest);
      expect((await fetch(`${again.url}/v2/app/blobs/${digest(EMPTY)}`)).status).toBe(200);
      expect((await fetch(`${again.url}/v2/app512/manifests/v1`, { method: 'HEAD' })).status).toBe(200);
      const { body } = await referrers(again.url, 'app', image.digest);
      expect(body.manifests.map((m) => m.digest).sort()).toEqual([signature.digest, sbom.digest, referringIndex.digest].sort());
      expect((await referrers(again.url, 'app', image.digest, ARTIFACT_SIG)).body.manifests.map((m) => m.digest)).toEqual([signature.digest]);
    } finally {
      await again.close();
    }
  });
});
