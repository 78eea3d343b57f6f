/**
 * What `airgap serve` takes from the lock beside an archive (when there is one, as `collect` writes it): the
 * parts of a split archive, read in order and each checked as it passes, and the base a differential archive
 * (`collect --since`) builds on, whose layers the store must already hold: refused otherwise, in the words
 * `load` uses.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { archiveFilesOf, checkArchiveFiles, type ArchiveFiles } from '../archive/archive-files.ts';
import { baseRelease, missingBaseError } from '../archive/differential.ts';
import { LOCK_FILE_NAME, readLock, type Lock } from '../lock.ts';
import type { BlobStore } from './blob-store.ts';

export interface CarriedArchive {
  files: ArchiveFiles;
  lock: Lock | undefined;
}

export async function openCarriedArchive(path: string): Promise<CarriedArchive> {
  const lockPath = join(dirname(path), LOCK_FILE_NAME);
  const lock = existsSync(lockPath) ? await readLock(lockPath) : undefined;
  const files = await archiveFilesOf(path, lock?.archives['images.tar.gz']);
  await checkArchiveFiles(files);
  return { files, lock };
}

/** A differential archive is served only over a store that holds every layer it leaves out. */
export async function checkBaseInStore(carried: CarriedArchive, store: BlobStore, temporary: boolean): Promise<void> {
  const { lock } = carried;
  if (lock?.base === undefined || lock.leftOut === undefined) return;
  const missing = [];
  for (const blob of lock.leftOut) if ((await store.size(blob.digest)) !== blob.size) missing.push(blob);
  if (missing.length === 0) return;
  const release = baseRelease(lock.base);
  throw missingBaseError(lock, lock.base, temporary ? 'a new, empty store' : `the store ${store.dir}`, missing, 'nothing was served', temporary
    ? `serve ${release}'s archive with --store DIR first, then this archive with the same --store DIR`
    : `serve ${release}'s archive with this --store first, then this archive`);
}
