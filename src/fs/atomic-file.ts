import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AirgapError } from '../errors.ts';
import { formatBytes } from '../util/format-bytes.ts';

/**
 * A file written under a temporary name beside its final one and renamed only when complete, so an
 * interrupted or failed write never leaves a file under the final name.
 */
export class AtomicFile {
  readonly path: string;
  readonly tempPath: string;
  #stream: WriteStream | undefined;

  /** `tempPath`, on the same file system, for a caller that sweeps its own temporary files (serve's store). */
  constructor(path: string, tempPath?: string) {
    this.path = path;
    // The pid keeps two concurrent runs from sharing a temp file; the dot hides it from casual `ls`.
    this.tempPath = tempPath ?? join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
  }

  stream(): WriteStream {
    this.#stream ??= createWriteStream(this.tempPath, { highWaterMark: 1024 * 1024 });
    return this.#stream;
  }

  /** Flush to disk and move into place. */
  async commit(): Promise<void> {
    const handle = await open(this.tempPath, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(this.tempPath, this.path);
  }

  /**
   * The whole file at once (a lock, a bundle, a map): written, flushed and moved into place; on any failure
   * the temporary file is removed before the error goes on, so nothing of the attempt is left behind.
   */
  async writeText(content: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
    try {
      await writeFile(this.tempPath, content, options.mode === undefined ? {} : { mode: options.mode });
      await this.commit();
    } catch (err: unknown) {
      await this.discard();
      throw err;
    }
  }

  async discard(): Promise<void> {
    const stream = this.#stream;
    // The stream may still be opening its file: remove it only once closed, or the open recreates it after rm.
    if (stream !== undefined && !stream.closed) {
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.destroy();
      });
    }
    await rm(this.tempPath, { force: true });
  }
}

/** Turn a write failure into the operator's words: a full disk says how much room was needed. */
export async function describeWriteFailure(err: unknown, path: string, bytesNeeded: number | undefined): Promise<AirgapError | undefined> {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    let free = '';
    try {
      const stats = await statfs(dirname(path));
      free = `, ${formatBytes(stats.bavail * stats.bsize)} free`;
    } catch {
      // The free-space figure is a courtesy; the error stands without it.
    }
    const needed = bytesNeeded === undefined ? '' : ` (needs about ${formatBytes(bytesNeeded)}${free})`;
    return new AirgapError(`no space left on the disk writing ${path}${needed}; nothing was left under the final name`, {
      cause: err,
      hint: 'free some space or choose another directory with -o, then re-run',
    });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new AirgapError(`cannot write ${path}: permission denied`, { cause: err, hint: 'choose a writable directory with -o' });
  }
  return undefined;
}
