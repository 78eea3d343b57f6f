import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobCache, CorruptCacheBlobError, defaultCacheDir } from '../../src/cache/blob-cache.ts';
import { DigestMismatchError } from '../../src/errors.ts';
import type { DigestHasher } from '../../src/oci/digest.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

let tmp: TempDir;
let serial = 0;

beforeAll(async () => {
  tmp = await makeTempDir('airgap-blob-cache-');
});
afterAll(async () => {
  await tmp.remove();
});

function blobOf(bytes: Buffer): { digest: string; size: number } {
  return { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
}

/** What a registry would send from the hasher's offset on, in pieces, each passed through the hasher as getBlob does. */
async function* serve(bytes: Buffer, hasher: DigestHasher, piece = 1000): AsyncGenerator<Buffer> {
  for (let offset = hasher.bytes; offset < bytes.length; offset += piece) {
    const chunk = bytes.subarray(offset, Math.min(bytes.length, offset + piece));
    hasher.update(chunk);
    yield chunk;
  }
  hasher.verify();
}

/** The pid of a process that has ended: a killed run's. */
async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid ?? 999_999;
}

async function openCache(): Promise<BlobCache> {
  return BlobCache.open(join(tmp.path, `c${serial++}`));
}

describe('BlobCache', () => {
  it('is an OCI image layout, and the default lives under XDG_CACHE_HOME or ~/.cache', async () => {
    const cache = await openCache();
    expect(JSON.parse(await readFile(join(cache.dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(JSON.parse(await readFile(join(cache.dir, 'index.json'), 'utf8'))).toMatchObject({ schemaVersion: 2, manifests: [] });
    await cache.close();
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' })).toBe('/x/cache/airgap');
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.cache/airgap');
    expect(defaultCacheDir({ HOME: '/home/u' })).toBe('/home/u/.cache/airgap');
  });

  it('fetches a blob into a partial file and renames it under its digest once verified', async () => {
    const cache = await openCache();
    const bytes = Buffer.from('a layer '.repeat(5000));
    const blob = blobOf(bytes);
    const result = await cache.fetch(blob, { ...blob, what: 'test blob' }, (hasher) => serve(bytes, hasher));
    expect(result.resumedBytes).toBe(0);
    expect(await readFile(cache.blobPath(blob.digest))).toEqual(bytes);
    expect(await cache.has(blob)).toBe(true);
    expect(await readdir(join(cache.dir, 'tmp'))).toEqual([]);
    await cache.close();
  });

  it('continues the partial file a killed run left, asking only for the rest', async () => {
    const cache = await openCache();
    const bytes = Buffer.from('another layer '.repeat(4000));
    const blob = blobOf(bytes);
    await writeFile(join(cache.dir, 'tmp', `${blob.digest.slice(7)}.${await deadPid()}.partial`), bytes.subarray(0, 20_000));
    expect(await cache.partialSizes()).toEqual(new Map([[blob.digest, 20_000]]));
    let askedFrom = -1;
    const result = await cache.fetch(blob, { ...blob, what: 'test blob' }, (hasher) => {
      askedFrom = hasher.bytes;
      return serve(bytes, hasher);
    });
    expect(askedFrom).toBe(20_000);
    expect(result.resumedBytes).toBe(20_000);
    expect(await readFile(cache.blobPath(blob.digest))).toEqual(bytes);
    await cache.close();
  });

  it("starts again from nothing when the partial file was not the blob's beginning", async () => {
    const cache = await openCache();
    const bytes = Buffer.from('third layer '.repeat(4000));
    const blob = blobOf(bytes);
    await writeFile(join(cache.dir, 'tmp', `${blob.digest.slice(7)}.${await deadPid()}.partial`), Buffer.alloc(10_000, 1));
    const asked: number[] = [];
    const result = await cache.fetch(blob, { ...blob, what: 'test blob' }, (hasher) => {
      asked.push(hasher.bytes);
      return serve(bytes, hasher);
    });
    expect(asked).toEqual([10_000, 0]);
    expect(result.resumedBytes).toBe(0);
    expect(await readFile(cache.blobPath(blob.digest))).toEqual(bytes);
    await cache.close();
  });

  it('keeps what arrived of a download that broke, and drops bytes that were wrong', async () => {
    const cache = await openCache();
    const bytes = Buffer.from('fourth layer '.repeat(4000));
    const blob = blobOf(bytes);
    const broken = async function* (hasher: DigestHasher): AsyncGenerator<Buffer> {
      hasher.update(bytes.subarray(0, 5000));
      yield bytes.subarray(0, 5000);
      throw new Error('connection reset');
    };
    await expect(cache.fetch(blob, { ...blob, what: 'test blob' }, broken)).rejects.toThrow('connection reset');
    const [partial] = await readdir(join(cache.dir, 'tmp'));
    expect((await stat(join(cache.dir, 'tmp', partial ?? ''))).size).toBe(5000);
    const wrong = Buffer.from(bytes);
    wrong[wrong.length - 1] = 0;
    await expect(cache.fetch(blob, { ...blob, what: 'test blob' }, (hasher) => serve(wrong, hasher))).rejects.toBeInstanceOf(DigestMismatchError);
    expect(await readdir(join(cache.dir, 'tmp'))).toEqual([]);
    expect(await cache.has(blob)).toBe(false);
    await cache.close();
  });

  it('hashes a blob it did not verify this run as it is read: a damaged one is removed and reported', async () => {
    const cache = await openCache();
    const bytes = Buffer.from('fifth layer '.repeat(4000));
    const blob = blobOf(bytes);
    await cache.putBytes(blob, bytes);
    const read = async (): Promise<Buffer> => {
      const chunks: Buffer[] = [];
      for await (const chunk of cache.read(blob, { verified: false, what: 'layer x' })) chunks.push(chunk);
      return Buffer.concat(chunks);
    };
    expect(await read()).toEqual(bytes);
    const damaged = Buffer.from(bytes);
    damaged[100] = (damaged[100] ?? 0) ^ 1;
    await writeFile(cache.blobPath(blob.digest), damaged);
    const failure = await read().then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(CorruptCacheBlobError);
    expect((failure as CorruptCacheBlobError).expected).toBe(blob.digest);
    expect((failure as Error).message).toContain(`layer x in the cache ${cache.dir} is damaged`);
    expect(await cache.has(blob)).toBe(false);
    await cache.close();
  });

  it("gives back a stored manifest or config only when its bytes are its digest's", async () => {
    const cache = await openCache();
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const blob = blobOf(config);
    expect(await cache.readDocument(blob)).toBeUndefined();
    await cache.putBytes(blob, config);
    expect(await cache.readDocument(blob)).toEqual(config);
    await writeFile(cache.blobPath(blob.digest), Buffer.from('{"architecture":"arm64","os":"linux"}'));
    expect(await cache.readDocument(blob)).toBeUndefined();
    expect(await cache.has(blob)).toBe(false);
    await cache.close();
  });

  it('says how much it holds, names its images in index.json, and forgets those whose manifest is gone', async () => {
    const cache = await openCache();
    const manifest = Buffer.from('{"schemaVersion":2}');
    const blob = blobOf(manifest);
    await cache.putBytes(blob, manifest);
    await writeFile(join(cache.dir, 'tmp', `${'0'.repeat(64)}.${await deadPid()}.partial`), Buffer.alloc(300));
    expect(await cache.usage()).toEqual({ blobs: 1, bytes: manifest.length, partialBytes: 300 });
    const descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...blob };
    await cache.recordImages([{ reference: 'reg.example/team/app:1', descriptor }]);
    await cache.recordImages([{ reference: 'reg.example/team/app:1', descriptor }]);
    const index = (): Promise<{ manifests: { digest: string; annotations: Record<string, string> }[] }> => readFile(join(cache.dir, 'index.json'), 'utf8').then((t) => JSON.parse(t) as never);
    expect((await index()).manifests.map((m) => [m.digest, m.annotations['org.opencontainers.image.ref.name']])).toEqual([[blob.digest, 'reg.example/team/app:1']]);
    await cache.remove(blob.digest);
    await cache.forgetMissingImages();
    expect((await index()).manifests).toEqual([]);
    expect(await cache.removeStaleTemporaries({ partials: true })).toBe(300);
    await cache.close();
  });

  it('knows the other processes that have it open', async () => {
    const cache = await openCache();
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await writeFile(join(cache.dir, 'users', String(other.pid)), '');
      await writeFile(join(cache.dir, 'users', String(await deadPid())), '');
      expect(await cache.otherUsers()).toEqual([other.pid]);
    } finally {
      other.kill('SIGKILL');
    }
    await cache.close();
  });
});
