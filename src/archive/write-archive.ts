import { pipeline } from 'node:stream/promises';
import { pack as createPack, type Pack } from 'tar-stream';
import { describeWriteFailure } from '../fs/atomic-file.ts';
import { createArchiveGzip, HashingCounter } from './gzip-output.ts';
import { singleOutput, splitOutput, type WrittenPart } from './split-output.ts';
import { appendEntry, tarSize, type TarEntry } from './tar-entry.ts';

export interface WrittenArchive {
  path: string;
  sha256: string;
  size: number;
  /** With `split`: the parts, in order, that `cat` joins into the archive. */
  parts?: WrittenPart[];
}

/** `collect --split`: parts of at most `partBytes`; `maxBytes` bounds the archive (it sizes the part suffixes). */
export interface SplitOptions {
  partBytes: number;
  maxBytes: number;
}

/**
 * Write a .tar.gz from entries produced by `fill`, streaming, under a temporary name renamed on success.
 * `fill` appends entries with `append`. Small buffered entries, and streamed ones marked `compress`, are
 * deflated; other streamed entries (layers, charms: already compressed) are stored (see ArchiveGzip).
 */
export async function writeTarGz(
  path: string,
  fill: (append: (entry: TarEntry) => Promise<void>) => Promise<void>,
  options: { expectedBytes?: number; signal?: AbortSignal; split?: SplitOptions } = {},
): Promise<WrittenArchive> {
  const output = options.split === undefined ? singleOutput(path) : splitOutput(path, options.split.partBytes, options.split.maxBytes);
  const pack: Pack = createPack();
  const gzip = createArchiveGzip();
  const counter = new HashingCounter();
  // The tar offset where the next entry starts: compressed ranges are byte offsets, so output is reproducible.
  let tarOffset = 0;
  const written = pipeline(pack, gzip, counter, output.stream, ...(options.signal === undefined ? [] : [{ signal: options.signal }]));
  const append = async (entry: TarEntry): Promise<void> => {
    const length = tarSize([entry]) - tarSize([]);
    if (entry.compress ?? entry.bytes !== undefined) gzip.compress(tarOffset, tarOffset + length);
    tarOffset += length;
    await appendEntry(pack, entry);
  };
  let parts: WrittenPart[] | undefined;
  try {
    await Promise.all([
      (async () => {
        try {
          await fill(append);
          pack.finalize();
        } catch (err: unknown) {
          pack.destroy(err instanceof Error ? err : new Error(String(err)));
          throw err;
        }
      })(),
      written,
    ]);
    parts = await output.commit();
  } catch (err: unknown) {
    await output.discard();
    throw (await describeWriteFailure(err, path, options.expectedBytes)) ?? err;
  }
  return { path, sha256: counter.digest(), size: counter.bytes, ...(parts === undefined ? {} : { parts }) };
}
