import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pack } from 'tar-stream';

// Fixed metadata makes the same release produce the same archive bytes, run after run.
const FIXED_MTIME = new Date(0);
const TAR_BLOCK = 512;

export interface TarEntry {
  name: string;
  size: number;
  /** The bytes, for small files; otherwise `open` streams them. */
  bytes?: Buffer;
  open?: () => AsyncIterable<Buffer>;
  /** Deflate it in the .tar.gz: default for `bytes` entries; streamed ones are stored unless set. */
  compress?: boolean;
  /** Default 0644; 0755 for an executable, so a plain `tar x` keeps it runnable. */
  mode?: number;
}

/** Append one entry to a tar being packed, respecting backpressure, and wait until it is in. */
export async function appendEntry(pack: Pack, entry: TarEntry): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = pack.entry({ name: entry.name, size: entry.size, mtime: FIXED_MTIME, mode: entry.mode ?? 0o644, uid: 0, gid: 0, uname: '', gname: '' }, (err?: Error | null) => {
      if (err) reject(err);
      else resolve();
    });
    if (entry.bytes !== undefined) {
      sink.end(entry.bytes);
      return;
    }
    if (entry.open === undefined) {
      reject(new Error(`tar entry ${entry.name} has neither bytes nor a source`));
      return;
    }
    pipeline(Readable.from(entry.open(), { objectMode: false }), sink).catch(reject);
  });
}

/** The exact size of a ustar archive of these entries (headers, padding, end blocks): for nesting a tar in a tar. */
export function tarSize(entries: readonly Pick<TarEntry, 'size'>[]): number {
  let total = 2 * TAR_BLOCK;
  for (const e of entries) total += TAR_BLOCK + Math.ceil(e.size / TAR_BLOCK) * TAR_BLOCK;
  return total;
}
