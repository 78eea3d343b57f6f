/**
 * Every blob a release's lock stands for (manifests, configs, layers) and the images that need each: from the
 * lock's own `blobs` list, or, for a lock written before airgap recorded it, by walking the images' manifests
 * in the blob cache. What `collect --since` leaves out and what `cache prune --keep-lock` keeps.
 */
import { AirgapError } from '../errors.ts';
import type { Lock } from '../lock.ts';
import { parseManifest } from '../oci/descriptor.ts';
import type { BlobCache } from './blob-cache.ts';

export interface BlobUse {
  size: number;
  /** Paths of the images that need it. */
  images: string[];
}

/**
 * `strict`: a manifest the walk needs and the cache lacks is an error (the caller needs every blob);
 * otherwise what can be reached is returned.
 */
export async function blobsOfLock(lock: Lock, lockPath: string, cache: BlobCache | undefined, options: { strict: boolean }): Promise<Map<string, BlobUse>> {
  const blobs = new Map<string, BlobUse>();
  const use = (digest: string, size: number, path: string): void => {
    const known = blobs.get(digest);
    if (known === undefined) blobs.set(digest, { size, images: [path] });
    else if (!known.images.includes(path)) known.images.push(path);
  };
  if (lock.blobs !== undefined) {
    for (const blob of lock.blobs) for (const path of blob.images) use(blob.digest, blob.size, path);
    return blobs;
  }
  for (const image of lock.images) {
    const walk = async (digest: string, mediaType: string, size: number): Promise<void> => {
      use(digest, size, image.path);
      const bytes = await cache?.readSmall(digest);
      if (bytes === undefined) {
        if (!options.strict) return;
        throw new AirgapError(`${lockPath} lists no blobs (an older airgap wrote it), and manifest ${digest} of image ${image.path} is not in the cache${cache === undefined ? '' : ` ${cache.dir}`}`, {
          hint: 'collect that release once more with this airgap (and the same --cache): its lock then lists every blob',
        });
      }
      // The lock gives a top manifest's digest but not its size: the bytes do.
      const known = blobs.get(digest);
      if (known !== undefined) known.size = bytes.length;
      const parsed = parseManifest(bytes, mediaType, `${image.path} manifest ${digest} in the cache`);
      if (parsed.kind === 'index') {
        for (const child of parsed.index.manifests) await walk(child.digest, child.mediaType, child.size);
        return;
      }
      for (const blob of [parsed.manifest.config, ...parsed.manifest.layers]) use(blob.digest, blob.size, image.path);
    };
    await walk(image.digest, image.mediaType, 0);
  }
  return blobs;
}
