import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DigestMismatchError } from '../../src/errors.ts';
import { sha256Digest, VerifyingStream } from '../../src/oci/digest.ts';

const WHAT = 'layer sha256:0123456789ab of busybox:1.36';

function chunked(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  return chunks;
}

/** Stream `chunks` through a VerifyingStream and collect what comes out of it. */
async function verify(chunks: Buffer[], digest: string, size: number): Promise<{ out: Buffer; stream: VerifyingStream }> {
  const stream = new VerifyingStream({ digest, size, what: WHAT });
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    stream,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return { out: Buffer.concat(out), stream };
}

async function mismatch(chunks: Buffer[], digest: string, size: number): Promise<DigestMismatchError> {
  try {
    await verify(chunks, digest, size);
  } catch (err: unknown) {
    expect(err).toBeInstanceOf(DigestMismatchError);
    return err as DigestMismatchError;
  }
  throw new Error('expected the VerifyingStream to fail');
}

describe('sha256Digest', () => {
  it.each([
    ['', 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  ])('hashes %j', (text, digest) => {
    expect(sha256Digest(Buffer.from(text))).toBe(digest);
  });

  it('takes any Uint8Array', () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    expect(sha256Digest(bytes)).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  });
});

describe('VerifyingStream', () => {
  const data = randomBytes(200_003);
  const digest = sha256Digest(data);

  it.each([
    ['one chunk', data.length],
    ['64 KiB chunks', 65_536],
    ['odd chunks', 7_919],
    ['one-byte chunks at the start', 1],
  ])('passes the right bytes through unchanged (%s)', async (_name, chunkSize) => {
    const chunks = chunkSize === 1 ? [...chunked(data.subarray(0, 16), 1), data.subarray(16)] : chunked(data, chunkSize);
    const { out, stream } = await verify(chunks, digest, data.length);
    expect(out.equals(data)).toBe(true);
    expect(stream.bytesSeen).toBe(data.length);
  });

  it('passes an empty blob', async () => {
    const empty = Buffer.alloc(0);
    const { out, stream } = await verify([], sha256Digest(empty), 0);
    expect(out.length).toBe(0);
    expect(stream.bytesSeen).toBe(0);
  });

  it.each([0, 1, 100_000, data.length - 1])('fails when byte %i is wrong, with both digests', async (position) => {
    const corrupt = Buffer.from(data);
    corrupt[position] = (corrupt[position]! + 1) % 256;
    const err = await mismatch(chunked(corrupt, 65_536), digest, data.length);
    expect(err.message).toContain(WHAT);
    expect(err.message).toContain(digest);
    expect(err.expected).toBe(digest);
    expect(err.actual).toBe(sha256Digest(corrupt));
    expect(err.message).toContain(err.actual);
  });

  it.each([
    ['one byte short', data.length - 1],
    ['half', 100_000],
    ['nothing at all', 0],
  ])('fails when it gets too few bytes (%s)', async (_name, length) => {
    const err = await mismatch(chunked(data.subarray(0, length), 65_536), digest, data.length);
    expect(err.message).toContain(WHAT);
    expect(err.message).toContain(`got ${length} bytes`);
    expect(err.message).toContain(String(data.length));
    expect(err.expected).toBe(digest);
  });

  it.each([
    ['one byte too many, in its own chunk', [data, Buffer.from([0])]],
    ['one byte too many, in the last chunk', [Buffer.concat([data, Buffer.from([0])])]],
    ['twice the blob', [data, data]],
  ])('fails when it gets too many bytes (%s)', async (_name, chunks) => {
    const err = await mismatch(chunks, digest, data.length);
    expect(err.message).toContain(WHAT);
    expect(err.message).toContain(`more than the ${data.length} bytes`);
    expect(err.expected).toBe(digest);
  });

  it('does not pass on bytes beyond the announced size', async () => {
    const stream = new VerifyingStream({ digest, size: data.length, what: WHAT });
    const out: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    });
    await expect(pipeline(Readable.from([data, Buffer.from('extra')]), stream, sink)).rejects.toBeInstanceOf(DigestMismatchError);
    expect(Buffer.concat(out).length).toBeLessThanOrEqual(data.length);
  });

  it('fails on right-sized bytes of another blob', async () => {
    const other = randomBytes(data.length);
    const err = await mismatch([other], digest, data.length);
    expect(err.actual).toBe(sha256Digest(other));
    expect(err.message).toContain(WHAT);
  });
});
