import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, deflateRawSync } from 'node:zlib';

// ID1 ID2, CM=deflate, no flags, MTIME 0 (reproducible), XFL 0, OS unknown.
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
// A stored deflate block holds at most 65535 bytes.
const STORED_BLOCK = 65535;
// An empty stored block with BFINAL set: the end of the deflate stream.
const FINAL_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);

function storedBlockHeader(length: number): Buffer {
  const header = Buffer.alloc(5);
  header[0] = 0x00;
  header.writeUInt16LE(length, 1);
  header.writeUInt16LE(~length & 0xffff, 3);
  return header;
}

/**
 * The outer gzip stream of our archives, framed by hand. The layers inside are already compressed:
 * deflating them again saves about 0.01% and costs most of the time, so everything from `storeFrom`'s
 * offset on goes out as stored deflate blocks of exactly 65535 bytes, with no zlib work at all. The
 * small JSON head before that offset is deflated at level 1 in one piece. Block boundaries depend only
 * on byte offsets, never on how the input was chunked, so the same tar gives the same .gz bytes.
 */
export class ArchiveGzip extends Transform {
  #headLimit: number | undefined;
  #head: Buffer[] = [];
  #headBytes = 0;
  #headDone = false;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #crc = 0;
  #size = 0;

  constructor() {
    super({ highWaterMark: 1024 * 1024 });
    this.push(GZIP_HEADER);
  }

  /** Deflate the first `offset` bytes of input; store everything after. */
  storeFrom(offset: number): void {
    this.#headLimit = offset;
    if (this.#headBytes >= offset && !this.#headDone) {
      const head = Buffer.concat(this.#head, this.#headBytes);
      this.#head = [head.subarray(0, offset)];
      this.#headBytes = offset;
      this.#finishHead();
      if (head.length > offset) this.#store(head.subarray(offset));
    }
  }

  override _transform(input: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#crc = crc32(input, this.#crc);
    this.#size = (this.#size + input.length) >>> 0;
    let chunk = input;
    if (!this.#headDone) {
      const room = this.#headLimit === undefined ? Infinity : this.#headLimit - this.#headBytes;
      if (chunk.length < room) {
        this.#head.push(chunk);
        this.#headBytes += chunk.length;
        callback();
        return;
      }
      this.#head.push(chunk.subarray(0, room));
      this.#headBytes += room;
      this.#finishHead();
      chunk = chunk.subarray(room);
    }
    this.#store(chunk);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#headDone) this.#finishHead();
    if (this.#pendingBytes > 0) this.#emitBlock(this.#pendingBytes);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.#crc >>> 0, 0);
    trailer.writeUInt32LE(this.#size, 4);
    this.push(FINAL_BLOCK);
    callback(null, trailer);
  }

  #finishHead(): void {
    this.#headDone = true;
    if (this.#headBytes === 0) return;
    // A sync flush ends the head on a byte boundary with a non-final block, so stored blocks can follow.
    this.push(deflateRawSync(Buffer.concat(this.#head, this.#headBytes), { level: 1, finishFlush: constants.Z_SYNC_FLUSH }));
    this.#head = [];
  }

  #store(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    while (this.#pendingBytes >= STORED_BLOCK) this.#emitBlock(STORED_BLOCK);
  }

  /** Emit the first `length` pending bytes as one stored block, without copying them. */
  #emitBlock(length: number): void {
    this.push(storedBlockHeader(length));
    let left = length;
    while (left > 0) {
      const first = this.#pending[0];
      if (first === undefined) break;
      if (first.length <= left) {
        this.push(first);
        this.#pending.shift();
        left -= first.length;
      } else {
        this.push(first.subarray(0, left));
        this.#pending[0] = first.subarray(left);
        left = 0;
      }
    }
    this.#pendingBytes -= length;
  }
}

export function createArchiveGzip(): ArchiveGzip {
  return new ArchiveGzip();
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
