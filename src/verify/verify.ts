/**
 * `airgap verify [DIR]`: the carried files checked offline, before anything is pushed: every part and both
 * archives against the lock (size, sha256), every blob of images.tar.gz against its digest, every charm
 * against the lock. Each byte is read once: the same read feeds the file hashes and the archive's walk. A
 * problem does not stop the check: it names each damaged or missing file, each damaged or missing blob and
 * the images that need it, so one run says everything to copy again.
 */
import { once } from 'node:events';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough, type Transform } from 'node:stream';
import { constants as zlibConstants, crc32 } from 'node:zlib';
import { archiveOfPart } from '../archive/archive-files.ts';
import { blobDigestOfMember } from '../archive/image-layout.ts';
import { describeBase } from '../archive/differential.ts';
import { ByteCounter, isGzip, readArchiveStream, type ArchiveMember } from '../archive/read-archive.ts';
import { AirgapError, messageOf } from '../errors.ts';
import { LOCK_FILE_NAME, readLock, type Lock } from '../lock.ts';
import { DigestHasher } from '../oci/digest.ts';
import { ArchiveContents } from '../load/archive-contents.ts';
import { TransferMeter } from '../collect/transfer-meter.ts';
import { createArchiveGunzip } from '../archive/gunzip.ts';

const IMAGES_ARCHIVE = 'images.tar.gz';
const CHARMS_ARCHIVE = 'charms.tar.gz';
const READ_BUFFER = 1024 * 1024;
const SMALL_MEMBER_BYTES = 4 * 1024 * 1024;

export type FileStatus = 'ok' | 'missing' | 'corrupt';

/** One file on disk (a part, an archive) against what the lock says of it. */
export interface FileResult {
  file: string;
  status: FileStatus;
  /** `images.tar.gz (its parts joined)`: the archive the parts make, checked as a whole. */
  joined?: boolean;
  size: number | undefined;
  expectedSize: number;
  sha256: string | undefined;
  expectedSha256: string;
  detail?: string;
}

export type ContentStatus = 'corrupt' | 'missing' | 'unread';

/** A blob of images.tar.gz, or a charm of charms.tar.gz, that is not as the lock says. */
export interface ContentProblem {
  /** A blob digest, or a charm's file name. */
  name: string;
  kind: 'blob' | 'charm' | 'image';
  size: number | undefined;
  status: ContentStatus;
  /** The images that need the blob. */
  images: string[];
  detail: string;
}

export interface VerifyReport {
  dir: string;
  lock: string;
  release: string;
  ok: boolean;
  files: FileResult[];
  blobs: { expected: number; checked: number };
  charms: { expected: number; checked: number };
  problems: ContentProblem[];
  /** Images that need a blob that is damaged, missing or could not be read. */
  images: string[];
  /** Where an archive could not be read further (what follows is `unread`). */
  breaks: { archive: string; detail: string }[];
  /** A differential archive: its base release, and how many layers it leaves out (not checked here). */
  base?: { release: string; leftOut: number };
}

export type VerifyEvent =
  | { type: 'verify-start'; lock: string; release: string; files: string[]; bytes: number }
  | { type: 'file-checked'; result: FileResult }
  | { type: 'progress'; read: number; total: number; bytesPerSecond: number | undefined; secondsLeft: number | undefined };

export interface VerifyOptions {
  /** The directory holding the lock and the archives (or one of the archives, or a part). */
  source: string;
  signal?: AbortSignal;
  onEvent?: (event: VerifyEvent) => void;
}

interface Expected {
  path: string;
  size: number;
  sha256: string;
}

/** What a walk of one archive found: each member by name, and where the walk broke, if it did. */
interface Walk {
  broken: string | undefined;
}

export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  const emit = options.onEvent ?? (() => {});
  const full = archiveOfPart(resolve(options.source));
  const dir = existsSync(full) && (await stat(full)).isDirectory() ? full : dirname(full);
  const lockPath = join(dir, LOCK_FILE_NAME);
  if (!existsSync(lockPath)) {
    throw new AirgapError(`no ${LOCK_FILE_NAME} in ${dir}: verify checks the archives against the lock of their collect`, { hint: `copy ${LOCK_FILE_NAME} beside the archives` });
  }
  const lock = await readLock(lockPath);
  const release = `${lock.name}${lock.version === '' ? '' : ` ${lock.version}`}`;
  const images = imagesFiles(dir, lock);
  const charms = lock.archives[CHARMS_ARCHIVE] === undefined ? undefined : { path: join(dir, CHARMS_ARCHIVE), size: lock.archives[CHARMS_ARCHIVE].size, sha256: lock.archives[CHARMS_ARCHIVE].sha256 };
  const all = [...images.files, ...(charms === undefined ? [] : [charms])];
  const sizes = await Promise.all(all.map(async (f) => (await stat(f.path).catch(() => undefined))?.size ?? 0));
  const total = sizes.reduce((n, s) => n + s, 0);
  emit({ type: 'verify-start', lock: lockPath, release, files: all.map((f) => f.path), bytes: total });
  const meter = new TransferMeter({ downloadTotal: 0, writeTotal: total, fromCache: 0 }, (s) => emit({ type: 'progress', read: s.written, total, bytesPerSecond: s.writeBytesPerSecond, secondsLeft: s.secondsLeft }));

  const files: FileResult[] = [];
  const problems: ContentProblem[] = [];
  const report = (result: FileResult): void => {
    files.push(result);
    emit({ type: 'file-checked', result });
  };

  // images.tar.gz: its blobs, by digest, against the lock's list (or, from an older lock, the archive's own manifests).
  const leftOut = new Set((lock.leftOut ?? []).map((b) => b.digest));
  const expectedBlobs = new Map((lock.blobs ?? []).filter((b) => !leftOut.has(b.digest)).map((b) => [b.digest, b]));
  const contents = new ArchiveContents();
  const seen = new Set<string>();
  const imagesWalk = await walkFiles(images.files, images.joined, report, meter, options.signal, async (member) => {
    const digest = blobDigestOfMember(member.baseName);
    if (member.baseName === 'index.json' || (digest !== undefined && member.size <= SMALL_MEMBER_BYTES && lock.blobs === undefined)) {
      const bytes = await readSmall(member);
      if (member.baseName === 'index.json') {
        checkIndex(contents, bytes, member.name, lock, problems);
        return;
      }
      if (digest !== undefined) {
        checkBlob(digest, bytes.length, hashOf([bytes]), expectedBlobs, seen, problems, contents);
        contents.addManifestDocument(digest, bytes);
      }
      return;
    }
    if (digest === undefined) return;
    const hasher = new DigestHasher();
    for await (const chunk of member.stream) hasher.update(chunk);
    checkBlob(digest, hasher.bytes, hasher.digest(), expectedBlobs, seen, problems, contents);
  });
  // Blobs never met: missing if the archive was read to its end, unread if it broke first.
  const wanted = lock.blobs !== undefined ? [...expectedBlobs.values()] : [...contents.blobSizes.entries()].map(([digest, size]) => ({ digest, size, images: [...(contents.blobUsers.get(digest) ?? [])] }));
  for (const blob of wanted) {
    if (seen.has(blob.digest)) continue;
    problems.push({
      name: blob.digest, kind: 'blob', size: blob.size, status: imagesWalk.broken === undefined ? 'missing' : 'unread', images: blob.images,
      detail: imagesWalk.broken === undefined ? 'not in the archive' : `not reached: ${IMAGES_ARCHIVE} cannot be read that far`,
    });
  }

  // charms.tar.gz: every charm and tool the lock lists, by sha256.
  const lockedFiles = [...lock.charms.map((c) => ({ file: c.file, sha256: c.sha256, size: c.size })), ...(lock.tools ?? []).map((t) => ({ file: t.file, sha256: t.sha256, size: t.size }))];
  const charmsSeen = new Set<string>();
  let charmsWalk: Walk = { broken: undefined };
  if (charms !== undefined) {
    charmsWalk = await walkFiles([charms], undefined, report, meter, options.signal, async (member) => {
      const locked = lockedFiles.find((c) => c.file === member.baseName);
      if (locked === undefined) return;
      const hasher = new DigestHasher();
      for await (const chunk of member.stream) hasher.update(chunk);
      charmsSeen.add(locked.file);
      const actual = hasher.digest().replace(/^sha256:/, '');
      if (actual !== locked.sha256) problems.push({ name: locked.file, kind: 'charm', size: locked.size, status: 'corrupt', images: [], detail: `sha256 is ${actual}, the lock says ${locked.sha256}` });
    });
  }
  for (const c of lockedFiles) {
    if (charmsSeen.has(c.file)) continue;
    const broken = charms === undefined ? 'charms.tar.gz is not in the lock' : charmsWalk.broken;
    problems.push({ name: c.file, kind: 'charm', size: c.size, status: broken === undefined ? 'missing' : 'unread', images: [], detail: broken === undefined ? 'not in charms.tar.gz' : `not reached: ${CHARMS_ARCHIVE} cannot be read that far` });
  }

  const affected = [...new Set(problems.flatMap((p) => p.images))].sort();
  const ok = files.every((f) => f.status === 'ok') && problems.length === 0;
  return {
    dir, lock: lockPath, release, ok, files,
    blobs: { expected: wanted.length, checked: wanted.filter((b) => seen.has(b.digest)).length },
    charms: { expected: lockedFiles.length, checked: charmsSeen.size },
    problems, images: affected,
    breaks: ([[IMAGES_ARCHIVE, imagesWalk], [CHARMS_ARCHIVE, charmsWalk]] as const).flatMap(([archive, walk]) => (walk.broken === undefined ? [] : [{ archive, detail: walk.broken }])),
    ...(lock.base === undefined ? {} : { base: { release: describeBase(lock.base), leftOut: lock.leftOut?.length ?? 0 } }),
  };
}

/** images.tar.gz as the lock records it: its parts (when it was split and they are here), else the one file. */
function imagesFiles(dir: string, lock: Lock): { files: Expected[]; joined: Expected | undefined } {
  const locked = lock.archives[IMAGES_ARCHIVE];
  const whole = join(dir, IMAGES_ARCHIVE);
  if (locked === undefined) throw new AirgapError(`${join(dir, LOCK_FILE_NAME)} records no ${IMAGES_ARCHIVE}`, { hint: 'give the lock airgap collect wrote beside the archives' });
  const parts = locked.parts?.map((p) => ({ path: join(dir, p.file), size: p.size, sha256: p.sha256 }));
  const joined = { path: whole, size: locked.size, sha256: locked.sha256 };
  // Parts joined with cat (and the parts removed) are the archive itself.
  if (parts === undefined || (existsSync(whole) && !parts.some((p) => existsSync(p.path)))) return { files: [joined], joined: undefined };
  return { files: parts, joined };
}

async function readSmall(member: ArchiveMember): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of member.stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function hashOf(chunks: readonly Buffer[]): string {
  const hasher = new DigestHasher();
  for (const chunk of chunks) hasher.update(chunk);
  return hasher.digest();
}

function checkBlob(digest: string, size: number, actual: string, expected: ReadonlyMap<string, { size: number; images: string[] }>, seen: Set<string>, problems: ContentProblem[], contents: ArchiveContents): void {
  seen.add(digest);
  const locked = expected.get(digest);
  const images = locked?.images ?? [...(contents.blobUsers.get(digest) ?? [])];
  if (actual !== digest) {
    problems.push({ name: digest, kind: 'blob', size, status: 'corrupt', images, detail: `its ${size} bytes hash to ${actual}` });
  } else if (locked !== undefined && locked.size !== size) {
    problems.push({ name: digest, kind: 'blob', size, status: 'corrupt', images, detail: `${size} bytes, the lock says ${locked.size}` });
  }
}

/** The archive's index names every image of the lock with the lock's digest. */
function checkIndex(contents: ArchiveContents, bytes: Buffer, member: string, lock: Lock, problems: ContentProblem[]): void {
  let named;
  try {
    named = contents.addIndex(bytes, member);
  } catch (err: unknown) {
    problems.push({ name: member, kind: 'image', size: bytes.length, status: 'corrupt', images: lock.images.map((i) => i.path), detail: messageOf(err) });
    return;
  }
  // A --per-image archive has one index per inner tar: each is checked for the images it names.
  for (const image of named) {
    const locked = lock.images.find((i) => i.path === image.path);
    if (locked !== undefined && locked.digest !== image.digest) {
      problems.push({ name: image.path, kind: 'image', size: undefined, status: 'corrupt', images: [image.path], detail: `the archive's index says ${image.digest}, the lock ${locked.digest}` });
    }
  }
}

/**
 * Read `files` in order, once: each hashed against the lock, and the stream of all of them walked member by
 * member (`onMember`) until the end or until it breaks (a missing part, a damaged gzip stream); what comes
 * after a break is still hashed, so every damaged file is named. `joined`: the archive the files make.
 */
async function walkFiles(files: readonly Expected[], joined: Expected | undefined, report: (r: FileResult) => void, meter: TransferMeter, signal: AbortSignal | undefined, onMember: (member: ArchiveMember) => Promise<void>): Promise<Walk> {
  const walk: Walk = { broken: undefined };
  const tee = new PassThrough({ highWaterMark: READ_BUFFER });
  const first = files[0];
  // A first part that cannot be read is reported as missing below.
  const gzip = first !== undefined && (await isGzip(first.path).catch(() => false));
  // The gzip trailer (CRC and length of the content) is held back from gunzip and checked here: a damaged
  // byte would otherwise fail the trailer before the tar's last member is read, and that member (and its
  // images) would be reported unread although it is whole.
  const trailer = gzip ? new GzipTrailerCheck(await bytesOnDisk(files)) : undefined;
  const path = joined?.path ?? first?.path ?? '';
  const counter = new ByteCounter();
  const walking = readArchiveStream(tee, { path, gunzip: trailer?.gunzip, counter }, onMember, signal === undefined ? {} : { signal })
    .catch((err: unknown) => {
      // A member cut short fails in the member's own stream, in tar-stream's words: say where.
      walk.broken ??= err instanceof AirgapError ? messageOf(err) : `${path} is truncated or corrupt at byte ${counter.bytesSeen}: ${messageOf(err)}`;
    });
  // Every byte goes to its file's hash, the joined archive's hash, and the walk (until it breaks).
  const whole = joined === undefined ? undefined : new DigestHasher();
  const feed = async (chunk: Buffer): Promise<void> => {
    whole?.update(chunk);
    meter.addWritten(chunk.length);
    const content = trailer === undefined ? chunk : trailer.take(chunk);
    if (walk.broken === undefined && !tee.destroyed && !tee.write(content)) {
      await Promise.race([once(tee, 'drain').catch(() => {}), once(tee, 'close').catch(() => {}), walking]);
    }
  };
  try {
    for (const file of files) {
      signal?.throwIfAborted();
      const result = await hashFile(file, feed, signal);
      report(result);
      if (result.status === 'missing' && walk.broken === undefined) {
        walk.broken = `it cannot be read past ${basename(file.path)}, which is missing`;
        tee.destroy();
      }
    }
  } finally {
    // Stopped (Ctrl-C) or done: the walk gets its end either way.
    if (!tee.destroyed) {
      if (signal?.aborted === true) tee.destroy();
      else tee.end();
    }
  }
  await walking;
  const trailerProblem = walk.broken === undefined ? trailer?.problem() : undefined;
  if (trailerProblem !== undefined) walk.broken = trailerProblem;
  if (joined !== undefined && whole !== undefined) {
    const sha256 = whole.digest();
    const ok = sha256 === joined.sha256 && whole.bytes === joined.size;
    report({
      file: joined.path, joined: true, status: ok ? 'ok' : 'corrupt', size: whole.bytes, expectedSize: joined.size, sha256, expectedSha256: joined.sha256,
      ...(ok ? {} : { detail: `its parts joined make ${whole.bytes} bytes with sha256 ${sha256}, the lock says ${joined.size} bytes, ${joined.sha256}` }),
    });
  }
  return walk;
}

async function bytesOnDisk(files: readonly Expected[]): Promise<number> {
  let total = 0;
  for (const file of files) total += (await stat(file.path).catch(() => undefined))?.size ?? 0;
  return total;
}

const GZIP_TRAILER = 8;

/**
 * Gunzip without its own trailer check: every byte but the last 8 goes through (finishFlush: sync, so the
 * missing trailer is no error), and the trailer's CRC32 and length are compared with the content here.
 */
class GzipTrailerCheck {
  readonly gunzip: Transform;
  readonly #contentEnd: number;
  #offset = 0;
  readonly #trailer: Buffer[] = [];
  #crc = 0;
  #size = 0;

  constructor(totalBytes: number) {
    this.#contentEnd = Math.max(0, totalBytes - GZIP_TRAILER);
    this.gunzip = createArchiveGunzip({ finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const tap = (chunk: Buffer): void => {
      this.#crc = crc32(chunk, this.#crc);
      this.#size = (this.#size + chunk.length) >>> 0;
    };
    this.gunzip.on('data', tap);
  }

  /** The part of `chunk` that is content; the trailer's bytes are kept back. */
  take(chunk: Buffer): Buffer {
    const start = this.#offset;
    this.#offset += chunk.length;
    const keep = Math.max(0, Math.min(chunk.length, this.#contentEnd - start));
    if (keep < chunk.length) this.#trailer.push(chunk.subarray(keep));
    return chunk.subarray(0, keep);
  }

  problem(): string | undefined {
    const trailer = Buffer.concat(this.#trailer);
    if (trailer.length !== GZIP_TRAILER) return 'the gzip stream has no trailer: it is truncated';
    const crc = trailer.readUInt32LE(0);
    const size = trailer.readUInt32LE(4);
    if (crc !== this.#crc >>> 0 || size !== this.#size) return `the gzip trailer (CRC ${crc.toString(16)}, length ${size}) does not match the content (CRC ${(this.#crc >>> 0).toString(16)}, length ${this.#size}): the archive is damaged`;
    return undefined;
  }
}

/** One file's size and sha256 against the lock, each chunk passed on to `feed` as it is read. */
async function hashFile(file: Expected, feed: (chunk: Buffer) => Promise<void>, signal: AbortSignal | undefined): Promise<FileResult> {
  const expected = { file: file.path, expectedSize: file.size, expectedSha256: file.sha256 };
  const info = await stat(file.path).catch(() => undefined);
  if (info === undefined || !info.isFile()) return { ...expected, status: 'missing', size: undefined, sha256: undefined, detail: 'not there' };
  const hasher = new DigestHasher();
  for await (const chunk of createReadStream(file.path, { highWaterMark: READ_BUFFER, ...(signal === undefined ? {} : { signal }) })) {
    hasher.update(chunk as Buffer);
    await feed(chunk as Buffer);
  }
  const sha256 = hasher.digest();
  const size = hasher.bytes;
  if (size !== file.size) return { ...expected, status: 'corrupt', size, sha256, detail: `${size} bytes, the lock says ${file.size}${size < file.size ? ' (truncated)' : ''}` };
  if (sha256 !== file.sha256) return { ...expected, status: 'corrupt', size, sha256, detail: `sha256 is ${sha256}, the lock says ${file.sha256}` };
  return { ...expected, status: 'ok', size, sha256 };
}
