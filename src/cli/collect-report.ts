/** How `airgap collect` reports: the release read, each image resolved and written, the archives, the lock. */
import type { CollectResult } from '../collect/collect.ts';
import type { CollectEvent } from '../collect/events.ts';
import type { ReleaseListing } from '../collect/list.ts';
import { basename } from 'node:path';
import { describeBase } from '../archive/differential.ts';
import { formatBytes } from '../util/format-bytes.ts';
import { printable } from '../util/printable.ts';
import { Gate, runListr, settleAll, type Task } from './listr.ts';
import { jsonReporter, linesOf, type Lines, type Reporter, type ReporterForms } from './reporter.ts';
import { formatDuration, formatTransfer, formatTransferPlan } from './transfer-progress.ts';

/** The command's last event: the three files written. */
export interface CollectedEvent {
  type: 'collected';
  result: CollectResult;
  /** --with-referrers: the closing line counts them. */
  withReferrers: boolean;
}

export type CollectReport = CollectEvent | CollectedEvent;

type CacheEvent = Extract<CollectEvent, { type: 'cache' }>;

/** Off a terminal, the whole collect's progress: a line now and then for a log, not four a second. */
const PLAIN_PROGRESS_EVERY_MS = 10_000;

function cacheDamagedWarning(event: Extract<CollectEvent, { type: 'cache-damaged' }>): string {
  return `${event.message}: removed; downloading it again and writing the archive again`;
}

function rate(bytes: number, startedAt: number): string {
  const seconds = (Date.now() - startedAt) / 1000;
  return seconds > 0 ? `${formatBytes(bytes / seconds)}/s` : '';
}

function leftOutBytes(result: CollectResult): number {
  return (result.lock.leftOut ?? []).reduce((n, b) => n + b.size, 0);
}

/** The closing lines: how much, where the three files (or the parts) are, and what the cache holds now. */
function writeCollected({ result, withReferrers }: CollectedEvent, cache: CacheEvent | undefined, lines: Lines): void {
  const referrers = result.lock.images.reduce((n, i) => n + (i.referrers?.length ?? 0), 0);
  const base = result.lock.base === undefined ? '' : `, a differential archive on ${describeBase(result.lock.base)}: ${result.lock.leftOut?.length ?? 0} layers (${formatBytes(leftOutBytes(result))}) left out`;
  lines.out(`Collected ${result.lock.images.length} images${withReferrers ? ` with ${referrers} referrers` : ''} (${formatBytes(result.uniqueBlobBytes)} of distinct blobs) and ${result.lock.charms.length} charms${base}`);
  const parts = result.images.parts;
  const split = parts === undefined ? '' : ` in ${parts.length} parts: ${basename(parts[0]?.path ?? '')} to ${basename(parts[parts.length - 1]?.path ?? '')} (cat them to rebuild it)`;
  lines.out(`  ${result.images.path}  ${formatBytes(result.images.size)}${split}`);
  lines.out(`  ${result.charms.path}  ${formatBytes(result.charms.size)}${result.lock.tools === undefined ? '' : ` (with ${result.lock.tools.map((t) => t.file).join(', ')})`}`);
  lines.out(`  ${result.lockPath}`);
  if (cache !== undefined) {
    lines.out(`  cache ${cache.dir}: ${formatBytes(cache.bytes)} in ${cache.blobs} blobs${cache.partialBytes > 0 ? `, ${formatBytes(cache.partialBytes)} of unfinished downloads` : ''} (airgap cache prune frees it)`);
  }
}

/** Off a terminal (CI, a log file): one plain line per event that matters, nothing redrawn. */
function plainCollectReporter(lines: Lines): Reporter<CollectReport> {
  let firstWrite: number | undefined;
  let lastProgress = Date.now();
  let cache: CacheEvent | undefined;
  return {
    onEvent(event) {
      switch (event.type) {
        case 'release-reading':
          lines.out(`reading ${event.file}`);
          break;
        case 'release':
          lines.out(`release ${event.name}${event.version === '' ? '' : ` ${event.version}`}: ${event.images} images, ${event.charms} charms`);
          break;
        case 'warning':
          lines.warning(event.message);
          break;
        case 'charm-downloaded':
          lines.out(`downloaded ${event.file} for ${event.applications.join(', ')}: ${event.images} image mention(s) inside, sha256 ${event.sha256}`);
          break;
        case 'image-resolved':
          lines.out(`resolved ${event.path} ${event.digest} ${formatBytes(event.bytes)}${event.platforms.length > 1 ? ` [${event.platforms.join(', ')}]` : ''}`);
          break;
        case 'image-failed':
          lines.out(`failed ${event.path}: ${event.message}`);
          break;
        case 'images-resolved':
          firstWrite = Date.now();
          break;
        case 'referrers-found':
          lines.out(`referrers of ${event.path}: ${event.referrers}`);
          break;
        case 'image-written':
          lines.out(`written ${event.path}`);
          break;
        case 'charm':
          lines.out(`packed ${event.file} ${formatBytes(event.size)}`);
          break;
        case 'differential':
          lines.out(`differential: ${event.leftOutLayers} layers (${formatBytes(event.leftOutBytes)}) left out, carried by ${event.base}`);
          break;
        case 'transfer-plan':
          lines.out(formatTransferPlan(event));
          break;
        case 'progress':
          if (Date.now() - lastProgress >= PLAIN_PROGRESS_EVERY_MS) {
            lastProgress = Date.now();
            lines.out(`progress: ${formatTransfer(event)}`);
          }
          break;
        case 'cache-damaged':
          lines.warning(cacheDamagedWarning(event));
          break;
        case 'cache':
          cache = event;
          break;
        case 'archive-written':
          lines.out(`wrote ${event.path}${event.parts === undefined ? '' : ` in ${event.parts.length} parts`} ${formatBytes(event.size)}${firstWrite === undefined ? '' : ` (${rate(event.size, firstWrite)}, ${formatDuration((Date.now() - firstWrite) / 1000)})`} ${event.sha256}`);
          break;
        case 'collected':
          writeCollected(event, cache, lines);
          break;
        default:
          break;
      }
    },
    async finish() {},
  };
}

/**
 * listr2 on a terminal: a task per step, a subtask per image with bytes and rate. The warnings and the closing
 * lines come after its last frame.
 */
function ttyCollectReporter(lines: Lines): Reporter<CollectReport> {
  const release = new Gate();
  const resolved = new Gate();
  const charms = new Gate();
  const imageGates = new Map<string, Gate>();
  const imageBytes = new Map<string, { total: number; done: number; startedAt: number; task?: Task }>();
  let resolvedCount = 0;
  let total = 0;
  let resolveTask: Task | undefined;
  let releaseTitle = 'Read release';
  let charmsTask: Task | undefined;
  let writeTask: Task | undefined;
  let writeTitle = 'Write images.tar.gz';
  let images: { path: string; bytes: number }[] = [];
  const warnings: string[] = [];
  let collected: CollectedEvent | undefined;
  let cache: CacheEvent | undefined;

  const running = runListr(
    [
      { title: 'Read release', task: async (_ctx, task) => { await release.promise; task.title = releaseTitle; } },
      {
        title: 'Resolve manifests',
        task: async (_ctx, task) => {
          resolveTask = task;
          await resolved.promise;
          task.title = `Resolved ${images.length} images (${formatBytes(images.reduce((n, i) => n + i.bytes, 0))})`;
        },
      },
      {
        title: 'Write images.tar.gz',
        task: (_ctx, task) => {
          writeTask = task;
          task.title = writeTitle;
          return task.newListr(
            images.map((image) => ({
              title: printable(`${image.path}  ${formatBytes(image.bytes)}`),
              task: async (_c: unknown, sub: Task) => {
                const state = imageBytes.get(image.path);
                if (state !== undefined) {
                  state.task = sub;
                  state.startedAt = Date.now();
                }
                await imageGates.get(image.path)?.promise;
                sub.title = printable(`${image.path}  ${formatBytes(image.bytes)}`);
              },
            })),
            { concurrent: false, exitOnError: true, rendererOptions: { collapseSubtasks: true } },
          );
        },
      },
      { title: 'Write charms.tar.gz', task: async (_ctx, task) => { charmsTask = task; await charms.promise; } },
    ],
    { concurrent: false, exitOnError: true },
  );

  return {
    onEvent(event) {
      switch (event.type) {
        case 'release':
          total = event.images;
          releaseTitle = printable(`Release ${event.name}${event.version === '' ? '' : ` ${event.version}`}: ${event.images} images, ${event.charms} charms`);
          release.resolve();
          break;
        case 'charm-downloaded':
          releaseTitle = printable(`Read release: downloaded ${event.file}`);
          break;
        case 'image-resolved':
          resolvedCount++;
          if (resolveTask !== undefined) resolveTask.output = printable(`${resolvedCount}/${total} ${event.path}`);
          break;
        case 'images-resolved':
          images = event.images;
          for (const image of images) {
            imageGates.set(image.path, new Gate());
            imageBytes.set(image.path, { total: image.bytes, done: 0, startedAt: Date.now() });
          }
          resolved.resolve();
          break;
        case 'blob-progress': {
          const state = imageBytes.get(event.path);
          if (state !== undefined) {
            state.done += event.bytes;
            if (state.task !== undefined) state.task.output = `${formatBytes(state.done)} / ${formatBytes(state.total)}  ${rate(state.done, state.startedAt)}`;
          }
          break;
        }
        case 'image-written':
          imageGates.get(event.path)?.resolve();
          break;
        case 'archive-written':
          if (!event.path.endsWith('images.tar.gz')) charms.resolve();
          break;
        case 'charm':
          if (charmsTask !== undefined) charmsTask.output = printable(event.file);
          break;
        case 'transfer-plan':
          writeTitle = printable(`Write images.tar.gz (${formatTransferPlan(event)})`);
          if (writeTask !== undefined) writeTask.title = writeTitle;
          break;
        case 'progress':
          if (writeTask !== undefined) writeTask.title = printable(`Write images.tar.gz: ${formatTransfer(event)}`);
          break;
        case 'cache-damaged':
          warnings.push(cacheDamagedWarning(event));
          if (writeTask !== undefined) writeTask.output = printable(`cached layer ${event.digest} was damaged: downloading it again and writing the archive again`);
          break;
        case 'cache':
          cache = event;
          break;
        case 'warning':
          warnings.push(event.message);
          break;
        case 'collected':
          collected = event;
          break;
        default:
          break;
      }
    },
    async finish(err?: unknown) {
      settleAll([release, resolved, charms, ...imageGates.values()], err);
      await running;
      for (const w of warnings) lines.warning(w);
      if (collected !== undefined) writeCollected(collected, cache, lines);
    },
  };
}

/** The json form keeps the cache's last word for the document. */
function jsonCollectReporter(io: Parameters<ReporterForms<CollectReport>['json']>[0]): Reporter<CollectReport> {
  let cache: CacheEvent | undefined;
  return jsonReporter<CollectReport>(
    io,
    (event, warnings) => {
      if (event.type === 'cache') cache = event;
      if (event.type !== 'collected') return undefined;
      const { result } = event;
      return {
        lock: result.lockPath,
        images: result.lock.images.map((i) => ({ reference: i.reference, upstream: i.upstream, path: i.path, digest: i.digest, size: i.size, platforms: i.platforms, ...(i.reason === undefined ? {} : { reason: i.reason }), ...(i.referrers === undefined ? {} : { referrers: i.referrers }) })),
        archives: { images: result.images, charms: result.charms },
        ...(result.lock.base === undefined ? {} : { base: result.lock.base, leftOut: { layers: result.lock.leftOut?.length ?? 0, bytes: leftOutBytes(result) } }),
        ...(cache === undefined ? {} : { cache: { dir: cache.dir, blobs: cache.blobs, bytes: cache.bytes, partialBytes: cache.partialBytes } }),
        ...(result.lock.tools === undefined ? {} : { tools: result.lock.tools }),
        uniqueBlobBytes: result.uniqueBlobBytes,
        warnings,
      };
    },
    (event) => (event.type === 'warning' ? event.message : event.type === 'cache-damaged' ? cacheDamagedWarning(event) : undefined),
  );
}

export const collectReporters: ReporterForms<CollectReport> = {
  tty: (io) => ttyCollectReporter(linesOf(io)),
  plain: (io) => plainCollectReporter(linesOf(io)),
  json: jsonCollectReporter,
};

/** `collect --list`'s one event: the plan, nothing pulled. */
export interface ListedEvent {
  type: 'listed';
  listing: ReleaseListing;
}

/** Every image with where it is found, every charm with its revision, sha256 and size. */
function writeListing(listing: ReleaseListing, lines: Lines): void {
  lines.out(`${listing.name}${listing.version === '' ? '' : ` ${listing.version}`}: ${listing.images.length} images, ${listing.charms.length} charms downloaded (nothing pulled, nothing written)`);
  for (const image of listing.images) {
    const via = image.pullFrom.length === 1 && image.pullFrom[0] === image.upstream ? '' : `  (pulled from ${image.pullFrom.join(', then ')})`;
    lines.out(`${image.reference}${via}`);
    if (image.reason !== undefined) lines.out(`    added by airgap: ${image.reason}`);
    for (const s of image.sources) {
      lines.out(`    ${s.applications === undefined ? '' : `${s.applications.join(', ')}: `}${s.file}${s.line === undefined ? '' : `:${s.line}`} ${s.key}`);
    }
  }
  if (listing.charms.length > 0) lines.out('charms:');
  for (const c of listing.charms) {
    lines.out(`  ${c.file}  ${c.applications.join(', ')}  ${c.charm}${c.channel === undefined ? '' : ` ${c.channel}`}${c.revision === undefined ? '' : ` revision ${c.revision}`}  sha256:${c.sha256}  ${formatBytes(c.size)}`);
  }
}

/** The listing is the output: printed when the plan is made (on a terminal too: it is meant to be read, or kept). */
function plainListingReporter(lines: Lines): Reporter<ListedEvent> {
  return {
    onEvent({ listing }) {
      for (const w of listing.warnings) lines.warning(w);
      writeListing(listing, lines);
    },
    async finish() {},
  };
}

export const listingReporters: ReporterForms<ListedEvent> = {
  tty: (io) => plainListingReporter(linesOf(io)),
  plain: (io) => plainListingReporter(linesOf(io)),
  json: (io) => jsonReporter<ListedEvent>(io, ({ listing }) => ({ images: listing.images, charms: listing.charms, warnings: listing.warnings })),
};
