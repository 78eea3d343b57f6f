import type { Descriptor } from '../oci/descriptor.ts';
import type { ManifestDocument, RegistryHost } from '../store/registry/client.ts';
import type { UploadSession } from '../store/registry/upload.ts';
import { Limiter } from '../util/limiter.ts';
import type { LoadEventListener } from './events.ts';
import { listInReferrersTag } from './referrers.ts';
import { targetOf, type RegistryLocation } from './target.ts';

/** A blob of the archive and the repositories (first one first) of the images that need it. */
export interface NeededBlob {
  digest: string;
  size: number;
  repositories: readonly string[];
  /** Names the blob and an image for the operator. */
  what: string;
}

export interface CopyCounts {
  uploadedBlobs: number;
  uploadedBytes: number;
  skippedBlobs: number;
  mountedBlobs: number;
}

export interface RegistryDestinationOptions {
  host: RegistryHost;
  location: RegistryLocation;
  /** Requests at once (-j): checks, session openings, uploads in flight, mounts, manifests. */
  concurrency: number;
  chunkBytes: number | undefined;
  emit: LoadEventListener;
  corruptHint: string;
}

/**
 * A private registry as the destination of a copy: knows which images and blobs it already has, and takes
 * each blob by skipping it (there), mounting it (in another repository of the same registry) or uploading
 * it. Built for a WAN: every blob is checked at once as soon as the archive's head is known, upload
 * sessions are opened ahead of the bytes, and uploads of different blobs overlap (at most -j in flight,
 * each holding at most one chunk: memory stays flat), so round trips are paid in parallel, not in turn.
 */
export class RegistryDestination {
  readonly counts: CopyCounts = { uploadedBlobs: 0, uploadedBytes: 0, skippedBlobs: 0, mountedBlobs: 0 };
  readonly #host: RegistryHost;
  readonly #location: RegistryLocation;
  readonly #concurrency: number;
  readonly #chunkBytes: number | undefined;
  readonly #emit: LoadEventListener;
  readonly #corruptHint: string;
  readonly #work: Limiter;
  /** Blob digest -> repositories known to hold it (this run). */
  readonly #present = new Map<string, Set<string>>();
  /** Blob digest -> is it in its first repository? One HEAD each, asked at once for every blob. */
  readonly #checks = new Map<string, Promise<boolean>>();
  /** Upload sessions opened ahead, by blob digest, and the blobs still waiting for one, in archive order. */
  readonly #sessions = new Map<string, Promise<UploadSession>>();
  readonly #sessionQueue: NeededBlob[] = [];
  /** Blobs whose session was taken by an upload (which then closes it itself). */
  readonly #sessionUsed = new Set<string>();
  /** Set once the copy is over: no session is opened ahead after that. */
  #closed = false;
  /** Blobs the archive does not carry, already in the registry (digest -> a repository holding it). */
  readonly #elsewhere = new Map<string, string>();
  /** (digest, repository) pairs a mount could not serve: they need the bytes again (a second read). */
  readonly unmounted = new Set<string>();

  constructor(options: RegistryDestinationOptions) {
    this.#host = options.host;
    this.#location = options.location;
    this.#concurrency = options.concurrency;
    this.#chunkBytes = options.chunkBytes;
    this.#emit = options.emit;
    this.#corruptHint = options.corruptHint;
    this.#work = new Limiter(options.concurrency);
  }

  get failure(): { error: unknown } | undefined {
    return this.#work.failure;
  }

  referenceOf(path: string): string {
    return targetOf(this.#location, path).reference;
  }

  repositoryOf(path: string): string {
    return targetOf(this.#location, path).repository;
  }

  has(digest: string, repository: string): boolean {
    return this.#present.get(digest)?.has(repository) === true;
  }

  /** The images already in the registry under their tag with the right digest: nothing of theirs is sent. */
  async completeImages(images: readonly { path: string; digest: string }[]): Promise<Set<string>> {
    const complete = new Set<string>();
    await Promise.all(images.map((image) => this.#work.run(async () => {
      const target = targetOf(this.#location, image.path);
      const found = await this.#host.headManifest(target.repository, target.tag ?? image.digest, `image ${image.path}`);
      if (found?.digest === image.digest) complete.add(image.path);
    })));
    return complete;
  }

  /**
   * Every blob the copy will need is known (the archive's small files come first): check them all at
   * once, and open upload sessions ahead for the first few that are missing.
   */
  plan(blobs: readonly NeededBlob[]): void {
    for (const blob of blobs) {
      if (this.#checks.has(blob.digest)) continue;
      const holder = this.#elsewhere.get(blob.digest);
      if (holder !== undefined) {
        this.#checks.set(blob.digest, Promise.resolve(true));
        this.#mark(blob.digest, holder);
        this.#spread(blob, holder);
        continue;
      }
      const first = blob.repositories[0];
      if (first === undefined) continue;
      const check = this.#work.run(() => this.#host.hasBlob(first, blob.digest, blob.what));
      check.catch(() => {});
      this.#checks.set(blob.digest, check);
      // Tracked, so that settling waits for it (and for the session it may open) before cancelling leftovers.
      this.#work.track(check.then((present) => {
        if (!present) {
          this.#sessionQueue.push(blob);
          this.#openAhead();
        }
      }));
    }
  }

  #openAhead(): void {
    if (this.#closed) return;
    let unused = 0;
    for (const digest of this.#sessions.keys()) if (!this.#sessionUsed.has(digest)) unused++;
    while (unused < this.#concurrency && this.#sessionQueue.length > 0) {
      const blob = this.#sessionQueue.shift() as NeededBlob;
      if (this.#sessions.has(blob.digest) || this.#present.has(blob.digest)) continue;
      const session = this.#work.run(() => this.#host.startUpload(blob.repositories[0] as string, blob.what));
      session.catch(() => {});
      this.#sessions.set(blob.digest, session);
      unused++;
    }
  }

  #mark(digest: string, repository: string): void {
    let where = this.#present.get(digest);
    if (where === undefined) {
      where = new Set();
      this.#present.set(digest, where);
    }
    where.add(repository);
  }

  /** Link the blob into every other repository that needs it, in the background. */
  #spread(blob: NeededBlob, from: string): void {
    for (const repository of blob.repositories) {
      if (this.has(blob.digest, repository)) continue;
      this.#mark(blob.digest, repository);
      this.#work.background(async () => {
        if (await this.#host.mountBlob(repository, blob.digest, from, blob.what)) {
          this.counts.mountedBlobs++;
          this.#emit({ type: 'blob-skipped', digest: blob.digest, size: blob.size, repository, how: 'mounted' });
        } else if (!(await this.#host.hasBlob(repository, blob.digest, blob.what))) {
          this.#present.get(blob.digest)?.delete(repository);
          this.unmounted.add(`${blob.digest} ${repository}`);
        }
      });
    }
  }

  /**
   * Layers a differential archive leaves out, found in the registry (digest -> repository): they are linked
   * into the repositories that need them, never read from the archive.
   */
  adopt(found: ReadonlyMap<string, string>): void {
    for (const [digest, repository] of found) this.#elsewhere.set(digest, repository);
  }

  /** Is the blob still needed somewhere (so its bytes must be read)? */
  wants(blob: NeededBlob): boolean {
    return blob.repositories.some((r) => !this.has(blob.digest, r));
  }

  /**
   * The blob passes in the archive: skip, mount or upload it. Returns once its bytes are read from
   * `source` (or not needed); the upload's last answer and the mounts that follow come in the background.
   */
  async blob(blob: NeededBlob, source: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    const first = blob.repositories[0];
    if (first === undefined || !this.wants(blob)) return;
    const known = [...(this.#present.get(blob.digest) ?? [])][0];
    if (known !== undefined) {
      this.#spread(blob, known);
      return;
    }
    if (!this.#checks.has(blob.digest)) this.plan([blob]);
    if (await this.#checks.get(blob.digest)) {
      this.#mark(blob.digest, first);
      this.counts.skippedBlobs++;
      this.#emit({ type: 'blob-skipped', digest: blob.digest, size: blob.size, repository: first, how: 'present' });
      this.#spread(blob, first);
      return;
    }
    let session = this.#sessions.get(blob.digest);
    if (session === undefined) {
      session = this.#work.run(() => this.#host.startUpload(first, blob.what));
      this.#sessions.set(blob.digest, session);
    }
    this.#sessionUsed.add(blob.digest);
    const opened = await session;
    this.#mark(blob.digest, first);
    this.#openAhead();

    let consumed!: () => void;
    const read = new Promise<void>((resolve) => {
      consumed = resolve;
    });
    async function* watched(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of source) yield chunk;
      } finally {
        consumed();
      }
    }
    const release = await this.#work.acquire();
    const descriptor: Descriptor = { mediaType: 'application/octet-stream', digest: blob.digest, size: blob.size };
    const uploading = this.#host.putBlob(first, descriptor, watched(), {
      session: opened, what: blob.what, chunkBytes: this.#chunkBytes, corruptHint: this.#corruptHint,
      onBytes: (bytes) => this.#emit({ type: 'blob-progress', digest: blob.digest, bytes }),
    }).then(() => {
      this.counts.uploadedBlobs++;
      this.counts.uploadedBytes += blob.size;
      this.#emit({ type: 'blob-uploaded', digest: blob.digest, size: blob.size, repository: first });
      this.#spread(blob, first);
    }).finally(release);
    this.#work.track(uploading);
    // Read on as soon as the bytes are taken: the registry's last answer comes while the next blob streams.
    await Promise.race([read, uploading]);
  }

  /** Wait for every upload and mount started so far; the first failure is thrown. */
  drain(): Promise<void> {
    return this.#work.drain();
  }

  /** Wait for every upload and mount; the first failure is thrown. Sessions opened ahead and not used are cancelled. */
  async settle(): Promise<void> {
    try {
      await this.#work.drain();
    } finally {
      await this.cancelUnused();
    }
  }

  async cancelUnused(): Promise<void> {
    this.#closed = true;
    this.#sessionQueue.length = 0;
    const unused = [...this.#sessions.entries()].filter(([digest]) => !this.#sessionUsed.has(digest));
    for (const [digest] of unused) this.#sessions.delete(digest);
    await Promise.all(unused.map(async ([, session]) => {
      try {
        await (await session).cancel();
      } catch {
        // A session that never opened needs no cancelling.
      }
    }));
  }

  /**
   * A referrer, once the images are there: its manifests children first and its cosign tag, when `docs` are
   * given (undefined: it was there already), then its place in the subject's referrers tag index on a registry
   * without the referrers API (referrers.ts).
   */
  async putReferrer(path: string, digest: string, docs: { manifests: readonly ManifestDocument[]; top: ManifestDocument } | undefined): Promise<string> {
    const target = targetOf(this.#location, path);
    const what = `referrer ${path}`;
    await this.#work.run(async () => {
      let indexed: boolean | undefined;
      for (const doc of docs?.manifests ?? []) {
        const { ociSubject } = await this.#host.putManifest(target.repository, doc.digest, doc, what);
        if (doc.digest === digest) indexed = ociSubject !== undefined;
      }
      if (docs !== undefined && target.tag !== undefined) await this.#host.putManifest(target.repository, target.tag, docs.top, what);
      const top = docs?.top ?? (await this.#host.getManifest(target.repository, digest, what));
      await listInReferrersTag(this.#host, target.repository, top, indexed, what);
    });
    return target.reference;
  }

  /** Manifests children first, then the tag: an image is named only once all of it is there. */
  async putImage(path: string, manifests: readonly ManifestDocument[], top: ManifestDocument): Promise<string> {
    const target = targetOf(this.#location, path);
    const what = `image ${path}`;
    await this.#work.run(async () => {
      for (const doc of manifests) await this.#host.putManifest(target.repository, doc.digest, doc, what);
      if (target.tag !== undefined) await this.#host.putManifest(target.repository, target.tag, top, what);
    });
    return target.reference;
  }
}
