import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatchError, type AirgapErrorOptions } from '../errors.ts';

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** What a hasher checks its bytes against; `what` names the bytes (a blob of an image, a file) for the operator. */
export interface Expected {
  digest: string;
  size: number;
  what: string;
  /** Said when the bytes are wrong, e.g. how to get good ones again. */
  hint?: string;
}

/**
 * The one place bytes are hashed as they pass: counts them, hashes them, and (given what they should be)
 * fails as soon as there are too many and at the end when the digest or the size is wrong. Used by every
 * stream that moves a blob or an archive, so a check is never written twice.
 */
export class DigestHasher {
  readonly #hash: Hash = createHash('sha256');
  readonly #expected: Expected | undefined;
  #bytes = 0;
  #digest: string | undefined;

  constructor(expected?: Expected) {
    this.#expected = expected;
  }

  get bytes(): number {
    return this.#bytes;
  }

  update(chunk: Uint8Array): void {
    this.#bytes += chunk.length;
    const expected = this.#expected;
    if (expected !== undefined && this.#bytes > expected.size) {
      throw new DigestMismatchError(`${expected.what}: more than the ${expected.size} bytes its descriptor announces`, expected.digest, 'unknown', this.#options());
    }
    this.#hash.update(chunk);
  }

  /** `sha256:<hex>` of everything seen; the hasher takes no more bytes after this. */
  digest(): string {
    this.#digest ??= `sha256:${this.#hash.digest('hex')}`;
    return this.#digest;
  }

  /** Throws unless the bytes seen are exactly what was expected. */
  verify(): void {
    const expected = this.#expected;
    if (expected === undefined) return;
    if (this.#bytes !== expected.size) {
      throw new DigestMismatchError(`${expected.what}: got ${this.#bytes} bytes, its descriptor says ${expected.size}`, expected.digest, 'unknown', this.#options());
    }
    const actual = this.digest();
    if (actual !== expected.digest) {
      throw new DigestMismatchError(`${expected.what}: content digest is ${actual}, expected ${expected.digest}`, expected.digest, actual, this.#options());
    }
  }

  #options(): AirgapErrorOptions {
    return this.#expected?.hint === undefined ? {} : { hint: this.#expected.hint };
  }
}

/**
 * A pass-through stream over a DigestHasher: what flows is counted and hashed, and the stream fails at its
 * end when the bytes are not the expected ones, so a blob is checked as it streams, without holding it.
 */
export class VerifyingStream extends Transform {
  readonly hasher: DigestHasher;

  constructor(expected?: Expected) {
    super({ highWaterMark: 1024 * 1024 });
    this.hasher = new DigestHasher(expected);
  }

  get bytesSeen(): number {
    return this.hasher.bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.hasher.update(chunk);
    } catch (err: unknown) {
      callback(err as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.hasher.verify();
    } catch (err: unknown) {
      callback(err as Error);
      return;
    }
    callback();
  }
}

/** Each chunk of `source` passed through `hasher` on its way: for async generators, where a Transform does not fit. */
export async function* hashed(source: AsyncIterable<Buffer> | Iterable<Buffer>, hasher: DigestHasher): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hasher.update(chunk);
    yield chunk;
  }
  hasher.verify();
}
