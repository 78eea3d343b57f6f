/**
 * `collect --since OLD-LOCK`: a differential archive. The layers the old release already carried are left
 * out (manifests, configs and the index always go in), and the lock names the base release and every layer
 * left out, with the base images that carry it, so that `load` can find each in the target registry first.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { BlobCache } from '../cache/blob-cache.ts';
import { blobsOfLock, type BlobUse } from '../cache/lock-blobs.ts';
import { AirgapError } from '../errors.ts';
import { readLock, type LeftOutBlob, type Lock, type LockedBase } from '../lock.ts';
import type { ResolvedImage } from './resolved-image.ts';

export interface BaseRelease {
  base: LockedBase;
  blobs: Map<string, BlobUse>;
}

export async function readBaseRelease(path: string, cache: BlobCache | undefined): Promise<BaseRelease> {
  const full = resolve(path);
  const lock: Lock = await readLock(full);
  let bytes: Buffer;
  try {
    bytes = await readFile(full);
  } catch (err: unknown) {
    throw new AirgapError(`cannot read ${path}`, { cause: err, hint: 'give --since the airgap-lock.json of the release already carried across' });
  }
  const sha256 = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return { base: { name: lock.name, version: lock.version, sha256 }, blobs: await blobsOfLock(lock, full, cache, { strict: true }) };
}

/** The layers of `images` the base has, each once, in the order they would have been written. */
export function leftOutLayers(images: readonly ResolvedImage[], base: BaseRelease): LeftOutBlob[] {
  const leftOut = new Map<string, LeftOutBlob>();
  for (const image of images) {
    for (const layer of image.layers) {
      const use = base.blobs.get(layer.digest);
      if (use === undefined || leftOut.has(layer.digest)) continue;
      leftOut.set(layer.digest, { digest: layer.digest, size: layer.size, baseImages: use.images });
    }
  }
  return [...leftOut.values()];
}
