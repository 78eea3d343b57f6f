import { defaultCacheDir } from '../cache/blob-cache.ts';
import { pruneCache } from '../cache/prune.ts';
import { formatBytes } from '../fs/atomic-file.ts';
import type { CommandIo } from './io.ts';

export interface CachePruneCommandOptions {
  keepLock: string[];
  cache?: string;
  dryRun: boolean;
  json: boolean;
}

/** `airgap cache prune [--keep-lock LOCK]...`: what was removed, what is kept, on stdout. */
export async function cachePruneCommand(options: CachePruneCommandOptions, io: CommandIo): Promise<void> {
  const result = await pruneCache({ cacheDir: options.cache ?? defaultCacheDir(), keepLocks: options.keepLock, dryRun: options.dryRun });
  if (options.json) {
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const verb = result.dryRun ? 'would remove' : 'removed';
  for (const lock of result.locks) io.stdout(`keeping ${lock.release}: ${lock.blobs} blobs (${lock.path})\n`);
  io.stdout(
    `${result.dir}: ${verb} ${result.removed.blobs} blobs (${formatBytes(result.removed.bytes)})` +
      `${result.partialBytes > 0 ? ` and ${formatBytes(result.partialBytes)} of unfinished downloads` : ''}; ` +
      `${result.kept.blobs} blobs kept (${formatBytes(result.kept.bytes)})\n`,
  );
}
