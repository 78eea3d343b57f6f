import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createArchiveGzip, HashingCounter } from '../../src/archive/gzip-output.ts';

/** JSON like an archive's head: very compressible. */
function jsonHead(size: number): Buffer {
  const line = `${JSON.stringify({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 1234 })}\n`;
  return Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size));
}

function chunked(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  return chunks;
}

interface Run {
  /** Output bytes out by the time the tail started. */
  before: number;
  output: Buffer;
}

/**
 * Write `head` then `tail` in chunks of `chunkSize`, the head declared as a compressed range and the tail
 * stored. With `switchLate` it is the other way round, the tail's range declared once the head has passed.
 */
async function gzipWithSwitch(head: Buffer, tail: Buffer, chunkSize: number, switchLate = false): Promise<Run> {
  const gzip = createArchiveGzip();
  const out: Buffer[] = [];
  let emitted = 0;
  gzip.on('data', (chunk: Buffer) => {
    out.push(chunk);
    emitted += chunk.length;
  });
  const ended = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  const write = async (chunk: Buffer): Promise<void> => {
    if (!gzip.write(chunk)) await new Promise<void>((resolve) => gzip.once('drain', resolve));
  };
  if (!switchLate) gzip.compress(0, head.length);
  for (const chunk of chunked(head, chunkSize)) await write(chunk);
  await new Promise((resolve) => setImmediate(resolve));
  const before = emitted;
  const tailChunks = chunked(tail, chunkSize);
  if (switchLate) {
    // A range declared after some bytes passed only covers what is still to come: the tail here.
    gzip.compress(head.length, head.length + tail.length);
  }
  for (const chunk of tailChunks) await write(chunk);
  gzip.end();
  await ended;
  return { before, output: Buffer.concat(out) };
}

describe('ArchiveGzip', () => {
  it.each([
    ['head and tail', 200_000, 3_000_000, 65_536, false],
    ['odd chunk sizes', 123_457, 1_000_003, 7_919, false],
    ['no head', 0, 500_000, 65_536, false],
    ['nothing after the head', 300_000, 0, 65_536, false],
    ['tiny head, one-byte chunks', 1, 10_000, 1, false],
    ['a range declared late, for the tail', 50_000, 400_000, 10_000, true],
    ['a tail of exactly one stored block', 10, 65_535, 4096, false],
  ])('gunzips back to the exact input: %s', async (_name, headSize, tailSize, chunkSize, switchLate) => {
    const head = jsonHead(headSize);
    const tail = randomBytes(tailSize);
    const { output } = await gzipWithSwitch(head, tail, chunkSize, switchLate);
    expect(gunzipSync(output).equals(Buffer.concat([head, tail]))).toBe(true);
  });

  it('deflates a range declared over the whole input', async () => {
    const data = jsonHead(400_000);
    const gzip = createArchiveGzip();
    gzip.compress(0, data.length);
    const out: Buffer[] = [];
    gzip.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise<void>((resolve) => gzip.on('end', resolve));
    gzip.end(data);
    await ended;
    const output = Buffer.concat(out);
    expect(output.length).toBeLessThan(data.length / 10);
    expect(gunzipSync(output).equals(data)).toBe(true);
  });

  it('compresses the head and stores what follows with less than 0.1% overhead', async () => {
    const head = jsonHead(500_000);
    const tail = randomBytes(4 * 1024 * 1024);
    const { output } = await gzipWithSwitch(head, tail, 65_536);
    // Stored: the tail costs its own length plus 5 bytes per 65535; the head, deflated, a tenth of its length at most.
    expect(output.length).toBeGreaterThanOrEqual(tail.length);
    expect(output.length).toBeLessThan(tail.length * 1.001 + head.length / 10);
  });

  it('stores even compressible bytes outside the declared range', async () => {
    const head = jsonHead(100_000);
    const tail = jsonHead(1_000_000);
    const { output } = await gzipWithSwitch(head, tail, 65_536);
    expect(output.length).toBeGreaterThanOrEqual(tail.length);
    expect(output.length).toBeLessThan(tail.length * 1.001 + head.length / 10);
    expect(gunzipSync(output).equals(Buffer.concat([head, tail]))).toBe(true);
  });

  it('gives the same bytes however the input is chunked', async () => {
    const head = jsonHead(70_000);
    const tail = randomBytes(700_000);
    const outputs = await Promise.all([1_000, 4_096, 65_536, 100_003].map(async (size) => (await gzipWithSwitch(head, tail, size)).output));
    for (const output of outputs) expect(output.equals(outputs[0] ?? Buffer.alloc(0))).toBe(true);
  });
});

describe('ArchiveGzip ranges', () => {
  it('deflates ranges between stored runs, and gives the same bytes however the input is chunked', async () => {
    const parts = [jsonHead(3_000), randomBytes(200_000), jsonHead(2_500_000), randomBytes(70_000), jsonHead(10)];
    const all = Buffer.concat(parts);
    const outputs: Buffer[] = [];
    for (const size of [1_000, 65_536, 777_777]) {
      const gzip = createArchiveGzip();
      let offset = 0;
      parts.forEach((part, i) => {
        if (i % 2 === 0) gzip.compress(offset, offset + part.length);
        offset += part.length;
      });
      const out: Buffer[] = [];
      gzip.on('data', (c: Buffer) => out.push(c));
      const ended = new Promise<void>((resolve) => gzip.on('end', resolve));
      for (const chunk of chunked(all, size)) gzip.write(chunk);
      gzip.end();
      await ended;
      outputs.push(Buffer.concat(out));
    }
    for (const output of outputs) expect(output.equals(outputs[0] ?? Buffer.alloc(0))).toBe(true);
    const output = outputs[0] ?? Buffer.alloc(0);
    expect(gunzipSync(output).equals(all)).toBe(true);
    // The 2.5 MB of JSON shrank; the random runs were stored.
    expect(output.length).toBeLessThan(200_000 + 70_000 + 2_500_000 / 10);
  });

  it('refuses ranges declared out of order', () => {
    const gzip = createArchiveGzip();
    gzip.compress(100, 200);
    expect(() => gzip.compress(50, 60)).toThrow(RangeError);
  });
});

describe('HashingCounter', () => {
  it('counts and hashes what passes through, unchanged', async () => {
    const counter = new HashingCounter();
    const data = randomBytes(100_001);
    const out: Buffer[] = [];
    counter.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise<void>((resolve) => counter.on('end', resolve));
    for (const chunk of chunked(data, 4096)) counter.write(chunk);
    counter.end();
    await ended;
    expect(Buffer.concat(out).equals(data)).toBe(true);
    expect(counter.bytes).toBe(data.length);
    expect(counter.digest()).toBe(`sha256:${createHash('sha256').update(data).digest('hex')}`);
  });
});
