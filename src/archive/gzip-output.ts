import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, deflateRawSync } from 'node:zlib';

// ID1 ID2, CM=deflate, no flags, MTIME 0 (reproducible), XFL 0, OS unknown.
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
// A stored deflate block holds at most 65535 bytes.
const STORED_BLOCK = 65535;
// Compressed ranges are deflated in pieces of this size, each ending on a byte boundary (sync flush).
const DEFLATE_PIECE = 1024 * 1024;
// An empty stored block with BFINAL set: the end of the deflate stream.
const FINAL_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);

function storedBlockHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(5);
  header[0] = 0x00;
  header.writeUInt16LE(length, 1);
  header.writeUInt16LE(~length & 0xffff, 3);
  return header;
}

interface Range {
  start: number;
  end: number;
}

/**
 * The outer gzip stream of our archives, framed by hand. Layers (and charms, which are zips) are already
 * compressed: deflating them again saves about 0.01% and costs most of the time, so they go out as stored
 * deflate blocks of 65535 bytes with no zlib work at all. The ranges declared with `compress` (the JSON
 * head, YAML files, an executable) are deflated at level 1 in 1 MiB pieces. Every boundary depends only on
 * byte offsets and declared ranges, never on how the input was chunked, so the same tar gives the same .gz.
 * A range must be declared before its first byte is written.
 */
export class ArchiveGzip extends Transform {
  readonly #ranges: Range[] = [];
  #rangeIndex = 0;
  #offset = 0;
  #mode: 'deflate' | 'store' = 'store';
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #crc = 0;
  #size = 0;

  constructor() {
    super({ highWaterMark: 1024 * 1024 });
    this.push(GZIP_HEADER);
  }

  /** Deflate the input bytes from offset `start` up to `end`. */
  compress(start: number, end: number): void {
    if (end <= start) return;
    const last = this.#ranges[this.#ranges.length - 1];
    if (last !== undefined && start < last.end) throw new RangeError(`compressed ranges must be declared in order: ${start} < ${last.end}`);
    // Adjacent ranges (the small entries of the head) are one run: better compression, same bytes every time.
    if (last !== undefined && start === last.end) last.end = end;
    else this.#ranges.push({ start, end });
  }

  override _transform(input: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#crc = crc32(input, this.#crc);
    this.#size = (this.#size + input.length) >>> 0;
    let chunk = input;
    while (chunk.length > 0) {
      while (this.#ranges[this.#rangeIndex] !== undefined && (this.#ranges[this.#rangeIndex]?.end ?? 0) <= this.#offset) this.#rangeIndex++;
      const range = this.#ranges[this.#rangeIndex];
      const inside = range !== undefined && range.start <= this.#offset;
      // How far this mode goes: to the range's end, or to the next range's start.
      const limit = inside ? range.end - this.#offset : range === undefined ? Infinity : range.start - this.#offset;
      const run = chunk.subarray(0, Math.min(chunk.length, limit));
      const mode = inside ? 'deflate' : 'store';
      if (mode !== this.#mode) {
        this.#flushPending();
        this.#mode = mode;
      }
      this.#pending.push(run);
      this.#pendingBytes += run.length;
      const unit = mode === 'store' ? STORED_BLOCK : DEFLATE_PIECE;
      while (this.#pendingBytes >= unit) this.#emit(unit);
      this.#offset += run.length;
      chunk = chunk.subarray(run.length);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#flushPending();
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.#crc >>> 0, 0);
    trailer.writeUInt32LE(this.#size, 4);
    this.push(FINAL_BLOCK);
    callback(null, trailer);
  }

  #flushPending(): void {
    if (this.#pendingBytes > 0) this.#emit(this.#pendingBytes);
  }

  /** Emit the first `length` pending bytes in the current mode. */
  #emit(length: number): void {
    const parts: Buffer[] = [];
    let left = length;
    while (left > 0) {
      const first = this.#pending[0];
      if (first === undefined) break;
      if (first.length <= left) {
        parts.push(first);
        this.#pending.shift();
        left -= first.length;
      } else {
        parts.push(first.subarray(0, left));
        this.#pending[0] = first.subarray(left);
        left = 0;
      }
    }
    this.#pendingBytes -= length;
    if (this.#mode === 'deflate') {
      // A sync flush ends each piece on a byte boundary with a non-final block, so anything can follow.
      this.push(deflateRawSync(Buffer.concat(parts, length), { level: 1, finishFlush: constants.Z_SYNC_FLUSH }));
      return;
    }
    this.push(storedBlockHeader(length));
    for (const part of parts) this.push(part);
  }
}

/**
 * The most an ArchiveGzip stream can be for a tar of `tarBytes`: every byte stored (5 bytes of framing per
 * 65535), plus header, trailer and what level-1 deflate can add to the compressed ranges.
 */
export function maxGzipSize(tarBytes: number): number {
  return tarBytes + Math.ceil(tarBytes / STORED_BLOCK) * 5 + Math.ceil(tarBytes / 16384) * 5 + GZIP_HEADER.length + FINAL_BLOCK.length + 8;
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
