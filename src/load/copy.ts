import { blobDigestOfMember } from '../archive/image-layout.ts';
import { readArchive, type ArchiveMember } from '../archive/read-archive.ts';
import { ArchiveError, DigestMismatchError } from '../errors.ts';
import { DigestHasher, sha256Digest } from '../oci/digest.ts';
import { ArchiveContents, type ArchiveImage, type ManifestDocument } from './archive-contents.ts';
import type { LoadEventListener } from './events.ts';
import { checkArchiveDigest, checkImagesLocked, checkLockedImagesPresent, checkNotEmpty, IMAGES_ARCHIVE, type LoadSource } from './preamble.ts';
import { checkLockedReferrersPresent, checkReferrersLocked } from './referrers.ts';
import { hubLibraryAliases } from './hub-aliases.ts';
import type { NeededBlob, RegistryDestination } from './registry-destination.ts';

// Manifests and configs are small; a member this small is read into memory to learn what it is.
const SMALL_MEMBER_BYTES = 4 * 1024 * 1024;
// Small blobs that pass before we know who needs them are held, up to this much, then read again.
const MAX_HELD_BYTES = 64 * 1024 * 1024;
export const CORRUPT_HINT = 'the archive is corrupt: copy images.tar.gz across again and compare its sha256 with airgap-lock.json';

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

export interface CopiedImage {
  path: string;
  digest: string;
  private: string;
  /** Already in the destination with this digest before the run. */
  alreadyPresent: boolean;
  /** Set for a referrer: the path of the image it was carried with. */
  referrerOf?: string;
  /** Set for a second name of an image (Docker Hub's `library/` path): the image's path. */
  aliasOf?: string;
}

/**
 * The copy step of load: an archive source into a destination. Check what the destination has, then each
 * blob as it passes in the archive is skipped, mounted or uploaded, then manifests go up children first
 * and tags last, and only once the archive is proven the lock's: nothing is named that is incomplete or
 * unchecked. The archive is read as a stream; a re-run finds everything in place and reads only its head.
 */
export class ArchiveCopy {
  readonly contents = new ArchiveContents();
  readonly warnings: string[] = [];
  readonly #source: LoadSource;
  readonly #destination: RegistryDestination;
  readonly #emit: LoadEventListener;
  /** Images already in the destination with the right digest: nothing of theirs is sent. */
  readonly #complete = new Set<string>();
  /** Blobs that passed before anyone claimed them: sent on a second read. */
  readonly #deferred = new Set<string>();
  readonly #planned = new Set<string>();
  readonly #references = new Map<string, string>();
  #heldBytes = 0;
  /** Image path -> its second name under library/ (hub-aliases.ts). */
  #hubAliases: Map<string, string> | undefined;
  #checkedIndex = false;

  constructor(source: LoadSource, destination: RegistryDestination, emit: LoadEventListener) {
    this.#source = source;
    this.#destination = destination;
    this.#emit = emit;
  }

  async run(signal: AbortSignal | undefined): Promise<CopiedImage[]> {
    const archive = this.#source.archive;
    const stopper = new AbortController();
    const onAbort = (): void => stopper.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let read: { sha256: string; size: number } | undefined;
    try {
      read = await readArchive(this.#source.files, (member) => this.#onMember(member, false, stopper), { signal: stopper.signal, describeMember: (name) => this.#describeMember(name) });
    } catch (err: unknown) {
      if (!(err instanceof StopReading)) throw this.#destination.failure?.error ?? err;
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
      for (const message of warnings) this.#emit({ type: 'warning', message });
      this.#emit({ type: 'archive', path: archive, images: this.contents.images.size, layout: 'docker-save' });
      const images = [...this.contents.images.values()];
      checkImagesLocked(this.#source.lock, archive, images);
      await this.#checkDestination(images);
    }
    // A blob that failed names itself and its image: that says more than the archive's sha256 below.
    await this.#destination.drain();
    checkNotEmpty(archive, this.contents.images.size);
    // The lock decides before anything is named: the archive's sha256 whatever its file name, every image it lists.
    if (read !== undefined) checkArchiveDigest(this.#source.lock, archive, IMAGES_ARCHIVE, read.sha256, 'nothing was tagged');
    checkLockedImagesPresent(this.#source.lock, archive, new Set(this.contents.images.keys()));
    checkLockedReferrersPresent(this.#source.lock, archive, this.contents.images.values());

    this.#plan();
    for (const [digest, bytes] of this.contents.heldBlobs) {
      const needed = this.#needed(digest);
      if (needed !== undefined) await this.#destination.blob(needed, [bytes]);
    }
    await this.#destination.settle();
    const again = [...this.contents.blobSizes.keys()].filter((d) => this.#stillWanted(d));
    if (again.length > 0) {
      this.#emit({ type: 'second-pass', blobs: again.length, reason: this.#deferred.size > 0 || this.contents.isDockerSave ? 'layers come before their manifests in this archive' : 'the registry would not mount some blobs' });
      for (const key of this.#destination.unmounted) this.#destination.unmounted.delete(key);
      const second = await readArchive(this.#source.files, (member) => this.#onMember(member, true, stopper), {
        ...(signal === undefined ? {} : { signal }),
        describeMember: (name) => this.#describeMember(name),
      });
      checkArchiveDigest(this.#source.lock, archive, IMAGES_ARCHIVE, second.sha256, 'nothing was tagged');
      await this.#destination.settle();
    }
    await this.#finishImages();
    return [...this.contents.images.values()].map((image) => ({
      path: image.path,
      digest: image.digest,
      private: this.#references.get(image.path) ?? this.#destination.referenceOf(image.path),
      alreadyPresent: this.#complete.has(image.path),
      ...(image.referrer === undefined ? {} : { referrerOf: image.referrer.of }),
      ...(image.aliasOf === undefined ? {} : { aliasOf: image.aliasOf }),
    }));
  }

  /** A member's name with the images that need it, for the operator. */
  #describeMember(name: string): string {
    const base = name.slice(name.lastIndexOf('!') + 1);
    const digest = blobDigestOfMember(base) ?? this.contents.memberDigests.get(name);
    const users = digest === undefined ? [] : [...(this.contents.blobUsers.get(digest) ?? [])];
    return users.length === 0 ? name : `${name}, a blob of image ${users.join(', image ')}`;
  }

  /** The blob with the repositories of the images still needing it, or undefined when none does. */
  #needed(digest: string): NeededBlob | undefined {
    const users = [...(this.contents.blobUsers.get(digest) ?? [])].filter((p) => !this.#complete.has(p));
    const first = users[0];
    const size = this.contents.blobSizes.get(digest);
    if (first === undefined || size === undefined) return undefined;
    const repositories = [...new Set(users.map((p) => this.#destination.repositoryOf(p)))];
    return { digest, size, repositories, what: `image ${first} blob ${digest}` };
  }

  #stillWanted(digest: string): boolean {
    const needed = this.#needed(digest);
    return needed !== undefined && this.#destination.wants(needed);
  }

  /** Once every manifest is known, every blob is known: the destination checks them all at once. */
  #plan(): void {
    const fresh = [...this.contents.blobSizes.keys()].filter((d) => !this.#planned.has(d));
    const needed = fresh.map((d) => this.#needed(d)).filter((n): n is NeededBlob => n !== undefined);
    for (const d of fresh) this.#planned.add(d);
    this.#destination.plan(needed);
  }

  /** Docker Hub's one-segment names under library/ too (hub-aliases.ts), once the lock has vouched for the images. */
  #addHubAliases(images: readonly ArchiveImage[]): ArchiveImage[] {
    // Worked out once from the lock: a per-image archive has an index for each image.
    this.#hubAliases ??= hubLibraryAliases(this.#source.lock);
    const aliases = this.#hubAliases;
    return images.flatMap((image) => {
      const alias = aliases.get(image.path);
      return alias === undefined ? [] : [this.contents.addAlias(image, alias)];
    });
  }

  async #checkDestination(images: readonly ArchiveImage[]): Promise<void> {
    for (const path of await this.#destination.completeImages(images)) {
      this.#complete.add(path);
      const image = this.contents.images.get(path);
      // A referrer or a second name present is said when its turn comes, after the images.
      if (image !== undefined && image.referrer === undefined && image.aliasOf === undefined) this.#emit({ type: 'image-present', path, digest: image.digest });
    }
  }

  async #onMember(member: ArchiveMember, secondPass: boolean, stopper: AbortController): Promise<void> {
    const failed = this.#destination.failure;
    if (failed !== undefined) throw failed.error;
    const name = member.baseName;
    const archive = this.#source.archive;
    if (!secondPass && name === 'index.json') {
      const images = this.contents.addIndex(await readAll(member.stream, SMALL_MEMBER_BYTES, member.name), member.name);
      const own = images.filter((i) => i.referrer === undefined);
      // Nothing of an image (or a referrer) the lock does not list is sent: the index comes before its blobs.
      checkImagesLocked(this.#source.lock, archive, own);
      checkReferrersLocked(this.#source.lock, archive, images);
      const nested = member.name.includes('!');
      if (!nested) {
        checkLockedImagesPresent(this.#source.lock, archive, new Set(own.map((i) => i.path)));
        this.#emit({ type: 'archive', path: archive, images: own.length, layout: 'oci+docker' });
      } else if (!this.#checkedIndex) {
        this.#emit({ type: 'archive', path: archive, images: 0, layout: 'per-image' });
      }
      this.#checkedIndex = true;
      const named = [...images, ...this.#addHubAliases(own)];
      await this.#checkDestination(named);
      // Everything already in place: the rest of the archive has nothing to give.
      if (!nested && named.length > 0 && named.every((i) => this.#complete.has(i.path))) stopper.abort(new StopReading());
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
      const known = this.contents.memberDigests.get(member.name);
      digest = known === '' ? undefined : known;
    }
    if (digest === undefined) return;
    const claimed = this.contents.blobUsers.has(digest);
    if (claimed) {
      const expected = this.contents.blobSizes.get(digest);
      if (expected !== undefined && expected !== member.size) {
        throw new ArchiveError(`${archive}: ${this.#describeMember(member.name)} holds ${member.size} bytes, its manifest says ${expected}`, { hint: CORRUPT_HINT });
      }
    }
    if (secondPass) {
      const needed = this.#needed(digest);
      if (needed !== undefined && this.#destination.wants(needed)) await this.#destination.blob(needed, member.stream);
      return;
    }
    if (!claimed && member.size <= SMALL_MEMBER_BYTES) {
      const bytes = await readAll(member.stream, SMALL_MEMBER_BYTES, member.name);
      const hasher = new DigestHasher({ digest, size: member.size, what: `${archive}: member ${member.name} does not hash to its name`, hint: CORRUPT_HINT });
      hasher.update(bytes);
      hasher.verify();
      if (this.contents.addManifestDocument(digest, bytes)) return;
      if (this.contents.blobUsers.has(digest)) {
        const needed = this.#needed(digest);
        if (needed !== undefined) await this.#destination.blob(needed, [bytes]);
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
    // The archive's head is over (every manifest known): check every blob at once before the first layer.
    if (this.contents.allManifestsKnown()) this.#plan();
    const needed = this.#needed(digest);
    if (needed !== undefined) await this.#destination.blob(needed, member.stream);
  }

  /** An image's (or a referrer's) manifests, once every blob they name is in its repository and the top one is proven. */
  #pushable(image: ArchiveImage): { manifests: ManifestDocument[]; top: ManifestDocument } {
    const repository = this.#destination.repositoryOf(image.path);
    for (const blob of this.contents.blobsOf(image)) {
      if (!this.#destination.has(blob.digest, repository)) {
        throw new ArchiveError(`image ${image.path}: blob ${blob.digest} is not in the archive`, { hint: 'the archive is truncated or incomplete: copy it across again; nothing of this image was tagged' });
      }
    }
    const manifests = this.contents.manifestsOf(image);
    const top = this.contents.manifests.get(image.digest);
    if (top === undefined) throw new ArchiveError(`the archive has no manifest ${image.digest} for image ${image.path}`);
    if (sha256Digest(top.bytes) !== image.digest) throw new DigestMismatchError(`image ${image.path}: its manifest does not hash to ${image.digest}`, image.digest, sha256Digest(top.bytes), { hint: CORRUPT_HINT });
    return { manifests, top };
  }

  /**
   * Every blob of every image in its repository, then manifests, children first, then the tag. Then the
   * referrers, one at a time in the archive's order, so that what they refer to is there before them.
   */
  async #finishImages(): Promise<void> {
    const all = [...this.contents.images.values()];
    const todo = all.filter((i) => !this.#complete.has(i.path) && i.referrer === undefined);
    const results = await Promise.allSettled(todo.map(async (image) => {
      const { manifests, top } = this.#pushable(image);
      const reference = await this.#destination.putImage(image.path, manifests, top);
      this.#references.set(image.path, reference);
      if (image.aliasOf === undefined) this.#emit({ type: 'image-pushed', path: image.path, reference, digest: image.digest });
      else this.#emit({ type: 'alias', of: image.aliasOf, reference, digest: image.digest, how: 'pushed' });
    }));
    const failure = results.find((r) => r.status === 'rejected');
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
    for (const image of all) {
      if (image.aliasOf !== undefined && this.#complete.has(image.path)) this.#emit({ type: 'alias', of: image.aliasOf, reference: this.#destination.referenceOf(image.path), digest: image.digest, how: 'present' });
    }
    for (const image of all) {
      if (image.referrer === undefined) continue;
      const present = this.#complete.has(image.path);
      const reference = await this.#destination.putReferrer(image.path, image.digest, present ? undefined : this.#pushable(image));
      this.#references.set(image.path, reference);
      this.#emit({ type: 'referrer', of: image.referrer.of, reference, digest: image.digest, how: present ? 'present' : 'pushed' });
    }
  }
}
