/** How `airgap collect` reports: the release read, each image resolved and written, the archives, the lock. */
import type { CollectResult } from '../collect/collect.ts';
import type { CollectEvent } from '../collect/events.ts';
import type { ReleaseListing } from '../collect/list.ts';
import { formatBytes } from '../util/format-bytes.ts';
import { printable } from '../util/printable.ts';
import { Gate, runListr, settleAll, type Task } from './listr.ts';
import { jsonReporter, linesOf, type Lines, type Reporter, type ReporterForms } from './reporter.ts';

/** The command's last event: the three files written. */
export interface CollectedEvent {
  type: 'collected';
  result: CollectResult;
  /** --with-referrers: the closing line counts them. */
  withReferrers: boolean;
}

export type CollectReport = CollectEvent | CollectedEvent;

function rate(bytes: number, startedAt: number): string {
  const seconds = (Date.now() - startedAt) / 1000;
  return seconds > 0 ? `${formatBytes(bytes / seconds)}/s` : '';
}

/** The closing lines: how much, and where the three files are. */
function writeCollected({ result, withReferrers }: CollectedEvent, lines: Lines): void {
  const referrers = result.lock.images.reduce((n, i) => n + (i.referrers?.length ?? 0), 0);
  lines.out(`Collected ${result.lock.images.length} images${withReferrers ? ` with ${referrers} referrers` : ''} (${formatBytes(result.uniqueBlobBytes)} of distinct blobs) and ${result.lock.charms.length} charms`);
  lines.out(`  ${result.images.path}  ${formatBytes(result.images.size)}`);
  lines.out(`  ${result.charms.path}  ${formatBytes(result.charms.size)}${result.lock.tools === undefined ? '' : ` (with ${result.lock.tools.map((t) => t.file).join(', ')})`}`);
  lines.out(`  ${result.lockPath}`);
}

/** Off a terminal (CI, a log file): one plain line per event that matters, nothing redrawn. */
function plainCollectReporter(lines: Lines): Reporter<CollectReport> {
  let firstWrite: number | undefined;
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
        case 'archive-written':
          lines.out(`wrote ${event.path} ${formatBytes(event.size)}${firstWrite === undefined ? '' : ` (${rate(event.size, firstWrite)})`} ${event.sha256}`);
          break;
        case 'collected':
          writeCollected(event, lines);
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
  let images: { path: string; bytes: number }[] = [];
  const warnings: string[] = [];
  let collected: CollectedEvent | undefined;

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
        task: (_ctx, task) =>
          task.newListr(
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
          ),
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
      if (collected !== undefined) writeCollected(collected, lines);
    },
  };
}

export const collectReporters: ReporterForms<CollectReport> = {
  tty: (io) => ttyCollectReporter(linesOf(io)),
  plain: (io) => plainCollectReporter(linesOf(io)),
  json: (io) =>
    jsonReporter<CollectReport>(io, (event, warnings) => {
      if (event.type !== 'collected') return undefined;
      const { result } = event;
      return {
        lock: result.lockPath,
        images: result.lock.images.map((i) => ({ reference: i.reference, upstream: i.upstream, path: i.path, digest: i.digest, size: i.size, platforms: i.platforms, ...(i.reason === undefined ? {} : { reason: i.reason }), ...(i.referrers === undefined ? {} : { referrers: i.referrers }) })),
        archives: { images: result.images, charms: result.charms },
        ...(result.lock.tools === undefined ? {} : { tools: result.lock.tools }),
        uniqueBlobBytes: result.uniqueBlobBytes,
        warnings,
      };
    }),
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
