/**
 * The files an archive is on disk: the one file, or the parts `collect --split` wrote (images.tar.gz.000,
 * .001, ...), read in order as one stream, each part held to the size and sha256 the lock gives it as its
 * last byte passes. `load`, `serve` and `verify` read parts this way, without joining them first.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { ArchiveError } from '../errors.ts';
import { formatBytes } from '../util/format-bytes.ts';
import type { LockedArchive } from '../lock.ts';
import { DigestHasher } from '../oci/digest.ts';
import { isPartOf } from './split-output.ts';

export interface ArchiveFile {
  path: string;
  /** From the lock, when it lists the parts. */
  size?: number;
  sha256?: string;
}

export interface ArchiveFiles {
  /** The archive's own name (images.tar.gz), whether it is one file or parts. */
  path: string;
  files: ArchiveFile[];
}

const READ_BUFFER = 1024 * 1024;
export const DAMAGED_PART_HINT = 'copy that part across again (airgap verify names every damaged or missing part)';

export function wholeFile(path: string): ArchiveFiles {
  return { path, files: [{ path }] };
}

/** Is `path` (or, for a part, the archive it belongs to) an archive on disk, whole or in parts? */
export function archiveExists(path: string): boolean {
  return existsSync(path) || existsSync(`${path}.000`);
}

/** `images.tar.gz.003` -> `images.tar.gz`: a part given on the command line stands for its archive. */
export function archiveOfPart(path: string): string {
  const match = /^(.*)\.\d{3,}$/.exec(path);
  return match?.[1] !== undefined && isPartOf(basename(path), basename(match[1])) ? match[1] : path;
}

/**
 * The archive at `path` as it is on disk: the file itself when it is there (the parts joined with `cat`),
 * else its parts: those the lock lists, with their sizes and sha256, or, with no lock, those found.
 */
export async function archiveFilesOf(path: string, locked: LockedArchive | undefined): Promise<ArchiveFiles> {
  if (existsSync(path)) return wholeFile(path);
  const dir = dirname(path);
  if (locked?.parts !== undefined) {
    return { path, files: locked.parts.map((p) => ({ path: join(dir, p.file), size: p.size, sha256: p.sha256 })) };
  }
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => isPartOf(n, basename(path))).sort();
  if (names.length === 0) throw new ArchiveError(`${path} does not exist, nor any part of it (${basename(path)}.000, ...)`, { hint: 'give the directory the collect side\'s files were copied to' });
  return { path, files: names.map((n) => ({ path: join(dir, n) })) };
}

/** Every part there with the size the lock gives it, before a byte is read: a missing or short part stops the work before it starts. */
export async function checkArchiveFiles(archive: ArchiveFiles): Promise<void> {
  const parts = archive.files.length;
  for (const file of archive.files) {
    const info = await stat(file.path).catch(() => undefined);
    if (info === undefined || !info.isFile()) {
      throw new ArchiveError(`${file.path} is missing: the archive is in ${parts} parts and each is needed`, { hint: DAMAGED_PART_HINT });
    }
    if (file.size !== undefined && info.size !== file.size) {
      throw new ArchiveError(`${file.path} has ${formatBytes(info.size)} (${info.size} bytes), the lock says ${file.size}: it is ${info.size < file.size ? 'truncated' : 'not the part the lock lists'}`, { hint: DAMAGED_PART_HINT });
    }
  }
}

/** The archive's bytes as one stream: the parts in order, each checked against its sha256 (when known) at its end. */
export function archiveStream(archive: ArchiveFiles, signal?: AbortSignal): Readable {
  const only = archive.files[0];
  if (archive.files.length === 1 && only !== undefined && only.sha256 === undefined) {
    return createReadStream(only.path, { highWaterMark: READ_BUFFER, ...(signal === undefined ? {} : { signal }) });
  }
  async function* parts(): AsyncGenerator<Buffer> {
    for (const file of archive.files) {
      const hasher = file.sha256 === undefined ? undefined : new DigestHasher();
      for await (const chunk of createReadStream(file.path, { highWaterMark: READ_BUFFER, ...(signal === undefined ? {} : { signal }) })) {
        hasher?.update(chunk as Buffer);
        yield chunk as Buffer;
      }
      const actual = hasher?.digest();
      if (actual !== undefined && actual !== file.sha256) {
        throw new ArchiveError(`${file.path} has sha256 ${actual}, the lock says ${file.sha256 ?? ''}: this part is damaged`, { hint: DAMAGED_PART_HINT });
      }
    }
  }
  return Readable.from(parts(), { objectMode: false, highWaterMark: READ_BUFFER });
}
