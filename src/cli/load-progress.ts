import { Listr, type ListrTaskWrapper, type ListrDefaultRenderer, type ListrSimpleRenderer, type DefaultRenderer, type SimpleRenderer } from 'listr2';
import { formatBytes } from '../util/format-bytes.ts';
import type { LoadEvent } from '../load/events.ts';
import { printable } from '../util/printable.ts';

export interface LoadRenderer {
  onEvent(event: LoadEvent): void;
  finish(err?: unknown): Promise<void>;
}

type Task = ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>;

/** listr2 on a terminal: reading and pushing blobs, then images as their tags land. */
export function listrLoadRenderer(): LoadRenderer {
  let settle!: (err?: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => {
    settle = (err?: unknown) => (err === undefined ? resolve() : reject(err));
  });
  finished.catch(() => {});
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
  const list = new Listr<unknown, ListrDefaultRenderer, ListrSimpleRenderer>(
    [{ title: 'Load images', task: async (_ctx, t) => { task = t as unknown as Task; await finished; show(); } }],
    { rendererOptions: { showErrorMessage: false } },
  );
  const running = list.run().catch(() => {});
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
        default:
          break;
      }
      show();
    },
    async finish(err?: unknown) {
      settle(err);
      await running;
    },
  };
}

/** Off a terminal: one line per event that matters. */
export function plainLoadRenderer(writeLine: (line: string) => void): LoadRenderer {
  const write = (line: string): void => writeLine(printable(line));
  return {
    onEvent(event) {
      switch (event.type) {
        case 'archive':
          if (event.images > 0 || event.layout !== 'per-image') write(`archive ${event.path}: ${event.layout} layout${event.images > 0 ? `, ${event.images} images` : ''}`);
          break;
        case 'image-present':
          write(`present ${event.path} ${event.digest}`);
          break;
        case 'blob-uploaded':
          write(`uploaded ${event.digest} ${formatBytes(event.size)} to ${event.repository}`);
          break;
        case 'blob-skipped':
          write(`${event.how} ${event.digest} in ${event.repository}`);
          break;
        case 'second-pass':
          write(`reading the archive a second time (${event.blobs} blobs): ${event.reason}`);
          break;
        case 'image-pushed':
          write(`pushed ${event.reference} ${event.digest}`);
          break;
        case 'charm':
          write(`unpacked ${event.file} ${formatBytes(event.size)}`);
          break;
        case 'warning':
          write(`warning: ${event.message}`);
          break;
        case 'daemon':
          write(`Docker daemon ${event.version} at ${event.host}`);
          break;
        case 'daemon-loaded':
          write(`loaded ${event.reference}`);
          break;
        default:
          break;
      }
    },
    async finish() {},
  };
}
