/**
 * The server's own store: a content-addressed directory that is also an OCI image layout (`oci-layout`,
 * `index.json`, `blobs/sha256/<hex>`, `blobs/sha512/<hex>`), so a store can itself be served, read by skopeo's oci: transport,
 * or reused by the next start. Nothing lands under a digest's name unless its bytes hash to that digest:
 * every write goes to a temporary file, hashed as it is written, and is renamed only when it matches.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirgapError, DigestMismatchError, messageOf } from '../errors.ts';
import { AtomicFile } from '../fs/atomic-file.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { OCI_INDEX, OCI_LAYOUT_VERSION } from '../oci/media-types.ts';
import { isProcessAlive } from '../util/process-alive.ts';
import { DIGEST_ALGORITHMS, digestOf, type DigestAlgorithm } from './digest.ts';
import { layoutBlobPath } from './layout.ts';

const TEMP_DIR = 'tmp';
const BUFFER_BYTES = 1024 * 1024;

/** A hashing pass-through: the digest of what was written is known the moment the write ends. */
export class HashingStream extends Transform {
  readonly hash: Hash;
  bytes = 0;
  /** `hash` continues a running hash (an upload's earlier chunks); by default a fresh sha256. */
  constructor(hash: Hash = createHash('sha256')) {
    super();
    this.hash = hash;
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

export class BlobStore {
  readonly dir: string;
  #indexWrite: Promise<void> = Promise.resolve();

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Create or reopen a store; temporary files of servers no longer running are removed. */
  static async open(dir: string): Promise<BlobStore> {
    try {
      for (const algorithm of DIGEST_ALGORITHMS) await mkdir(join(dir, 'blobs', algorithm), { recursive: true });
      await mkdir(join(dir, TEMP_DIR), { recursive: true });
      await new AtomicFile(join(dir, 'oci-layout')).writeText(`${JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION })}\n`);
    } catch (err: unknown) {
      throw new AirgapError(`cannot use ${dir} as the registry's store: ${messageOf(err)}`, { cause: err, hint: 'choose a writable directory with --store' });
    }
    const store = new BlobStore(dir);
    for (const name of await readdir(join(dir, TEMP_DIR))) {
      const pid = Number(name.split('-')[0]);
      // A live pid may be another server on the same store (or this process's own): its uploads stay.
      if (!Number.isInteger(pid) || !isProcessAlive(pid)) await rm(join(dir, TEMP_DIR, name), { force: true });
    }
    return store;
  }

  blobPath(digest: string): string {
    return layoutBlobPath(this.dir, digest);
  }

  /** Size of the blob stored under `digest`, or undefined. */
  async size(digest: string): Promise<number | undefined> {
    try {
      const info = await stat(this.blobPath(digest));
      return info.isFile() ? info.size : undefined;
    } catch {
      return undefined;
    }
  }

  /** A fresh temporary file name in the store (same file system, so a rename commits it). */
  tempPath(): string {
    return join(this.dir, TEMP_DIR, `${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  /** Move a fully written, verified temporary file under its digest. A blob already there stays. */
  async commit(tempPath: string, digest: string): Promise<void> {
    if ((await this.size(digest)) !== undefined) {
      await rm(tempPath, { force: true });
      return;
    }
    await rename(tempPath, this.blobPath(digest));
  }

  /**
   * Write a stream to a temporary file, hashing it; returns what was written. The caller commits or discards.
   * `append` continues an existing temporary file (an upload's next chunk).
   */
  async writeTemp(source: Readable | AsyncIterable<Buffer>, tempPath: string, options: { append?: boolean; hash?: Hash } = {}): Promise<HashingStream> {
    const hashing = new HashingStream(options.hash);
    const readable = source instanceof Readable ? source : Readable.from(source);
    await pipeline(readable, hashing, createWriteStream(tempPath, { flags: options.append === true ? 'a' : 'w', highWaterMark: BUFFER_BYTES }), { end: true });
    return hashing;
  }

  /**
   * Store a stream that must hash to `digest` (and have `size` bytes when given). On a mismatch nothing is
   * stored and a DigestMismatchError says what arrived; `what` names the blob for the operator.
   */
  async writeVerified(digest: string, size: number | undefined, source: AsyncIterable<Buffer> | Iterable<Buffer>, what: string): Promise<void> {
    const temp = this.tempPath();
    try {
      const hashing = await this.writeTemp(Readable.from(source), temp);
      const actual = `sha256:${hashing.hash.digest('hex')}`;
      if (actual !== digest || (size !== undefined && hashing.bytes !== size)) {
        throw new DigestMismatchError(`${what}: its ${hashing.bytes} bytes hash to ${actual}, not ${digest}${size === undefined ? '' : ` (${size} bytes)`}`, digest, actual, {
          hint: 'the source is corrupt: copy it across again and compare its sha256 with airgap-lock.json',
        });
      }
      await this.commit(temp, digest);
    } catch (err: unknown) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  /** Store a stream under whatever digest it has (docker save's layer tars are named by no digest). */
  async writeHashed(source: AsyncIterable<Buffer>): Promise<{ digest: string; size: number }> {
    const temp = this.tempPath();
    try {
      const hashing = await this.writeTemp(source, temp);
      const digest = `sha256:${hashing.hash.digest('hex')}`;
      await this.commit(temp, digest);
      return { digest, size: hashing.bytes };
    } catch (err: unknown) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  /** Small documents (manifests): written whole, renamed. Stored under their digest by `algorithm`. */
  async writeBytes(bytes: Buffer, algorithm: DigestAlgorithm = 'sha256'): Promise<string> {
    const digest = digestOf(bytes, algorithm);
    if ((await this.size(digest)) === bytes.length) return digest;
    const temp = this.tempPath();
    try {
      await writeFile(temp, bytes);
      await this.commit(temp, digest);
    } catch (err: unknown) {
      await rm(temp, { force: true });
      throw err;
    }
    return digest;
  }

  /** Remove a blob's file (deleted, and no repository reaches it any more). */
  async remove(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  /**
   * Replace index.json with these entries. Writes are queued one after the other (readers never wait:
   * they use the server's memory, not this file), each to a temporary file synced and renamed.
   */
  writeIndex(entries: readonly Descriptor[]): Promise<void> {
    const bytes = Buffer.from(`${JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }, null, 2)}\n`);
    // The temporary file goes where open() sweeps those of servers no longer running.
    const write = (): Promise<void> => new AtomicFile(join(this.dir, 'index.json'), this.tempPath()).writeText(bytes);
    const next = this.#indexWrite.then(write, write);
    this.#indexWrite = next.catch(() => {});
    return next;
  }

  /** Wait for queued index writes (before the server reports it has closed). */
  async flush(): Promise<void> {
    await this.#indexWrite;
  }
}
