/**
 * The local blob cache of `collect`: a content-addressed directory that is also an OCI image layout
 * (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), so skopeo's `oci:` transport can read it. A blob lands
 * under its digest's name only once its bytes hash to that digest; until then it is `tmp/<hex>.<pid>.partial`,
 * which a later run takes over and continues where it stopped (a killed collect loses at most what was in
 * flight). Every read of a blob that was not verified in this run hashes it again, so a blob damaged on
 * disk is found, never copied into an archive.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { REF_NAME_ANNOTATION } from '../archive/image-layout.ts';
import { AirgapError, DigestMismatchError, messageOf } from '../errors.ts';
import { digestHex, type Descriptor } from '../oci/descriptor.ts';
import { DigestHasher, sha256Digest, type Expected } from '../oci/digest.ts';
import { OCI_INDEX, OCI_LAYOUT_VERSION } from '../oci/media-types.ts';
import { isProcessAlive } from '../util/process-alive.ts';

const TEMP_DIR = 'tmp';
const USERS_DIR = 'users';
// Reads of 256 KiB: 1 MiB ones are each a fresh mapping of memory (page faults, and garbage the collector
// frees late), which made writing the archive from the cache half as fast and its peak memory grow with it.
const READ_BUFFER = 256 * 1024;
// One write call per 256 KiB of a download, not per network chunk (often 16 or 64 KiB).
const WRITE_BATCH = 256 * 1024;
// Manifests and configs are kilobytes; anything larger is not read whole.
const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;
const PARTIAL = /^([a-f0-9]{64})\.(\d+)\.partial$/;

/** `$XDG_CACHE_HOME/airgap`, else `~/.cache/airgap`: where collect keeps blobs between runs. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_CACHE_HOME'];
  // The XDG spec says a relative value is invalid and to be ignored.
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'airgap');
  return join(env['HOME'] ?? homedir(), '.cache', 'airgap');
}

/** A cached blob whose bytes are not its digest's (or that went away): it has been removed, fetch it again. */
export class CorruptCacheBlobError extends DigestMismatchError {}

/** An image recorded in the cache's index.json: skopeo finds it there as `oci:DIR:REFERENCE`. */
export interface CachedImage {
  reference: string;
  descriptor: Descriptor;
}

export interface CacheUsage {
  blobs: number;
  bytes: number;
  /** Downloads a killed run left half-way (kept to be continued). */
  partialBytes: number;
}

export class BlobCache {
  readonly dir: string;
  readonly #userMark: string;
  #indexWrite: Promise<void> = Promise.resolve();

  private constructor(dir: string) {
    this.dir = dir;
    this.#userMark = join(dir, USERS_DIR, String(process.pid));
  }

  /**
   * Create or reopen the cache, and mark it in use by this process until close(), so that `cache prune`
   * does not take blobs from under a running collect.
   */
  static async open(dir: string): Promise<BlobCache> {
    const cache = new BlobCache(dir);
    try {
      await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
      await mkdir(join(dir, TEMP_DIR), { recursive: true });
      await mkdir(join(dir, USERS_DIR), { recursive: true });
      await writeIfAbsent(join(dir, 'oci-layout'), `${JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION })}\n`);
      await writeIfAbsent(join(dir, 'index.json'), indexText([]));
      await writeFile(cache.#userMark, '');
    } catch (err: unknown) {
      throw new AirgapError(`cannot use ${dir} as the blob cache: ${messageOf(err)}`, { cause: err, hint: 'choose a writable directory with --cache DIR, or --no-cache' });
    }
    return cache;
  }

  async close(): Promise<void> {
    await this.#indexWrite;
    await rm(this.#userMark, { force: true });
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', digestHex(digest));
  }

  /** Is the blob here with its size? (Its bytes are checked when it is read.) */
  async has(blob: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    try {
      const info = await stat(this.blobPath(blob.digest));
      return info.isFile() && info.size === blob.size;
    } catch {
      return false;
    }
  }

  /** Small documents (manifests, configs) already in memory and verified: written unless present. */
  async putBytes(blob: Pick<Descriptor, 'digest' | 'size'>, bytes: Buffer): Promise<void> {
    if (await this.has(blob)) return;
    const temp = join(this.dir, TEMP_DIR, `${process.pid}-${randomBytes(8).toString('hex')}`);
    try {
      await writeFile(temp, bytes);
      await rename(temp, this.blobPath(blob.digest));
    } catch (err: unknown) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  /**
   * Download a blob into the cache: continued from a partial file a killed run left (hashed first, so the
   * digest still covers every byte), written to the partial file as it arrives, and moved under its digest
   * only when `download` has verified it. `download` receives the hasher holding the bytes already there
   * and yields the rest. `onDisk` hears of a download started from nothing as its bytes reach the partial
   * file, so that they can be read back before the blob is whole. Returns how many bytes came from a
   * partial file.
   */
  async fetch(blob: Pick<Descriptor, 'digest' | 'size'>, expected: Expected, download: (hasher: DigestHasher) => AsyncIterable<Buffer>, onDisk?: (partial: { path: string; bytes: number }) => void): Promise<{ resumedBytes: number }> {
    const partial = await this.#claimPartial(blob.digest);
    let resumedBytes = 0;
    let hasher = new DigestHasher(expected);
    if (partial.size > 0) {
      try {
        for await (const chunk of createReadStream(partial.path, { highWaterMark: READ_BUFFER })) hasher.update(chunk as Buffer);
        resumedBytes = hasher.bytes;
      } catch {
        // Longer than the blob, or unreadable: start again from nothing.
        await rm(partial.path, { force: true });
        hasher = new DigestHasher(expected);
      }
    }
    try {
      if (hasher.bytes < blob.size) {
        // Written as it arrives, in batches of WRITE_BATCH: what has arrived is on disk (in the page cache)
        // within a batch, so a run killed now loses at most one batch per download, not buffers of them.
        const file = await open(partial.path, 'a');
        const fresh = resumedBytes === 0 ? onDisk : undefined;
        let batch: Buffer[] = [];
        let batched = 0;
        try {
          fresh?.({ path: partial.path, bytes: 0 });
          for await (const chunk of download(hasher)) {
            batch.push(chunk);
            batched += chunk.length;
            if (batched < WRITE_BATCH) continue;
            await file.writev(batch);
            batch = [];
            batched = 0;
            fresh?.({ path: partial.path, bytes: hasher.bytes });
          }
        } finally {
          // What arrived before a failure stays, for the next run to continue from.
          if (batched > 0) await file.writev(batch).catch(() => {});
          await file.close();
        }
      } else {
        hasher.verify();
      }
    } catch (err: unknown) {
      if (err instanceof DigestMismatchError && resumedBytes > 0) {
        // The part a killed run left was not what the registry serves: fetch the whole blob once more.
        await rm(partial.path, { force: true });
        return this.fetch(blob, expected, download).then(() => ({ resumedBytes: 0 }));
      }
      // A broken download stays, to be continued by the next run; bytes that were wrong do not.
      if (err instanceof DigestMismatchError) await rm(partial.path, { force: true });
      throw err;
    }
    await rename(partial.path, this.blobPath(blob.digest));
    return { resumedBytes };
  }

  /** Downloads killed runs left half-way, by blob digest: what the next fetch of each continues from. */
  async partialSizes(): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    for (const name of await readdir(join(this.dir, TEMP_DIR)).catch(() => [] as string[])) {
      const match = PARTIAL.exec(name);
      if (match === null || isProcessAlive(Number(match[2]))) continue;
      const info = await stat(join(this.dir, TEMP_DIR, name)).catch(() => undefined);
      const digest = `sha256:${match[1] as string}`;
      if (info !== undefined) sizes.set(digest, Math.max(sizes.get(digest) ?? 0, info.size));
    }
    return sizes;
  }

  /** This process's partial file for a blob: a dead run's taken over by renaming, else a new one. */
  async #claimPartial(digest: string): Promise<{ path: string; size: number }> {
    const hex = digestHex(digest);
    const mine = join(this.dir, TEMP_DIR, `${hex}.${process.pid}.partial`);
    for (const name of await readdir(join(this.dir, TEMP_DIR))) {
      const match = PARTIAL.exec(name);
      if (match?.[1] !== hex) continue;
      const pid = Number(match[2]);
      if (pid !== process.pid && isProcessAlive(pid)) continue;
      try {
        if (pid !== process.pid) await rename(join(this.dir, TEMP_DIR, name), mine);
        return { path: mine, size: (await stat(mine)).size };
      } catch {
        // Another run took it first.
      }
    }
    await rm(mine, { force: true });
    return { path: mine, size: 0 };
  }

  /**
   * The blob's bytes. Unless `verified` (it was hashed into the cache by this run), they are hashed as they
   * pass, and a blob that is not its digest's (damaged on disk) or is gone is removed and reported as a
   * CorruptCacheBlobError once its last byte has passed.
   */
  async *read(blob: Pick<Descriptor, 'digest' | 'size'>, options: { verified: boolean; what: string }): AsyncGenerator<Buffer> {
    const path = this.blobPath(blob.digest);
    const hasher = options.verified ? undefined : new DigestHasher({ digest: blob.digest, size: blob.size, what: `${options.what} in the cache ${this.dir}` });
    try {
      for await (const chunk of createReadStream(path, { highWaterMark: READ_BUFFER })) {
        hasher?.update(chunk as Buffer);
        yield chunk as Buffer;
      }
      hasher?.verify();
    } catch (err: unknown) {
      const code = (err as { code?: unknown }).code;
      if (!(err instanceof DigestMismatchError) && code !== 'ENOENT') throw err;
      await rm(path, { force: true });
      const actual = err instanceof DigestMismatchError ? err.actual : 'missing';
      throw new CorruptCacheBlobError(`${options.what} in the cache ${this.dir} ${code === 'ENOENT' ? 'went away' : `is damaged (${messageOf(err)})`}`, blob.digest, actual, { cause: err });
    }
  }

  /** How much the cache holds. */
  async usage(): Promise<CacheUsage> {
    const usage: CacheUsage = { blobs: 0, bytes: 0, partialBytes: 0 };
    for (const [dir, partial] of [[join(this.dir, 'blobs', 'sha256'), false], [join(this.dir, TEMP_DIR), true]] as const) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const info = await stat(join(dir, name)).catch(() => undefined);
        if (info === undefined || !info.isFile()) continue;
        if (partial) usage.partialBytes += info.size;
        else {
          usage.blobs++;
          usage.bytes += info.size;
        }
      }
    }
    return usage;
  }

  /** Name these images in index.json (replacing an entry of the same reference), so the layout lists them. */
  recordImages(images: readonly CachedImage[]): Promise<void> {
    return this.#updateIndex((entries) => {
      const references = new Set(images.map((i) => i.reference));
      const kept = entries.filter((e) => !references.has(e.annotations?.[REF_NAME_ANNOTATION] ?? ''));
      return [...kept, ...images.map((i) => ({ mediaType: i.descriptor.mediaType, digest: i.descriptor.digest, size: i.descriptor.size, annotations: { [REF_NAME_ANNOTATION]: i.reference } }))];
    });
  }

  /** Drop index.json entries whose manifest is no longer in the cache. */
  forgetMissingImages(): Promise<void> {
    return this.#updateIndex(async (entries) => {
      const kept: Descriptor[] = [];
      for (const entry of entries) if (await this.has(entry)) kept.push(entry);
      return kept;
    });
  }

  /** index.json rewritten through a temporary file; one update at a time in this process. */
  #updateIndex(change: (entries: Descriptor[]) => Descriptor[] | Promise<Descriptor[]>): Promise<void> {
    const update = async (): Promise<void> => {
      const path = join(this.dir, 'index.json');
      let entries: Descriptor[] = [];
      try {
        const doc = JSON.parse(await readFile(path, 'utf8')) as { manifests?: unknown };
        if (Array.isArray(doc.manifests)) entries = doc.manifests as Descriptor[];
      } catch {
        // A damaged index is rebuilt from what is recorded next; the blobs are what matters.
      }
      const temp = join(this.dir, TEMP_DIR, `${process.pid}-${randomBytes(8).toString('hex')}`);
      await writeFile(temp, indexText(await change(entries)));
      await rename(temp, path);
    };
    const next = this.#indexWrite.then(update, update);
    this.#indexWrite = next.catch(() => {});
    return next;
  }

  /** Temporary files of runs no longer alive that are not downloads worth continuing. */
  async removeStaleTemporaries(options: { partials: boolean }): Promise<number> {
    let bytes = 0;
    for (const name of await readdir(join(this.dir, TEMP_DIR)).catch(() => [] as string[])) {
      const partial = PARTIAL.exec(name);
      if (partial !== null && !options.partials) continue;
      const pid = Number(partial?.[2] ?? name.split('-')[0]);
      if (Number.isInteger(pid) && isProcessAlive(pid)) continue;
      const path = join(this.dir, TEMP_DIR, name);
      bytes += (await stat(path).catch(() => undefined))?.size ?? 0;
      await rm(path, { force: true });
    }
    return bytes;
  }

  /** Pids of other live processes that have the cache open. */
  async otherUsers(): Promise<number[]> {
    const pids: number[] = [];
    for (const name of await readdir(join(this.dir, USERS_DIR)).catch(() => [] as string[])) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      if (isProcessAlive(pid)) pids.push(pid);
      else await rm(join(this.dir, USERS_DIR, name), { force: true });
    }
    return pids;
  }

  /** Every blob digest stored, with its size. */
  async blobs(): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const dir = join(this.dir, 'blobs', 'sha256');
    for (const name of await readdir(dir)) {
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      const info = await stat(join(dir, name)).catch(() => undefined);
      if (info?.isFile() === true) found.set(`sha256:${name}`, info.size);
    }
    return found;
  }

  async remove(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  /**
   * A manifest or config stored earlier, when it is here with the bytes of its digest (checked: they are
   * small); a damaged one is removed, and undefined says to ask the registry.
   */
  async readDocument(blob: Pick<Descriptor, 'digest' | 'size'>): Promise<Buffer | undefined> {
    if (blob.size > MAX_DOCUMENT_BYTES) return undefined;
    const bytes = await this.readSmall(blob.digest);
    if (bytes === undefined) return undefined;
    if (bytes.length === blob.size && sha256Digest(bytes) === blob.digest) return bytes;
    await this.remove(blob.digest);
    return undefined;
  }

  /** A small blob (a manifest) read whole, or undefined when it is not here. */
  async readSmall(digest: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.blobPath(digest));
    } catch {
      return undefined;
    }
  }
}

function indexText(entries: readonly Descriptor[]): string {
  return `${JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }, null, 2)}\n`;
}

async function writeIfAbsent(path: string, text: string): Promise<void> {
  try {
    const handle = await open(path, 'wx');
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
  } catch (err: unknown) {
    if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
  }
}
