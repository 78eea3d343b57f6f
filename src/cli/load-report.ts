/** How `airgap load` reports: blobs uploaded, mounted or present, images pushed, charms unpacked. */
import type { LoadEvent } from '../load/events.ts';
import type { LoadResult } from '../load/load.ts';
import type { DockerLoadResult } from '../load/via-docker.ts';
import { formatBytes } from '../util/format-bytes.ts';
import { printable } from '../util/printable.ts';
import { Gate, runListr, type Task } from './listr.ts';
import { jsonReporter, linesOf, type Lines, type Reporter, type ReporterForms } from './reporter.ts';

/** The command's last event: what was pushed, through the registry API or through the Docker daemon. */
export type LoadedEvent =
  | { type: 'loaded'; result: LoadResult; registry: string }
  | { type: 'loaded-via-docker'; result: DockerLoadResult; registry: string; lock: boolean };

export type LoadReport = LoadEvent | LoadedEvent;

/** The closing lines. */
function writeLoaded(event: LoadedEvent, lines: Lines): void {
  if (event.type === 'loaded') {
    const { result } = event;
    const present = result.images.filter((i) => i.alreadyPresent).length;
    lines.out(
      `Loaded ${result.images.length} images${result.referrers.length === 0 ? '' : ` and ${result.referrers.length} referrers`} into ${event.registry}${result.lock === 'none' ? ' without a lock (--no-lock)' : ''}` +
        `${result.aliases.length === 0 ? '' : `, ${result.aliases.length} of them also under library/ for a Docker Hub mirror`}` +
        `${present > 0 ? ` (${present} already there)` : ''}: ${result.uploadedBlobs} blobs uploaded (${formatBytes(result.uploadedBytes)}), ` +
        `${result.mountedBlobs} mounted, ${result.skippedBlobs} already present`,
    );
    lines.out(`  ${result.imagesMap}`);
    if (result.charmsDir !== undefined) lines.out(`  ${result.charms.length} files unpacked into ${result.charmsDir}`);
    return;
  }
  const { result } = event;
  lines.out(
    `Pushed ${result.images.length} images into ${event.registry} through the Docker daemon at ${result.daemon.host}${event.lock ? '' : ' without a lock (--no-lock)'}` +
      `${result.skipped.length > 0 ? ` (${result.skipped.length} pinned by digest skipped)` : ''}: ` +
      `${result.changedDigests.length} with a digest other than the lock's`,
  );
  lines.out(`  ${result.imagesMap}`);
  if (result.charmsDir !== undefined) lines.out(`  ${result.charms.length} files unpacked into ${result.charmsDir}`);
}

/** Off a terminal: one line per event that matters. */
function plainLoadReporter(lines: Lines): Reporter<LoadReport> {
  return {
    onEvent(event) {
      switch (event.type) {
        case 'archive':
          if (event.images > 0 || event.layout !== 'per-image') lines.out(`archive ${event.path}: ${event.layout} layout${event.images > 0 ? `, ${event.images} images` : ''}`);
          break;
        case 'image-present':
          lines.out(`present ${event.path} ${event.digest}`);
          break;
        case 'blob-uploaded':
          lines.out(`uploaded ${event.digest} ${formatBytes(event.size)} to ${event.repository}`);
          break;
        case 'blob-skipped':
          lines.out(`${event.how} ${event.digest} in ${event.repository}`);
          break;
        case 'second-pass':
          lines.out(`reading the archive a second time (${event.blobs} blobs): ${event.reason}`);
          break;
        case 'image-pushed':
          lines.out(`pushed ${event.reference} ${event.digest}`);
          break;
        case 'alias':
          lines.out(`${event.how === 'pushed' ? 'pushed' : 'present'} ${event.reference} ${event.digest}, Docker Hub's library/ name of ${event.of}`);
          break;
        case 'referrer':
          lines.out(`${event.how === 'pushed' ? 'pushed' : 'present'} referrer ${event.reference}${event.reference.includes('@') ? '' : ` ${event.digest}`} of ${event.of}`);
          break;
        case 'charm':
          lines.out(`unpacked ${event.file} ${formatBytes(event.size)}`);
          break;
        case 'warning':
          lines.warning(event.message);
          break;
        case 'daemon':
          lines.out(`Docker daemon ${event.version} at ${event.host}`);
          break;
        case 'daemon-loaded':
          lines.out(`loaded ${event.reference}`);
          break;
        case 'loaded':
        case 'loaded-via-docker':
          writeLoaded(event, lines);
          break;
        default:
          break;
      }
    },
    async finish() {},
  };
}

/** listr2 on a terminal: one task counting images and blobs as they land; warnings and the closing lines after it. */
function ttyLoadReporter(lines: Lines): Reporter<LoadReport> {
  const done = new Gate();
  let task: Task | undefined;
  let images = 0;
  let pushed = 0;
  let present = 0;
  let bytes = 0;
  let uploaded = 0;
  let skipped = 0;
  let daemon: string | undefined;
  let loaded = 0;
  const startedAt = Date.now();
  const warnings: string[] = [];
  let closing: LoadedEvent | undefined;
  const show = (): void => {
    if (task === undefined) return;
    if (daemon !== undefined) {
      // Through the daemon there are no blob counts of ours: it loads, then pushes image by image.
      task.title = `Load ${images} images through the Docker daemon at ${daemon}: ${loaded} loaded, ${pushed} pushed`;
      return;
    }
    const seconds = (Date.now() - startedAt) / 1000;
    task.title = `Load ${images} images: ${pushed + present} done (${present} already there), ${uploaded} blobs uploaded (${formatBytes(bytes)}, ${formatBytes(seconds > 0 ? bytes / seconds : 0)}/s), ${skipped} skipped`;
  };
  const running = runListr([{ title: 'Load images', task: async (_ctx, t) => { task = t; await done.promise; show(); } }], { exitOnError: true });
  return {
    onEvent(event) {
      switch (event.type) {
        case 'archive':
          images += event.images;
          break;
        case 'image-present':
          present++;
          break;
        case 'image-pushed':
          pushed++;
          if (task !== undefined) task.output = printable(`${event.reference}@${event.digest}`);
          break;
        case 'alias':
          if (task !== undefined) task.output = printable(`${event.reference}, Docker Hub's library/ name of ${event.of}`);
          break;
        case 'referrer':
          if (task !== undefined) task.output = printable(`referrer ${event.reference} of ${event.of}`);
          break;
        case 'blob-progress':
          bytes += event.bytes;
          break;
        case 'blob-uploaded':
          uploaded++;
          break;
        case 'blob-skipped':
          skipped++;
          break;
        case 'second-pass':
          if (task !== undefined) task.output = printable(`reading the archive a second time: ${event.reason}`);
          break;
        case 'charm':
          if (task !== undefined) task.output = printable(`unpacked ${event.file}`);
          break;
        case 'daemon':
          daemon = printable(event.host);
          break;
        case 'daemon-loaded':
          loaded++;
          if (task !== undefined) task.output = printable(`loaded ${event.reference}`);
          break;
        case 'daemon-progress':
          if (task !== undefined) task.output = printable(event.image === undefined ? event.status : `${event.image}: ${event.status}`);
          break;
        case 'warning':
          warnings.push(event.message);
          break;
        case 'loaded':
        case 'loaded-via-docker':
          closing = event;
          break;
        default:
          break;
      }
      show();
    },
    async finish(err?: unknown) {
      if (err === undefined) done.resolve();
      else done.reject(err);
      await running;
      for (const w of warnings) lines.warning(w);
      if (closing !== undefined) writeLoaded(closing, lines);
    },
  };
}

export const loadReporters: ReporterForms<LoadReport> = {
  tty: (io) => ttyLoadReporter(linesOf(io)),
  plain: (io) => plainLoadReporter(linesOf(io)),
  // The result itself, with every warning the run gave (the daemon path's own included).
  json: (io) => jsonReporter<LoadReport>(io, (event, warnings) => (event.type === 'loaded' || event.type === 'loaded-via-docker' ? { ...event.result, warnings } : undefined)),
};
