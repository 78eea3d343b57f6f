import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { constants, createGzip, type Gzip, type ZlibParams } from 'node:zlib';

/**
 * The outer gzip stream of our archives. Layers are already compressed: deflating them again saves
 * about 0.01% and costs most of the time, so they go out as stored blocks (level 0). The small JSON
 * files at the head of the archive are compressed at level 1 before `storeFromNowOn` switches.
 */
export function createArchiveGzip(): Gzip {
  return createGzip({ level: 1, chunkSize: 256 * 1024 });
}

export function storeFromNowOn(gzip: Gzip): Promise<void> {
  return new Promise((resolve) => {
    // Gzip streams have params() at run time (they share Deflate's engine); @types/node only declares it on Deflate.
    (gzip as Gzip & ZlibParams).params(constants.Z_NO_COMPRESSION, constants.Z_DEFAULT_STRATEGY, () => resolve());
  });
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
