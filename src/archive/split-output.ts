/**
 * Where an archive's bytes go: one file, or (`collect --split SIZE`) consecutive parts NAME.000, NAME.001,
 * ... each at most SIZE bytes, plain byte slices of the one archive, so `cat NAME.* > NAME` rebuilds it.
 * Every file is written under a temporary name and renamed only when the whole archive is complete.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { basename } from 'node:path';
import { AtomicFile } from '../fs/atomic-file.ts';
import { DigestHasher } from '../oci/digest.ts';

export interface WrittenPart {
  path: string;
  size: number;
  sha256: string;
}

export interface ArchiveOutput {
  stream: Writable;
  /** Move every file into place; returns the parts (undefined for a single file). */
  commit(): Promise<WrittenPart[] | undefined>;
  discard(): Promise<void>;
}

/** The name of part `index`: suffixes of a fixed width, so that a shell glob lists them in order. */
export function partName(path: string, index: number, width: number): string {
  return `${path}.${String(index).padStart(width, '0')}`;
}

/** Width of the part suffixes for an archive of at most `maxBytes`: 3 digits, more for more than 1000 parts. */
export function partSuffixWidth(maxBytes: number, partBytes: number): number {
  return Math.max(3, String(Math.max(0, Math.ceil(maxBytes / partBytes) - 1)).length);
}

/** Is `name` a part of the archive `archiveName` (images.tar.gz.000, .001, ...)? */
export function isPartOf(name: string, archiveName: string): boolean {
  return name.startsWith(`${archiveName}.`) && /^\d{3,}$/.test(name.slice(archiveName.length + 1));
}

export function singleOutput(path: string): ArchiveOutput {
  const file = new AtomicFile(path);
  return {
    stream: file.stream(),
    commit: async () => {
      await file.commit();
      return undefined;
    },
    discard: () => file.discard(),
  };
}

/** Parts of at most `partBytes` each; `maxBytes` bounds the whole archive, to size the suffixes. */
export function splitOutput(path: string, partBytes: number, maxBytes: number): ArchiveOutput {
  const width = partSuffixWidth(maxBytes, partBytes);
  const files: AtomicFile[] = [];
  const parts: WrittenPart[] = [];
  let current: { file: AtomicFile; hasher: DigestHasher } | undefined;

  const closeCurrent = async (): Promise<void> => {
    if (current === undefined) return;
    const stream = current.file.stream();
    stream.end();
    if (!stream.writableFinished) await once(stream, 'finish');
    parts.push({ path: current.file.path, size: current.hasher.bytes, sha256: current.hasher.digest() });
    current = undefined;
  };

  const writeAll = async (chunk: Buffer): Promise<void> => {
    let rest = chunk;
    while (rest.length > 0) {
      if (current === undefined) {
        const index = files.length;
        if (String(index).length > width) throw new Error(`${basename(path)}: more parts than the ${width}-digit suffixes allow`);
        const file = new AtomicFile(partName(path, index, width));
        files.push(file);
        current = { file, hasher: new DigestHasher() };
      }
      const room = partBytes - current.hasher.bytes;
      const slice = rest.subarray(0, room);
      current.hasher.update(slice);
      const stream = current.file.stream();
      if (!stream.write(slice)) await once(stream, 'drain');
      rest = rest.subarray(slice.length);
      if (current.hasher.bytes === partBytes) await closeCurrent();
    }
  };

  const stream = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      writeAll(chunk).then(() => callback(), callback);
    },
    final(callback) {
      closeCurrent().then(() => callback(), callback);
    },
  });

  return {
    stream,
    commit: async () => {
      for (const file of files) await file.commit();
      return parts;
    },
    discard: async () => {
      for (const file of files) await file.discard();
    },
  };
}
