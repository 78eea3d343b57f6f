import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, createDeflateRaw, type DeflateRaw } from 'node:zlib';

// ID1 ID2, CM=deflate, no flags, MTIME 0 (reproducible), XFL 0, OS unknown.
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/**
 * The outer gzip stream of our archives. Layers are already compressed: deflating them again saves
 * about 0.01% and costs most of the time, so they go out as stored blocks (level 0). The small JSON
 * files at the head of the archive are compressed at level 1 before `storeFromNowOn` switches.
 *
 * The gzip framing is written here around a raw deflate stream because Node's zlib applies params()
 * only to Deflate and DeflateRaw streams: on a Gzip stream it is silently ignored.
 */
export class ArchiveGzip extends Transform {
  readonly #deflate: DeflateRaw = createDeflateRaw({ level: 1, chunkSize: 256 * 1024 });
  #crc = 0;
  #size = 0;

  constructor() {
    super();
    this.push(GZIP_HEADER);
    this.#deflate.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) this.#deflate.pause();
    });
    this.#deflate.on('error', (err: Error) => this.destroy(err));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#crc = crc32(chunk, this.#crc);
    this.#size = (this.#size + chunk.length) >>> 0;
    if (this.#deflate.write(chunk)) callback();
    else this.#deflate.once('drain', () => callback());
  }

  override _flush(callback: TransformCallback): void {
    this.#deflate.once('end', () => {
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.#crc >>> 0, 0);
      trailer.writeUInt32LE(this.#size, 4);
      callback(null, trailer);
    });
    this.#deflate.end();
  }

  override _read(size: number): void {
    this.#deflate.resume();
    super._read(size);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#deflate.destroy();
    callback(err);
  }

  /** Deflate what was written so far at level 1, and store everything written after. */
  storeFromNowOn(): Promise<void> {
    return new Promise((resolve) => {
      this.#deflate.params(constants.Z_NO_COMPRESSION, constants.Z_DEFAULT_STRATEGY, () => resolve());
    });
  }
}

export function createArchiveGzip(): ArchiveGzip {
  return new ArchiveGzip();
}

export function storeFromNowOn(gzip: ArchiveGzip): Promise<void> {
  return gzip.storeFromNowOn();
}

/** Counts and hashes what passes, for the lock's archive sha256 and size. */
export class HashingCounter extends Transform {
  readonly #hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}
