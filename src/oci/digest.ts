import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatchError } from '../errors.ts';

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * A pass-through stream that hashes what flows and fails at the end when the bytes are not the
 * descriptor's: every blob is checked as it streams, without holding it. `what` names the blob and
 * the image for the operator.
 */
export class VerifyingStream extends Transform {
  readonly #hash = createHash('sha256');
  readonly #expectedDigest: string;
  readonly #expectedSize: number;
  readonly #what: string;
  #seen = 0;

  constructor(expectedDigest: string, expectedSize: number, what: string) {
    super();
    this.#expectedDigest = expectedDigest;
    this.#expectedSize = expectedSize;
    this.#what = what;
  }

  get bytesSeen(): number {
    return this.#seen;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#expectedSize) {
      callback(new DigestMismatchError(
        `${this.#what}: more than the ${this.#expectedSize} bytes its descriptor announces`,
        this.#expectedDigest, 'unknown'));
      return;
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#seen !== this.#expectedSize) {
      callback(new DigestMismatchError(
        `${this.#what}: got ${this.#seen} bytes, its descriptor says ${this.#expectedSize}`,
        this.#expectedDigest, 'unknown'));
      return;
    }
    const actual = `sha256:${this.#hash.digest('hex')}`;
    if (actual !== this.#expectedDigest) {
      callback(new DigestMismatchError(
        `${this.#what}: content digest is ${actual}, expected ${this.#expectedDigest}`,
        this.#expectedDigest, actual));
      return;
    }
    callback();
  }
}
