/**
 * What the registry serves, in memory: manifests (small, kept whole), where each blob's bytes are on disk,
 * and per repository its tags, manifests and blobs. Reads only look things up in these maps, so any number
 * of clients pull at once without a lock; a push changes them in one synchronous step after its bytes are
 * safely on disk, so a reader never sees half of a push.
 */
import type { Descriptor } from '../oci/descriptor.ts';
import { REF_NAME_ANNOTATION } from '../archive/image-layout.ts';
import type { BlobStore } from './blob-store.ts';
import { REPOSITORY_ANNOTATION } from './layout.ts';
import type { StoredManifest } from './manifest.ts';

export class Repository {
  readonly name: string;
  readonly tags = new Map<string, string>();
  readonly manifests = new Set<string>();
  readonly blobs = new Set<string>();
  /** subject digest -> the digests of this repository's manifests whose `subject` it is. */
  readonly referrers = new Map<string, Set<string>>();
  constructor(name: string) {
    this.name = name;
  }
}

export interface BlobLocation {
  path: string;
  size: number;
}

export class RegistryContent {
  readonly manifests = new Map<string, StoredManifest>();
  readonly repositories = new Map<string, Repository>();
  readonly #blobs = new Map<string, BlobLocation>();
  readonly #store: BlobStore | undefined;
  /** What the store's index.json lists, by `name:tag` or `name@digest`: written back after each push. */
  readonly #storeEntries = new Map<string, Descriptor>();

  constructor(store: BlobStore | undefined) {
    this.#store = store;
  }

  addManifest(manifest: StoredManifest): StoredManifest {
    const known = this.manifests.get(manifest.digest);
    if (known !== undefined) return known;
    this.manifests.set(manifest.digest, manifest);
    return manifest;
  }

  addBlob(digest: string, location: BlobLocation): void {
    this.#blobs.set(digest, location);
  }

  /** Where a blob's bytes are: known from a layout, or found in the store (pushed by an earlier run). */
  async locateBlob(digest: string): Promise<BlobLocation | undefined> {
    const known = this.#blobs.get(digest);
    if (known !== undefined) return known;
    const size = await this.#store?.size(digest);
    if (size === undefined || this.#store === undefined) return undefined;
    const location = { path: this.#store.blobPath(digest), size };
    this.#blobs.set(digest, location);
    return location;
  }

  repository(name: string): Repository | undefined {
    return this.repositories.get(name);
  }

  #ensure(name: string): Repository {
    let repo = this.repositories.get(name);
    if (repo === undefined) {
      repo = new Repository(name);
      this.repositories.set(name, repo);
    }
    return repo;
  }

  /** Make a manifest, everything it reaches and their blobs visible under `name`. */
  link(name: string, digest: string): void {
    const repo = this.#ensure(name);
    const visit = (d: string): void => {
      if (repo.manifests.has(d)) return;
      const manifest = this.manifests.get(d);
      if (manifest === undefined) return;
      repo.manifests.add(d);
      // Whatever reaches a manifest with a subject (a push, a referrers-tag index of an older client, a
      // restart reading the store) makes it a referrer: the referrers API needs no other bookkeeping.
      if (manifest.subject !== undefined) {
        let set = repo.referrers.get(manifest.subject.digest);
        if (set === undefined) {
          set = new Set();
          repo.referrers.set(manifest.subject.digest, set);
        }
        set.add(d);
      }
      for (const child of manifest.children ?? []) visit(child.digest);
      for (const blob of manifest.blobs) repo.blobs.add(blob.digest);
    };
    visit(digest);
  }

  linkBlob(name: string, digest: string): void {
    this.#ensure(name).blobs.add(digest);
  }

  tag(name: string, tag: string, digest: string): void {
    this.link(name, digest);
    this.#ensure(name).tags.set(tag, digest);
  }

  /**
   * Forget manifest `digest` in `name`: the manifest, every tag on it, its place among the referrers, and its
   * entries in the store's index. The bytes stay (another repository may hold them). False when `name` has not got it.
   */
  unlinkManifest(name: string, digest: string): boolean {
    const repo = this.repositories.get(name);
    if (repo === undefined || !repo.manifests.has(digest)) return false;
    repo.manifests.delete(digest);
    for (const [tag, tagged] of repo.tags) {
      if (tagged !== digest) continue;
      repo.tags.delete(tag);
      this.#storeEntries.delete(`${name}:${tag}`);
    }
    this.#storeEntries.delete(`${name}@${digest}`);
    const subject = this.manifests.get(digest)?.subject?.digest;
    const referrers = subject === undefined ? undefined : repo.referrers.get(subject);
    if (subject !== undefined && referrers !== undefined) {
      referrers.delete(digest);
      if (referrers.size === 0) repo.referrers.delete(subject);
    }
    return true;
  }

  /** Remove a tag; the manifest stays in the repository, by digest. Returns what it pointed at, if it was there. */
  untag(name: string, tag: string): string | undefined {
    const repo = this.repositories.get(name);
    const digest = repo?.tags.get(tag);
    if (repo === undefined || digest === undefined) return undefined;
    repo.tags.delete(tag);
    const entry = this.#storeEntries.get(`${name}:${tag}`);
    this.#storeEntries.delete(`${name}:${tag}`);
    if (entry !== undefined) this.recordInStore(name, undefined, entry);
    return digest;
  }

  /** Unlink a blob from `name` (a blob upload or mount made it visible there). False when `name` had not got it. */
  unlinkBlob(name: string, digest: string): boolean {
    return this.repositories.get(name)?.blobs.delete(digest) === true;
  }

  /** Does any repository still reach this blob (linked, or named by one of its manifests)? */
  isBlobInUse(digest: string): boolean {
    for (const repo of this.repositories.values()) if (repo.blobs.has(digest) || repo.manifests.has(digest)) return true;
    return false;
  }

  /** Forget a manifest no repository has any more. */
  forgetManifest(digest: string): void {
    this.manifests.delete(digest);
  }

  /** Forget where a blob's bytes were: they have been removed from the store. */
  forgetBlob(digest: string): void {
    this.#blobs.delete(digest);
  }

  /** The manifests of `name` whose subject is `digest`, by digest order (a stable listing). */
  referrersOf(name: string, digest: string): StoredManifest[] {
    const found = [...(this.repositories.get(name)?.referrers.get(digest) ?? [])].sort();
    return found.map((d) => this.manifests.get(d)).filter((m): m is StoredManifest => m !== undefined);
  }

  /** A manifest by tag or digest, if `name` has it. */
  resolve(name: string, reference: string): StoredManifest | undefined {
    const repo = this.repositories.get(name);
    if (repo === undefined) return undefined;
    const digest = reference.includes(':') ? reference : repo.tags.get(reference);
    if (digest === undefined || !repo.manifests.has(digest)) return undefined;
    return this.manifests.get(digest);
  }

  /** Blobs are scoped to repositories, as distribution does: a blob is there if an image of `name` needs it or it was pushed there. */
  hasBlob(name: string, digest: string): boolean {
    const repo = this.repositories.get(name);
    return repo !== undefined && (repo.blobs.has(digest) || repo.manifests.has(digest));
  }

  /** Repositories holding at least one manifest, sorted: what the catalog lists. */
  repositoryNames(): string[] {
    return [...this.repositories.values()].filter((r) => r.manifests.size > 0).map((r) => r.name).sort();
  }

  imageCount(): number {
    let count = 0;
    for (const repo of this.repositories.values()) count += repo.tags.size;
    return count;
  }

  /** Remember that the store holds this image, so the next start (or a later `airgap serve STORE`) finds it. */
  recordInStore(name: string, tag: string | undefined, descriptor: Descriptor, extra: Record<string, string> = {}): void {
    const key = tag === undefined ? `${name}@${descriptor.digest}` : `${name}:${tag}`;
    const annotations: Record<string, string> = { ...extra, [REPOSITORY_ANNOTATION]: name };
    if (tag !== undefined) annotations[REF_NAME_ANNOTATION] = `${name}:${tag}`;
    this.#storeEntries.set(key, { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, annotations });
  }

  /** Write the store's index.json. Untagged entries an image of the same repository already reaches are left out. */
  async persist(): Promise<void> {
    if (this.#store === undefined) return;
    const reachable = new Map<string, Set<string>>();
    const reach = (name: string, digest: string): void => {
      let set = reachable.get(name);
      if (set === undefined) {
        set = new Set();
        reachable.set(name, set);
      }
      for (const child of this.manifests.get(digest)?.children ?? []) {
        set.add(child.digest);
        reach(name, child.digest);
      }
    };
    for (const [key, entry] of this.#storeEntries) {
      if (!key.includes('@')) reach(key.slice(0, key.lastIndexOf(':')), entry.digest);
    }
    const entries: Descriptor[] = [];
    for (const [key, entry] of [...this.#storeEntries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const at = key.indexOf('@');
      if (at !== -1 && reachable.get(key.slice(0, at))?.has(entry.digest) === true) continue;
      entries.push(entry);
    }
    await this.#store.writeIndex(entries);
  }
}
