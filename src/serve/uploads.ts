/**
 * Blob upload sessions (POST, PATCH..., PUT ?digest=): each is a temporary file in the store and a running
 * sha256 of what it holds. Bytes only ever reach the blob's own name through BlobStore.commit, after the
 * digest the client claims has been checked against what arrived.
 */
import { randomUUID, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { BlobStore } from './blob-store.ts';
import { newHash, type DigestAlgorithm } from './digest.ts';

// A client that opened an upload and vanished leaves a file behind: dropped after this long untouched,
// looked for this often.
const IDLE_LIMIT_MS = 60 * 60 * 1000;
const SWEEP_EVERY_MS = 60 * 1000;

export interface UploadSession {
  readonly uuid: string;
  readonly name: string;
  readonly tempPath: string;
  size: number;
  /**
   * Running hash of the file's bytes, by the algorithm the client announced (`digest-algorithm`, else sha256);
   * undefined when a broken chunk left it unsure. Either way the end re-reads the file when it must.
   */
  hash: Hash | undefined;
  readonly algorithm: DigestAlgorithm;
  /** A chunk is being written: a second one at the same time would interleave. */
  busy: boolean;
  touched: number;
}

export class UploadSessions {
  readonly #store: BlobStore;
  readonly #sessions = new Map<string, UploadSession>();
  readonly #sweep: NodeJS.Timeout;

  constructor(store: BlobStore) {
    this.#store = store;
    this.#sweep = setInterval(() => {
      this.#dropIdle().catch(() => {});
    }, SWEEP_EVERY_MS);
    this.#sweep.unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  start(name: string, algorithm: DigestAlgorithm = 'sha256'): UploadSession {
    const session: UploadSession = { uuid: randomUUID(), name, tempPath: this.#store.tempPath(), size: 0, hash: newHash(algorithm), algorithm, busy: false, touched: Date.now() };
    this.#sessions.set(session.uuid, session);
    return session;
  }

  get(uuid: string, name: string): UploadSession | undefined {
    const session = this.#sessions.get(uuid);
    return session?.name === name ? session : undefined;
  }

  /** Append a request body; the session's size follows what is really in the file, even when the body breaks. */
  async append(session: UploadSession, body: Readable): Promise<number> {
    session.busy = true;
    session.touched = Date.now();
    const before = session.size;
    try {
      const written = await this.#store.writeTemp(body, session.tempPath, { append: true, ...(session.hash === undefined ? {} : { hash: session.hash }) });
      session.size += written.bytes;
      return written.bytes;
    } catch (err: unknown) {
      // Some of the chunk may have reached the file and the hash, not necessarily the same bytes: trust the file.
      session.hash = undefined;
      session.size = await stat(session.tempPath).then((s) => s.size, () => before);
      throw err;
    } finally {
      session.busy = false;
      session.touched = Date.now();
    }
  }

  /**
   * The digest by `algorithm` of everything uploaded so far: from the running hash when it is of that algorithm
   * and sure, else read from the file again.
   */
  async digest(session: UploadSession, algorithm: DigestAlgorithm): Promise<string> {
    if (session.hash !== undefined && session.algorithm === algorithm) return `${algorithm}:${session.hash.copy().digest('hex')}`;
    const hash = newHash(algorithm);
    if (session.size > 0) for await (const chunk of createReadStream(session.tempPath)) hash.update(chunk as Buffer);
    return `${algorithm}:${hash.digest('hex')}`;
  }

  /** The upload is over (committed or refused): forget it and remove what is left of its file. */
  async finish(session: UploadSession): Promise<void> {
    this.#sessions.delete(session.uuid);
    await rm(session.tempPath, { force: true });
  }

  async #dropIdle(): Promise<void> {
    const now = Date.now();
    for (const session of [...this.#sessions.values()]) {
      if (!session.busy && now - session.touched > IDLE_LIMIT_MS) await this.finish(session);
    }
  }

  async discardAll(): Promise<void> {
    clearInterval(this.#sweep);
    for (const session of [...this.#sessions.values()]) await this.finish(session);
  }
}
