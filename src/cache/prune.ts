/**
 * `airgap cache prune [--keep-lock LOCK]...`: remove every cached blob that no kept release needs (all of
 * them when no lock is kept), and the half-done downloads of runs that are gone. Refused while another
 * airgap has the cache open: it could need what would be removed.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AirgapError } from '../errors.ts';
import { readLock } from '../lock.ts';
import { BlobCache } from './blob-cache.ts';
import { blobsOfLock } from './lock-blobs.ts';

export interface PruneOptions {
  cacheDir: string;
  keepLocks: readonly string[];
  /** Say what would go, remove nothing. */
  dryRun?: boolean;
}

export interface PruneResult {
  dir: string;
  dryRun: boolean;
  removed: { blobs: number; bytes: number };
  kept: { blobs: number; bytes: number };
  /** Downloads killed runs left half-way, removed. */
  partialBytes: number;
  locks: { path: string; release: string; blobs: number }[];
}

export async function pruneCache(options: PruneOptions): Promise<PruneResult> {
  const dir = resolve(options.cacheDir);
  if (!existsSync(dir)) throw new AirgapError(`there is no blob cache at ${dir}`, { hint: 'give the directory collect used with --cache DIR' });
  // Every lock is read before anything is removed: a wrong path keeps the whole cache.
  const locks = await Promise.all(options.keepLocks.map(async (path) => ({ path: resolve(path), lock: await readLock(resolve(path)) })));
  const cache = await BlobCache.open(dir);
  try {
    const others = await cache.otherUsers();
    if (others.length > 0) {
      throw new AirgapError(`another airgap (pid ${others.join(', ')}) is using the cache ${dir}: pruning now could remove blobs it needs`, {
        hint: `wait until it ends; if no airgap runs any more, remove ${dir}/users/${others[0] ?? ''}`,
      });
    }
    const keep = new Set<string>();
    const kept: PruneResult['locks'] = [];
    for (const { path, lock } of locks) {
      const blobs = await blobsOfLock(lock, path, cache, { strict: false });
      for (const digest of blobs.keys()) keep.add(digest);
      kept.push({ path, release: `${lock.name}${lock.version === '' ? '' : ` ${lock.version}`}`, blobs: blobs.size });
    }
    const result: PruneResult = { dir, dryRun: options.dryRun === true, removed: { blobs: 0, bytes: 0 }, kept: { blobs: 0, bytes: 0 }, partialBytes: 0, locks: kept };
    for (const [digest, size] of await cache.blobs()) {
      const side = keep.has(digest) ? result.kept : result.removed;
      side.blobs++;
      side.bytes += size;
      if (!keep.has(digest) && options.dryRun !== true) await cache.remove(digest);
    }
    if (options.dryRun === true) result.partialBytes = [...(await cache.partialSizes()).values()].reduce((n, s) => n + s, 0);
    else {
      result.partialBytes = await cache.removeStaleTemporaries({ partials: true });
      await cache.forgetMissingImages();
    }
    return result;
  } finally {
    await cache.close();
  }
}
