/**
 * How `airgap cache prune` reports. Pruning takes a moment and has nothing to watch, so on a terminal it
 * prints what it prints elsewhere (the tty form is the plain one).
 */
import type { PruneResult } from '../cache/prune.ts';
import { formatBytes } from '../util/format-bytes.ts';
import { jsonReporter, linesOf, type Lines, type Reporter, type ReporterForms } from './reporter.ts';

/** The command's one event: what was (or would be) removed, what is kept. */
export interface PrunedEvent {
  type: 'pruned';
  result: PruneResult;
}

function plainPruneReporter(lines: Lines): Reporter<PrunedEvent> {
  return {
    onEvent({ result }) {
      const verb = result.dryRun ? 'would remove' : 'removed';
      for (const lock of result.locks) lines.out(`keeping ${lock.release}: ${lock.blobs} blobs (${lock.path})`);
      lines.out(
        `${result.dir}: ${verb} ${result.removed.blobs} blobs (${formatBytes(result.removed.bytes)})` +
          `${result.partialBytes > 0 ? ` and ${formatBytes(result.partialBytes)} of unfinished downloads` : ''}; ` +
          `${result.kept.blobs} blobs kept (${formatBytes(result.kept.bytes)})`,
      );
    },
    async finish() {},
  };
}

export const pruneReporters: ReporterForms<PrunedEvent> = {
  tty: (io) => plainPruneReporter(linesOf(io)),
  plain: (io) => plainPruneReporter(linesOf(io)),
  json: (io) => jsonReporter<PrunedEvent>(io, ({ result }) => result),
};
