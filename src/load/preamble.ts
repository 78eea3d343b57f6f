/**
 * What every load does around the copy, whatever the destination (a registry, the Docker Engine): find the
 * archive and its lock, hold the archive to the lock (the lock is the one authority: its sha256, its
 * images, its charms), write airgap-images.json, and unpack the charms. Written once so that both paths
 * refuse the same archives.
 */
import { existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { archiveExists, archiveFilesOf, archiveOfPart, archiveStream, checkArchiveFiles, wholeFile, type ArchiveFiles } from '../archive/archive-files.ts';
import { AirgapError, ArchiveError, DigestMismatchError, UsageError } from '../errors.ts';
import { AtomicFile } from '../fs/atomic-file.ts';
import { LOCK_FILE_NAME, readLock, type Lock } from '../lock.ts';
import { VerifyingStream } from '../oci/digest.ts';
import { extractCharms } from './charms.ts';

export const IMAGES_MAP_FILE = 'airgap-images.json';
export const IMAGES_ARCHIVE = 'images.tar.gz';
export const CHARMS_ARCHIVE = 'charms.tar.gz';
export const SAME_COLLECT = `copy the archives and ${LOCK_FILE_NAME} from the same collect run`;

export interface LoadSource {
  /** The images archive (its name, when it is in parts). */
  archive: string;
  /** The file, or the parts of `collect --split`, to read in order. */
  files: ArchiveFiles;
  /** Where the lock, charms.tar.gz and airgap-images.json sit. */
  dir: string;
  /** Undefined only with --no-lock. */
  lock: Lock | undefined;
}

/** The archive a load reads and the directory its lock, charms and airgap-images.json sit in. */
export async function locateArchive(source: string): Promise<{ archive: string; dir: string }> {
  // A part (images.tar.gz.003) stands for its archive, and so does the archive's name when only its parts are there.
  const full = archiveOfPart(resolve(source));
  if (!existsSync(full) && archiveExists(full)) return { archive: full, dir: dirname(full) };
  let info;
  try {
    info = await stat(full);
  } catch (err: unknown) {
    throw new AirgapError(`${source} does not exist`, { cause: err, hint: 'give the directory holding images.tar.gz, or the archive itself' });
  }
  if (info.isDirectory()) {
    for (const name of [IMAGES_ARCHIVE, 'images.tar']) {
      if (existsSync(join(full, name))) return { archive: join(full, name), dir: full };
    }
    if (archiveExists(join(full, IMAGES_ARCHIVE))) return { archive: join(full, IMAGES_ARCHIVE), dir: full };
    throw new AirgapError(`${source} holds no images.tar.gz (nor its parts images.tar.gz.000, ...)`, { hint: 'give the directory where the collect side\'s three files were copied' });
  }
  if (!info.isFile()) throw new AirgapError(`${source} is not a file`, { hint: 'give images.tar.gz, or the directory holding it' });
  return { archive: full, dir: dirname(full) };
}

/** The archive and its lock; without a lock, only --no-lock lets the load go on, and says so. */
export async function openLoadSource(source: string, options: { noLock?: boolean | undefined }): Promise<LoadSource> {
  const { archive, dir } = await locateArchive(source);
  const lockPath = join(dir, LOCK_FILE_NAME);
  if (!existsSync(lockPath)) {
    if (options.noLock === true) return { archive, dir, lock: undefined, files: await openArchiveFiles(archive, undefined) };
    throw new AirgapError(`no ${LOCK_FILE_NAME} beside ${archive}: load checks every archive against the lock of its collect`, {
      hint: `copy ${LOCK_FILE_NAME} beside the archive, or pass --no-lock to load an archive that has none (only blob digests are then checked)`,
    });
  }
  if (options.noLock === true) {
    throw new UsageError(`--no-lock: ${lockPath} is there, and load holds the archive to it; drop --no-lock`);
  }
  const lock = await readLock(lockPath);
  return { archive, dir, lock, files: await openArchiveFiles(archive, lock) };
}

/** The archive's file or parts, each there with its size, before anything is read or sent. */
async function openArchiveFiles(archive: string, lock: Lock | undefined): Promise<ArchiveFiles> {
  const files = await archiveFilesOf(archive, lock?.archives[IMAGES_ARCHIVE]);
  await checkArchiveFiles(files);
  return files;
}

/** What the lock says an archive must be: compare the sha256 whatever the file is called. */
export function checkArchiveDigest(lock: Lock | undefined, archive: string, key: string, sha256: string, nothingDone: string): void {
  const expected = lock?.archives[key];
  if (expected === undefined) return;
  if (expected.sha256 !== sha256) {
    throw new DigestMismatchError(`${archive} has sha256 ${sha256}, ${LOCK_FILE_NAME} says ${key} is ${expected.sha256}: this is not the archive the lock describes; ${nothingDone}`, expected.sha256, sha256, {
      hint: SAME_COLLECT,
    });
  }
}

/**
 * The archive's sha256 against the lock, in a pass of its own: for a destination that takes the archive
 * whole (the Docker Engine), which must not see an archive the lock does not vouch for.
 */
export async function verifyArchiveFile(source: LoadSource, nothingDone: string, signal?: AbortSignal, key: string = IMAGES_ARCHIVE): Promise<void> {
  const file = key === IMAGES_ARCHIVE ? source.archive : join(source.dir, key);
  const files = key === IMAGES_ARCHIVE ? source.files : wholeFile(file);
  if (source.lock?.archives[key] === undefined || !archiveExists(file)) return;
  const hashing = new VerifyingStream();
  try {
    await pipeline(archiveStream(files, signal), hashing, new Writable({ write: (_chunk, _encoding, done) => done() }));
  } catch (err: unknown) {
    signal?.throwIfAborted();
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  checkArchiveDigest(source.lock, file, key, hashing.hasher.digest(), nothingDone);
}

/** charms.tar.gz is small: proven the lock's before any image is sent, so a bad one stops the load before it starts. */
export function verifyCharmsFile(source: LoadSource, signal?: AbortSignal): Promise<void> {
  return verifyArchiveFile(source, 'nothing was pushed, tagged or unpacked', signal, CHARMS_ARCHIVE);
}

/**
 * The images an archive names (a whole index, or one --per-image index): each must be in the lock with the
 * same digest. Checked before anything of them is sent.
 */
export function checkImagesLocked(lock: Lock | undefined, archive: string, images: readonly { path: string; digest: string }[]): void {
  if (lock === undefined) return;
  for (const image of images) {
    const locked = lock.images.find((i) => i.path === image.path);
    if (locked === undefined) {
      throw new ArchiveError(`${archive} holds image ${image.path}, which ${LOCK_FILE_NAME} does not list: nothing was pushed or tagged`, { hint: SAME_COLLECT });
    }
    if (locked.digest !== image.digest) {
      throw new ArchiveError(`image ${image.path} is ${image.digest} in the archive but ${locked.digest} in ${LOCK_FILE_NAME}: they are not from the same collect; nothing was tagged`, { hint: SAME_COLLECT });
    }
  }
}

/** Every image the lock lists is in the archive: checked once the archive is read, before any tag. */
export function checkLockedImagesPresent(lock: Lock | undefined, archive: string, found: ReadonlySet<string>): void {
  if (lock === undefined) return;
  const missing = lock.images.filter((i) => !found.has(i.path)).map((i) => i.path);
  if (missing.length > 0) {
    throw new ArchiveError(`${archive} lacks ${missing.length} image(s) ${LOCK_FILE_NAME} lists: ${missing.join(', ')}; nothing was tagged`, { hint: SAME_COLLECT });
  }
}

/** An archive with no image is a mistake, not a load of nothing. */
export function checkNotEmpty(archive: string, images: number): void {
  if (images === 0) {
    throw new ArchiveError(`${archive} holds no image`, { hint: 'give images.tar.gz as airgap collect wrote it, or a docker save archive' });
  }
}

export interface MappedImage {
  reference: string;
  private: string;
  digest: string;
}

/** airgap-images.json: what deploy reads to find each image of the release in the private registry. */
export async function writeImagesMap(dir: string, registry: string, images: readonly MappedImage[]): Promise<string> {
  const path = join(dir, IMAGES_MAP_FILE);
  await new AtomicFile(path).writeText(`${JSON.stringify({ registry, images: images.map(({ reference, private: priv, digest }) => ({ reference, private: priv, digest })) }, null, 2)}\n`);
  return path;
}

/**
 * charms.tar.gz beside the images, unpacked into `charmsDir` once it is proven the lock's: nothing is
 * written under a final name otherwise. A lock that records charms wants the archive there.
 */
export async function unpackCharms(source: LoadSource, charmsDir: string | undefined, onFile: (file: string, size: number) => void): Promise<{ charms: string[]; charmsDir: string | undefined }> {
  const archive = join(source.dir, CHARMS_ARCHIVE);
  const lock = source.lock;
  if (!existsSync(archive)) {
    if (lock !== undefined && (lock.charms.length > 0 || lock.archives[CHARMS_ARCHIVE] !== undefined)) {
      throw new ArchiveError(`${archive} is missing, and ${LOCK_FILE_NAME} records it (${lock.charms.length} charm(s))`, { hint: `copy ${CHARMS_ARCHIVE} beside the images` });
    }
    return { charms: [], charmsDir: undefined };
  }
  const dir = resolve(charmsDir ?? 'charms');
  const charms = await extractCharms(archive, dir, lock, onFile);
  return { charms, charmsDir: dir };
}
