import { Listr, type ListrTaskWrapper, type ListrDefaultRenderer, type ListrSimpleRenderer } from 'listr2';
import type { CollectEvent } from '../collect/events.ts';
import { formatBytes } from '../util/format-bytes.ts';
import { printable } from '../util/printable.ts';

/** A promise that an event settles, for a listr2 task that mirrors a step of the library's work. */
class Gate {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  settled = false;
  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = () => {
        this.settled = true;
        resolve();
      };
      this.reject = (err: unknown) => {
        this.settled = true;
        reject(err);
      };
    });
    // Failures are reported by the library's own promise; an unwatched gate must not crash the process.
    this.promise.catch(() => {});
  }
}

export interface CollectRenderer {
  onEvent(event: CollectEvent): void;
  /** Wait until the display has drawn the end, then let the caller print the summary. */
  finish(err?: unknown): Promise<void>;
}

function rate(bytes: number, startedAt: number): string {
  const seconds = (Date.now() - startedAt) / 1000;
  return seconds > 0 ? `${formatBytes(bytes / seconds)}/s` : '';
}

type AnyTask = ListrTaskWrapper<unknown, typeof import('listr2').DefaultRenderer, typeof import('listr2').SimpleRenderer>;

/** listr2 on a terminal: a task per step, a subtask per image with bytes and rate. */
export function listrCollectRenderer(): CollectRenderer {
  const release = new Gate();
  const resolved = new Gate();
  const charms = new Gate();
  const imageGates = new Map<string, Gate>();
  const imageBytes = new Map<string, { total: number; done: number; startedAt: number; task?: AnyTask }>();
  let resolvedCount = 0;
  let total = 0;
  let resolveTask: AnyTask | undefined;
  let releaseTitle = 'Read release';
  let charmsTask: AnyTask | undefined;
  let images: { path: string; bytes: number }[] = [];

  const list = new Listr<unknown, ListrDefaultRenderer, ListrSimpleRenderer>(
    [
      { title: 'Read release', task: async (_ctx, task) => { await release.promise; task.title = releaseTitle; } },
      {
        title: 'Resolve manifests',
        task: async (_ctx, task) => {
          resolveTask = task as unknown as AnyTask;
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
              task: async (_c: unknown, sub: AnyTask) => {
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
      { title: 'Write charms.tar.gz', task: async (_ctx, task) => { charmsTask = task as unknown as AnyTask; await charms.promise; } },
    ],
    { concurrent: false, exitOnError: true, rendererOptions: { collapseErrors: false, showErrorMessage: false } },
  );
  const running = list.run().catch(() => {});

  const failAll = (err: unknown): void => {
    for (const gate of [release, resolved, charms, ...imageGates.values()]) if (!gate.settled) gate.reject(err);
  };

  return {
    onEvent(event) {
      switch (event.type) {
        case 'release':
          total = event.images;
          releaseTitle = printable(`Release ${event.name}${event.version === '' ? '' : ` ${event.version}`}: ${event.images} images, ${event.charms} charms`);
          release.resolve();
          break;
        case 'charm-downloaded':
          releaseTitle = `Read release: downloaded ${event.file}`;
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
        default:
          break;
      }
    },
    async finish(err?: unknown) {
      if (err !== undefined) failAll(err);
      else for (const gate of [release, resolved, charms, ...imageGates.values()]) if (!gate.settled) gate.resolve();
      await running;
    },
  };
}

/** Not a terminal (CI, a log file): one plain line per event that matters, nothing redrawn. */
export function plainCollectRenderer(writeLine: (line: string) => void): CollectRenderer {
  const write = (line: string): void => writeLine(printable(line));
  let firstWrite: number | undefined;
  return {
    onEvent(event) {
      switch (event.type) {
        case 'release-reading':
          write(`reading ${event.file}`);
          break;
        case 'release':
          write(`release ${event.name}${event.version === '' ? '' : ` ${event.version}`}: ${event.images} images, ${event.charms} charms`);
          break;
        case 'warning':
          write(`warning: ${event.message}`);
          break;
        case 'charm-downloaded':
          write(`downloaded ${event.file} for ${event.applications.join(', ')}: ${event.images} image mention(s) inside, sha256 ${event.sha256}`);
          break;
        case 'image-resolved':
          write(`resolved ${event.path} ${event.digest} ${formatBytes(event.bytes)}${event.platforms.length > 1 ? ` [${event.platforms.join(', ')}]` : ''}`);
          break;
        case 'image-failed':
          write(`failed ${event.path}: ${event.message}`);
          break;
        case 'images-resolved':
          firstWrite = Date.now();
          break;
        case 'image-written':
          write(`written ${event.path}`);
          break;
        case 'charm':
          write(`packed ${event.file} ${formatBytes(event.size)}`);
          break;
        case 'archive-written':
          write(`wrote ${event.path} ${formatBytes(event.size)}${firstWrite === undefined ? '' : ` (${rate(event.size, firstWrite)})`} ${event.sha256}`);
          break;
        default:
          break;
      }
    },
    async finish() {},
  };
}
