import { open } from 'node:fs/promises';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { AirgapError, ArchiveError, messageOf } from '../errors.ts';
import { VerifyingStream } from '../oci/digest.ts';
import { printable } from '../util/printable.ts';
import { archiveStream, wholeFile, type ArchiveFiles } from './archive-files.ts';
import { createArchiveGunzip } from './gunzip.ts';

/**
 * One member of an archive, handed over in order. The handler reads `stream` to the end or not at all:
 * what it leaves untouched is skipped.
 */
export interface ArchiveMember {
  /** The member's name; for a tar nested in a tar, prefixed with the outer name and '!'. */
  name: string;
  /** The name inside its own tar. */
  baseName: string;
  size: number;
  /** The permission bits the tar header gives. */
  mode?: number;
  stream: AsyncIterable<Buffer>;
}

export type MemberHandler = (member: ArchiveMember) => Promise<void>;

export interface ReadResult {
  /** sha256 of the archive file as read, for comparison with the lock. */
  sha256: string;
  size: number;
}


/** Whether a file starts with the gzip magic bytes. */
export async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** Walk the members of a tar stream, descending into members that are tars themselves when `nested` says so. */
async function walkTar(source: Readable, prefix: string, handler: MemberHandler, nested: (name: string) => boolean): Promise<void> {
  const ex = extract();
  const done = pipeline(source, ex);
  // A broken stream fails both the pipeline and the loop below; the loop's error is the one reported.
  done.catch(() => {});
  for await (const entry of ex) {
    const header = entry.header;
    let consumed = false;
    const stream: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        for await (const chunk of entry) yield chunk as Buffer;
        consumed = true;
      },
    };
    if (header.type === 'file' || header.type === 'contiguous-file') {
      const name = header.name.replace(/^\.\//, '');
      if (nested(name)) await walkTar(Readable.from(stream), `${prefix}${name}!`, handler, () => false);
      else await handler({ name: `${prefix}${name}`, baseName: name, size: header.size, mode: (header.mode ?? 0o644) & 0o777, stream });
    }
    // Whatever the handler left unread is skipped, so the next member can start.
    if (!consumed) for await (const chunk of stream) void chunk;
  }
  await done;
}

/**
 * Stream an images archive (ours in either layout, or one made by `docker save`), gzip'd or not, one file
 * or the parts of `collect --split`, member by member, hashing the file as it goes. A truncated or corrupt
 * file becomes an ArchiveError that says where it broke.
 */
export async function readArchive(
  archive: string | ArchiveFiles,
  handler: MemberHandler,
  options: { signal?: AbortSignal; describeMember?: (name: string) => string } = {},
): Promise<ReadResult> {
  const files = typeof archive === 'string' ? wholeFile(archive) : archive;
  const path = files.path;
  let gzip: boolean;
  try {
    gzip = await isGzip(files.files[0]?.path ?? path);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ArchiveError(`cannot read ${path}: ${code ?? messageOf(err)}`, { cause: err, hint: 'give the archive file itself, readable by this user' });
  }
  const counter = new VerifyingStream();
  await readArchiveStream(archiveStream(files, options.signal), { path, gunzip: gzip ? createArchiveGunzip() : undefined, counter }, handler, options);
  return { sha256: counter.hasher.digest(), size: counter.hasher.bytes };
}

/** Counts what passes, hashing nothing: for a caller that hashes the bytes itself. */
export class ByteCounter extends Transform {
  bytesSeen = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytesSeen += chunk.length;
    callback(null, chunk);
  }
}

/**
 * The member walk of readArchive over any stream of the archive's bytes (`verify` feeds it what it reads
 * anyway), through `gunzip` when it is gzip'd. `counter` sees the bytes first: where a broken archive
 * broke is its count.
 */
export async function readArchiveStream(
  file: Readable,
  archive: { path: string; gunzip: Transform | undefined; counter: VerifyingStream | ByteCounter },
  handler: MemberHandler,
  options: { signal?: AbortSignal; describeMember?: (name: string) => string } = {},
): Promise<void> {
  const { path, counter } = archive;
  const tarStream = new PassThrough({ highWaterMark: 1024 * 1024 });
  let current = '';
  // What the caller's handler throws is the caller's own (a stop signal, a digest it refused): passed on as is.
  let handlerFailure: unknown;
  const feeding = archive.gunzip === undefined ? pipeline(file, counter, tarStream) : pipeline(file, counter, archive.gunzip, tarStream);
  try {
    await Promise.all([
      feeding,
      walkTar(tarStream, '', async (member) => {
        current = member.name;
        try {
          await handler(member);
        } catch (err: unknown) {
          handlerFailure = err;
          throw err;
        }
      // Our --per-image layout nests one tar per image at the root; skopeo's docker-archive keeps layers
      // as <digest>.tar at the root, and those are blobs, not archives.
      }, (name) => name.endsWith('.tar') && !name.includes('/') && !/^[a-f0-9]{64}\.tar$/.test(name)),
    ]);
  } catch (err: unknown) {
    file.destroy();
    tarStream.destroy();
    if (options.signal?.aborted) throw options.signal.reason;
    if (handlerFailure !== undefined && err === handlerFailure) throw err;
    const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
    const message = messageOf(err);
    if (code === 'Z_BUF_ERROR' || code === 'Z_DATA_ERROR' || /unexpected end|premature|truncated|Unexpected end of data/i.test(message)) {
      throw new ArchiveError(`${path} is truncated or corrupt at byte ${counter.bytesSeen}${current === '' ? '' : ` (while reading ${printable(options.describeMember?.(current) ?? current)})`}: ${message}`, {
        cause: err,
        hint: 'copy the archive across again and compare its sha256 with airgap-lock.json',
      });
    }
    if (err instanceof AirgapError) throw err;
    // A tar that is not one (Invalid tar header), or a file that cannot be read (EISDIR, EACCES): name the file.
    const what = typeof code === 'string' && code.startsWith('E') ? `cannot read ${path}: ${code}` : `${path} is not a readable tar archive${current === '' ? '' : ` (at ${printable(options.describeMember?.(current) ?? current)})`}: ${message}`;
    throw new ArchiveError(what, { cause: err, hint: 'give the archive airgap collect wrote, copied across whole (compare its sha256 with airgap-lock.json)' });
  }
}
