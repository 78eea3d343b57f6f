import { defaultCacheDir } from '../cache/blob-cache.ts';
import { pruneCache } from '../cache/prune.ts';
import { pruneReporters } from '../cli/cache-report.ts';
import type { CachePruneCommandOptions } from '../cli/command-line.ts';
import { reporterFor, reporting } from '../cli/reporter.ts';
import type { CommandIo } from './io.ts';

/** `airgap cache prune [--keep-lock LOCK]...`: what was removed, what is kept, on stdout. */
export async function cachePruneCommand(options: CachePruneCommandOptions, io: CommandIo): Promise<void> {
  const reporter = reporterFor(pruneReporters, io, options.json);
  await reporting(reporter, async () => {
    const result = await pruneCache({ cacheDir: options.cache ?? defaultCacheDir(), keepLocks: options.keepLock, dryRun: options.dryRun });
    reporter.onEvent({ type: 'pruned', result });
  });
}
