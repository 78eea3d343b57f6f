import { existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { readArchive, type ArchiveMember } from '../archive/read-archive.ts';
import { AirgapError, ArchiveError, DigestMismatchError } from '../errors.ts';
import { AtomicFile } from '../fs/atomic-file.ts';
import { LOCK_FILE_NAME, readLock, type Lock } from '../lock.ts';
import { sha256Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { registryClientFor, type RegistryHost } from '../store/registry/client.ts';
import type { Credentials } from '../store/registry/credentials.ts';
import type { RetryPolicy } from '../store/registry/retry.ts';
import { mountBlob, pushBlob, putManifest } from '../store/registry/upload.ts';
import { settleConcurrently } from '../util/concurrency.ts';
import { ArchiveContents, type ArchiveImage } from './archive-contents.ts';
import { extractCharms } from './charms.ts';
import type { LoadEventListener } from './events.ts';
import { registryLocation, targetOf, type RegistryLocation } from './target.ts';

export const IMAGES_MAP_FILE = 'airgap-images.json';
// Manifests and configs are small; a member this small is read into memory to learn what it is.
const SMALL_MEMBER_BYTES = 4 * 1024 * 1024;
// Small blobs that pass before we know who needs them are held, up to this much, then read again.
const MAX_HELD_BYTES = 64 * 1024 * 1024;

export interface LoadOptions {
  /** A directory holding images.tar.gz (and the lock, charms.tar.gz), or the archive itself. */
  source: string;
  /** HOST[:PORT][/PREFIX] */
  registry: string;
  caFiles?: readonly string[];
  certsDirs?: readonly string[];
  plainHttp?: readonly string[];
  credentials?: Credentials;
  dockerConfigPath?: string;
  concurrency?: number;
  charmsDir?: string;
  retry?: RetryPolicy;
  signal?: AbortSignal;
  onEvent?: LoadEventListener;
}

export interface LoadedImage {
  /** The reference as the release wrote it (from the lock), or the path when there is no lock. */
  reference: string;
  private: string;
  digest: string;
  /** Already in the registry with this digest before the run. */
  alreadyPresent: boolean;
}

export interface LoadResult {
  archive: string;
  images: LoadedImage[];
  imagesMap: string;
  uploadedBlobs: number;
  uploadedBytes: number;
  skippedBlobs: number;
  mountedBlobs: number;
  charms: string[];
  charmsDir: string | undefined;
  warnings: string[];
}

class StopReading extends Error {}

async function readAll(stream: AsyncIterable<Buffer>, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += chunk.length;
    if (length > limit) throw new ArchiveError(`${what} is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length);
}

function blobDigestOfMember(baseName: string): string | undefined {
  const match = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(baseName);
  if (match !== null) return `sha256:${match[1]}`;
  // docker save (Docker 20.10) stores configs as <image id>.json at the root.
  const config = /^([a-f0-9]{64})\.json$/.exec(baseName);
  return config === null ? undefined : `sha256:${config[1]}`;
}

/** The archive a load reads and the directory its lock, charms and airgap-images.json sit in. */
export async function locateArchive(source: string): Promise<{ archive: string; dir: string }> {
  const full = resolve(source);
  let info;
  try {
    info = await stat(full);
  } catch (err: unknown) {
    throw new AirgapError(`${source} does not exist`, { cause: err, hint: 'give the directory holding images.tar.gz, or the archive itself' });
  }
  if (info.isDirectory()) {
    for (const name of ['images.tar.gz', 'images.tar']) {
      if (existsSync(join(full, name))) return { archive: join(full, name), dir: full };
    }
    throw new AirgapError(`${source} holds no images.tar.gz`, { hint: 'give the directory where the collect side\'s three files were copied' });
  }
  return { archive: full, dir: dirname(full) };
}

/**
 * The offline side: every image of the archive into the private registry, digests unchanged.
 * The archive is read as a stream: blobs are pushed as they pass (skipping what the registry has,
 * mounting what it has under another name), manifests go up after all their blobs, children before
 * their index, and tags last, so nothing is tagged that is incomplete. A re-run finds everything in
 * place and reads only the head of the archive.
 */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const emit: LoadEventListener = options.onEvent ?? (() => {});
  const { archive, dir } = await locateArchive(options.source);
  const lockPath = join(dir, LOCK_FILE_NAME);
  const lock: Lock | undefined = existsSync(lockPath) ? await readLock(lockPath) : undefined;
  const location: RegistryLocation = registryLocation(options.registry);
  const client = registryClientFor(options, { host: location.host, credentials: options.credentials, connectionsPerHost: Math.max(2, options.concurrency ?? 4) });
  const host = client.host(location.host);
  const warnings: string[] = [];
  try {
    const pusher = new ImagePusher(host, location, lock, options.concurrency ?? 4, emit, archive);
    await pusher.run(options.signal);
    const images = pusher.results();
    const imagesMap = join(dir, IMAGES_MAP_FILE);
    const file = new AtomicFile(imagesMap);
    await writeFile(file.tempPath, `${JSON.stringify({ registry: options.registry, images: images.map(({ reference, private: priv, digest }) => ({ reference, private: priv, digest })) }, null, 2)}\n`);
    await file.commit();

    let charms: string[] = [];
    let charmsDir: string | undefined;
    const charmsArchive = join(dir, 'charms.tar.gz');
    if (existsSync(charmsArchive)) {
      charmsDir = resolve(options.charmsDir ?? 'charms');
      charms = await extractCharms(charmsArchive, charmsDir, lock, (file, size) => emit({ type: 'charm', file, size }));
    }
    warnings.push(...pusher.warnings);
    return { archive, images, imagesMap, ...pusher.counts, charms, charmsDir, warnings };
  } finally {
    await client.close();
  }
}

class ImagePusher {
  readonly contents = new ArchiveContents();
  readonly warnings: string[] = [];
  readonly counts = { uploadedBlobs: 0, uploadedBytes: 0, skippedBlobs: 0, mountedBlobs: 0 };
  readonly #host: RegistryHost;
  readonly #location: RegistryLocation;
  readonly #lock: Lock | undefined;
  readonly #concurrency: number;
  readonly #emit: LoadEventListener;
  readonly #archive: string;
  /** Images already in the registry with the right digest: nothing of theirs is pushed. */
  readonly #complete = new Set<string>();
  /** Blob digest -> repositories of the registry that hold it (known this run). */
  readonly #present = new Map<string, Set<string>>();
  /** Blobs that passed before anyone claimed them: pushed on a second read. */
  readonly #deferred = new Set<string>();
  #heldBytes = 0;
  #checkedIndex = false;

  constructor(host: RegistryHost, location: RegistryLocation, lock: Lock | undefined, concurrency: number, emit: LoadEventListener, archive: string) {
    this.#host = host;
    this.#location = location;
    this.#lock = lock;
    this.#concurrency = concurrency;
    this.#emit = emit;
    this.#archive = archive;
  }

  #repository(path: string): string {
    return targetOf(this.#location, path).repository;
  }

  async run(signal: AbortSignal | undefined): Promise<void> {
    const stopper = new AbortController();
    const onAbort = (): void => stopper.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let read: { sha256: string; size: number } | undefined;
    try {
      read = await readArchive(this.#archive, (member) => this.#onMember(member, false, stopper), { signal: stopper.signal, describeMember: (name) => this.#describeMember(name) });
    } catch (err: unknown) {
      if (!(err instanceof StopReading)) throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    signal?.throwIfAborted();
    if (this.contents.isDockerSave) {
      const warnings = [
        ...this.contents.synthesiseDockerSaveImages(),
        'this archive was made by docker save: its layers are uncompressed and its manifests are new, so digests differ from the original registry\'s',
      ];
      this.warnings.push(...warnings);
      // The plain renderer prints warnings as events come; the summary prints them only on a terminal.
      for (const message of warnings) this.#emit({ type: 'warning', message });
      this.#emit({ type: 'archive', path: this.#archive, images: this.contents.images.size, layout: 'docker-save' });
      await this.#checkRegistryHas([...this.contents.images.values()]);
    }
    for (const [digest, bytes] of this.contents.heldBlobs) {
      if (this.#wanted(digest)) await this.#pushBlob(digest, bytes.length, [bytes]);
    }
    const pending = [...this.contents.blobSizes.keys()].filter((d) => this.#wanted(d) && !this.#isPresentEverywhere(d));
    const needSecondPass = pending.filter((d) => this.#deferred.has(d) || this.contents.isDockerSave);
    if (needSecondPass.length > 0) {
      this.#emit({ type: 'second-pass', blobs: needSecondPass.length, reason: 'layers come before their manifests in this archive' });
      read = await readArchive(this.#archive, (member) => this.#onMember(member, true, stopper), {
        ...(signal === undefined ? {} : { signal }),
        describeMember: (name) => this.#describeMember(name),
      });
    }
    if (read !== undefined && this.#lock?.archives['images.tar.gz'] !== undefined && basename(this.#archive) === 'images.tar.gz') {
      const expected = this.#lock.archives['images.tar.gz'];
      if (expected.sha256 !== read.sha256) {
        throw new DigestMismatchError(`${this.#archive} has sha256 ${read.sha256}, the lock says ${expected.sha256}: this is not the archive the lock describes`, expected.sha256, read.sha256, {
          hint: 'copy images.tar.gz and airgap-lock.json from the same collect; nothing was tagged',
        });
      }
    }
    await this.#finishImages();
  }

  /** A member's name with the images that need it, for the operator. */
  #describeMember(name: string): string {
    const base = name.slice(name.lastIndexOf('!') + 1);
    const digest = blobDigestOfMember(base) ?? this.contents.memberDigests.get(name);
    const users = digest === undefined ? [] : [...(this.contents.blobUsers.get(digest) ?? [])];
    return users.length === 0 ? name : `${name}, a blob of image ${users.join(', image ')}`;
  }

  #wanted(digest: string): boolean {
    const users = this.contents.blobUsers.get(digest);
    return users !== undefined && [...users].some((p) => !this.#complete.has(p));
  }

  #isPresentEverywhere(digest: string): boolean {
    const users = this.contents.blobUsers.get(digest) ?? new Set<string>();
    const where = this.#present.get(digest) ?? new Set<string>();
    return [...users].every((p) => this.#complete.has(p) || where.has(this.#repository(p)));
  }

  async #onMember(member: ArchiveMember, secondPass: boolean, stopper: AbortController): Promise<void> {
    const name = member.baseName;
    if (!secondPass && name === 'index.json') {
      const images = this.contents.addIndex(await readAll(member.stream, SMALL_MEMBER_BYTES, member.name), member.name);
      this.#checkLock(images);
      const nested = member.name.includes('!');
      if (!nested) this.#emit({ type: 'archive', path: this.#archive, images: images.length, layout: 'oci+docker' });
      else if (!this.#checkedIndex) this.#emit({ type: 'archive', path: this.#archive, images: 0, layout: 'per-image' });
      this.#checkedIndex = true;
      await this.#checkRegistryHas(images);
      // Everything already in place: the rest of the archive has nothing to give.
      if (!nested && images.every((i) => this.#complete.has(i.path))) stopper.abort(new StopReading());
      return;
    }
    if (!secondPass && name === 'manifest.json') {
      const bytes = await readAll(member.stream, SMALL_MEMBER_BYTES, member.name);
      if (!member.name.includes('!')) this.contents.addDockerManifest(bytes, member.name);
      return;
    }
    // docker save (Docker 20.10) writes manifest.json last, so its <id>/layer.tar members pass before we
    // know they are layers: every size is kept for the manifests synthesised at the end.
    if (!secondPass) this.contents.memberSizes.set(member.name, member.size);
    let digest = blobDigestOfMember(name);
    if (this.contents.memberDigests.has(member.name)) {
      this.contents.memberSizes.set(member.name, member.size);
      const known = this.contents.memberDigests.get(member.name);
      digest = known === '' ? undefined : known;
      if (digest === undefined) return;
    }
    if (digest === undefined) return;
    if (secondPass) {
      if (this.#wanted(digest) && !this.#isPresentEverywhere(digest)) await this.#pushBlob(digest, member.size, member.stream);
      return;
    }
    const claimed = this.contents.blobUsers.has(digest);
    if (!claimed && member.size <= SMALL_MEMBER_BYTES) {
      const bytes = await readAll(member.stream, SMALL_MEMBER_BYTES, member.name);
      if (sha256Digest(bytes) !== digest) {
        throw new DigestMismatchError(`${this.#archive}: member ${member.name} does not hash to its name (${sha256Digest(bytes)}): the archive is corrupt`, digest, sha256Digest(bytes), {
          hint: 'copy the archive across again and compare its sha256 with airgap-lock.json',
        });
      }
      if (this.contents.addManifestDocument(digest, bytes)) return;
      if (this.contents.blobUsers.has(digest)) {
        await this.#pushBlob(digest, bytes.length, [bytes]);
      } else if (this.#heldBytes + bytes.length <= MAX_HELD_BYTES) {
        this.contents.heldBlobs.set(digest, bytes);
        this.#heldBytes += bytes.length;
      } else {
        this.#deferred.add(digest);
      }
      return;
    }
    if (!claimed) {
      this.#deferred.add(digest);
      return;
    }
    if (this.#wanted(digest)) await this.#pushBlob(digest, member.size, member.stream);
  }

  #checkLock(images: readonly ArchiveImage[]): void {
    if (this.#lock === undefined) return;
    for (const image of images) {
      const locked = this.#lock.images.find((i) => i.path === image.path);
      if (locked !== undefined && locked.digest !== image.digest) {
        throw new ArchiveError(`image ${image.path} is ${image.digest} in the archive but ${locked.digest} in ${LOCK_FILE_NAME}: they are not from the same collect`, {
          hint: 'copy images.tar.gz and airgap-lock.json from the same collect run',
        });
      }
    }
  }

  /** HEAD each image's tag: one with the right digest is done and costs nothing more. */
  async #checkRegistryHas(images: readonly ArchiveImage[]): Promise<void> {
    const settled = await settleConcurrently(images, this.#concurrency, async (image) => {
      const target = targetOf(this.#location, image.path);
      const found = await this.#host.headManifest(target.repository, target.tag ?? image.digest, `image ${image.path}`);
      if (found?.digest === image.digest) {
        this.#complete.add(image.path);
        this.#emit({ type: 'image-present', path: image.path, digest: image.digest });
      }
    });
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }

  #markPresent(digest: string, repository: string): void {
    let where = this.#present.get(digest);
    if (where === undefined) {
      where = new Set();
      this.#present.set(digest, where);
    }
    where.add(repository);
  }

  /** Put one blob where the first image that needs it lives: skip if there, mount if elsewhere, else upload. */
  async #pushBlob(digest: string, size: number, source: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    const users = [...(this.contents.blobUsers.get(digest) ?? [])].filter((p) => !this.#complete.has(p));
    const first = users[0];
    if (first === undefined) return;
    const repository = this.#repository(first);
    const what = `image ${first} blob ${digest}`;
    const expected = this.contents.blobSizes.get(digest);
    if (expected !== undefined && expected !== size) {
      throw new ArchiveError(`${what}: the archive holds ${size} bytes, its manifest says ${expected}: the archive is corrupt`, { hint: 'copy the archive across again' });
    }
    if (this.#present.get(digest)?.has(repository)) return;
    // Known elsewhere in the registry: one mount request settles it, no HEAD needed first.
    const from = [...(this.#present.get(digest) ?? [])][0];
    if (from !== undefined && (await mountBlob(this.#host, repository, digest, from, what))) {
      this.#markPresent(digest, repository);
      this.counts.mountedBlobs++;
      this.#emit({ type: 'blob-skipped', digest, size, repository, how: 'mounted' });
      return;
    }
    if (await this.#host.hasBlob(repository, digest, what)) {
      this.#markPresent(digest, repository);
      this.counts.skippedBlobs++;
      this.#emit({ type: 'blob-skipped', digest, size, repository, how: 'present' });
      return;
    }
    const descriptor: Descriptor = { mediaType: 'application/octet-stream', digest, size };
    await pushBlob(this.#host, repository, descriptor, source, what, (bytes) => this.#emit({ type: 'blob-progress', digest, bytes }));
    this.#markPresent(digest, repository);
    this.counts.uploadedBlobs++;
    this.counts.uploadedBytes += size;
    this.#emit({ type: 'blob-uploaded', digest, size, repository });
  }

  /** Every blob of every image into its repository, then manifests, children first, then the tag. */
  async #finishImages(): Promise<void> {
    const todo = [...this.contents.images.values()].filter((i) => !this.#complete.has(i.path));
    const settled = await settleConcurrently(todo, this.#concurrency, async (image) => {
      const target = targetOf(this.#location, image.path);
      const what = `image ${image.path}`;
      for (const blob of this.contents.blobsOf(image)) {
        if (this.#present.get(blob.digest)?.has(target.repository)) continue;
        const from = [...(this.#present.get(blob.digest) ?? [])][0];
        if (from !== undefined && (await mountBlob(this.#host, target.repository, blob.digest, from, what))) {
          this.#markPresent(blob.digest, target.repository);
          this.counts.mountedBlobs++;
          continue;
        }
        if (await this.#host.hasBlob(target.repository, blob.digest, what)) {
          this.#markPresent(blob.digest, target.repository);
          continue;
        }
        throw new ArchiveError(`${what}: blob ${blob.digest} is not in the archive`, { hint: 'the archive is truncated or incomplete: copy it across again; nothing of this image was tagged' });
      }
      for (const doc of this.contents.manifestsOf(image)) {
        await putManifest(this.#host, target.repository, doc.digest, doc.mediaType, doc.bytes, doc.digest, what);
      }
      if (target.tag !== undefined) {
        const top = this.contents.manifests.get(image.digest);
        if (top !== undefined) await putManifest(this.#host, target.repository, target.tag, top.mediaType, top.bytes, top.digest, what);
      }
      this.#emit({ type: 'image-pushed', path: image.path, reference: target.reference, digest: image.digest });
    });
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    if (failures.length > 0) throw failures[0];
  }

  results(): LoadedImage[] {
    return [...this.contents.images.values()].map((image) => {
      const locked = this.#lock?.images.find((i) => i.path === image.path);
      return {
        reference: locked?.reference ?? image.path,
        private: targetOf(this.#location, image.path).reference,
        digest: image.digest,
        alreadyPresent: this.#complete.has(image.path),
      };
    });
  }
}
