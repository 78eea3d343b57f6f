import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { MediaTypes } from '../support/images.ts';
import { useTempDir } from '../support/tmp.ts';

// DELETE on a --writable serve: tags, manifests by digest (with their tags and referrer entries), blobs (their
// files go once nothing reaches them), the spec's status codes, and deletions that hold across a restart.
const tmp = useTempDir('airgap-serve-delete-');
let server: RunningServer;
let storeDir: string;

function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function errorCode(res: Response): Promise<string | undefined> {
  return ((await res.json()) as { errors?: { code?: string }[] }).errors?.[0]?.code;
}

const del = (path: string): Promise<Response> => fetch(`${server.url}${path}`, { method: 'DELETE' });
const head = async (base: string, path: string): Promise<number> => (await fetch(`${base}${path}`, { method: 'HEAD' })).status;

async function pushBlob(name: string, bytes: Buffer): Promise<void> {
  expect((await fetch(`${server.url}/v2/${name}/blobs/uploads/?digest=${sha256(bytes)}`, { method: 'POST', body: bytes })).status).toBe(201);
}

async function pushImage(name: string, tags: string[], seed: string, extra: object = {}): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed }));
  const layer = Buffer.from(`layer of ${seed}`);
  await pushBlob(name, config);
  await pushBlob(name, layer);
  const doc = JSON.stringify({
    schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: sha256(layer), size: layer.length }], ...extra,
  });
  for (const tag of tags.length === 0 ? [sha256(doc)] : tags) {
    expect((await fetch(`${server.url}/v2/${name}/manifests/${tag}`, { method: 'PUT', body: doc, headers: { 'content-type': MediaTypes.ociManifest } })).status).toBe(201);
  }
  return sha256(doc);
}

beforeAll(async () => {
  storeDir = join(tmp.path, 'store');
  server = await startServer({ listen: '127.0.0.1:0', writable: true, store: storeDir });
});

afterAll(async () => {
  await server?.close();
});

describe('DELETE with --writable', () => {
  it('deletes a tag: 202, the tag is gone, the manifest stays by digest and under its other tags', async () => {
    const digest = await pushImage('del/tags', ['a', 'b'], 'tags');
    const res = await del('/v2/del/tags/manifests/a');
    expect(res.status).toBe(202);
    expect(await head(server.url, '/v2/del/tags/manifests/a')).toBe(404);
    expect(await head(server.url, '/v2/del/tags/manifests/b')).toBe(200);
    expect(await head(server.url, `/v2/del/tags/manifests/${digest}`)).toBe(200);
    expect(((await (await fetch(`${server.url}/v2/del/tags/tags/list`)).json()) as { tags: string[] }).tags).toEqual(['b']);
    expect(await errorCode(await del('/v2/del/tags/manifests/a'))).toBe('MANIFEST_UNKNOWN');
  });

  it('deletes a manifest by digest with every tag on it, and its place among the referrers of its subject', async () => {
    const subject = await pushImage('del/manifest', ['v1'], 'subject');
    const signature = await pushImage('del/manifest', ['sig', 'sig-too'], 'signature', { artifactType: 'application/vnd.example.sig', subject: { mediaType: MediaTypes.ociManifest, digest: subject, size: 1 } });
    const listed = async (): Promise<string[]> => ((await (await fetch(`${server.url}/v2/del/manifest/referrers/${subject}`)).json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
    expect(await listed()).toEqual([signature]);
    expect((await del(`/v2/del/manifest/manifests/${signature}`)).status).toBe(202);
    expect(await head(server.url, `/v2/del/manifest/manifests/${signature}`)).toBe(404);
    expect(await head(server.url, '/v2/del/manifest/manifests/sig')).toBe(404);
    expect(await head(server.url, '/v2/del/manifest/manifests/sig-too')).toBe(404);
    expect(await listed()).toEqual([]);
    expect(await head(server.url, '/v2/del/manifest/manifests/v1')).toBe(200);
    // The spec's codes for what is not there.
    expect(await errorCode(await del(`/v2/del/manifest/manifests/${signature}`))).toBe('MANIFEST_UNKNOWN');
    expect(await errorCode(await del(`/v2/no/such/repo/manifests/${signature}`))).toBe('NAME_UNKNOWN');
    expect((await del('/v2/del/manifest/manifests/sha256:xyz')).status).toBe(400);
  });

  it('removes a deleted manifest\'s file once no repository has it, not while another still does', async () => {
    const file = (digest: string): string => join(storeDir, 'blobs', 'sha256', digest.slice(7));
    const digest = await pushImage('del/files', ['v1'], 'files');
    expect(await pushImage('del/files-too', ['v1'], 'files')).toBe(digest);
    expect(existsSync(file(digest))).toBe(true);
    expect((await del(`/v2/del/files/manifests/${digest}`)).status).toBe(202);
    expect(existsSync(file(digest))).toBe(true);
    expect(await head(server.url, `/v2/del/files-too/manifests/${digest}`)).toBe(200);
    // A tag deleted is not the manifest deleted: its file stays.
    expect((await del('/v2/del/files-too/manifests/v1')).status).toBe(202);
    expect(existsSync(file(digest))).toBe(true);
    expect((await del(`/v2/del/files-too/manifests/${digest}`)).status).toBe(202);
    expect(existsSync(file(digest))).toBe(false);
    expect(await head(server.url, `/v2/del/files-too/manifests/${digest}`)).toBe(404);
    // Pushed again, it is whole again.
    expect(await pushImage('del/files', ['v2'], 'files')).toBe(digest);
    expect(existsSync(file(digest))).toBe(true);
    expect(await head(server.url, '/v2/del/files/manifests/v2')).toBe(200);
  });

  it('deletes a blob: 202 and gone from the repository; its file goes only once no repository reaches it', async () => {
    const only = Buffer.from('a blob only one repository has');
    const shared = Buffer.from('a blob two repositories have');
    await pushBlob('del/blobs', only);
    await pushBlob('del/blobs', shared);
    await pushBlob('del/blobs-too', shared);
    const file = (bytes: Buffer): string => join(storeDir, 'blobs', 'sha256', sha256(bytes).slice(7));
    expect((await del(`/v2/del/blobs/blobs/${sha256(only)}`)).status).toBe(202);
    expect(await head(server.url, `/v2/del/blobs/blobs/${sha256(only)}`)).toBe(404);
    expect(existsSync(file(only))).toBe(false);
    expect((await del(`/v2/del/blobs/blobs/${sha256(shared)}`)).status).toBe(202);
    expect(existsSync(file(shared))).toBe(true);
    expect(await head(server.url, `/v2/del/blobs-too/blobs/${sha256(shared)}`)).toBe(200);
    expect(await errorCode(await del(`/v2/del/blobs/blobs/${sha256(only)}`))).toBe('BLOB_UNKNOWN');
  });

  it('holds across a restart: deleted tags and manifests stay deleted, the rest stays', async () => {
    const again = await startServer({ listen: '127.0.0.1:0', store: storeDir });
    try {
      expect(await head(again.url, '/v2/del/tags/manifests/a')).toBe(404);
      expect(await head(again.url, '/v2/del/tags/manifests/b')).toBe(200);
      expect(await head(again.url, '/v2/del/manifest/manifests/sig')).toBe(404);
      expect(await head(again.url, '/v2/del/manifest/manifests/v1')).toBe(200);
    } finally {
      await again.close();
    }
  });

  it('keeps a manifest whose last tag went, by digest, across a restart', async () => {
    const digest = await pushImage('del/untagged', ['only'], 'untagged');
    expect((await del('/v2/del/untagged/manifests/only')).status).toBe(202);
    const again = await startServer({ listen: '127.0.0.1:0', store: storeDir });
    try {
      expect(await head(again.url, `/v2/del/untagged/manifests/${digest}`)).toBe(200);
      expect(await head(again.url, '/v2/del/untagged/manifests/only')).toBe(404);
    } finally {
      await again.close();
    }
  });
});
