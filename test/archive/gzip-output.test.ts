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
 * Write `head` then `tail` in chunks of `chunkSize`, with the switch to stored blocks placed at the head's
 * length. `switchLate` calls storeFrom only after part of the tail is already written, as can happen when
 * the caller learns the offset late.
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
  if (!switchLate) gzip.storeFrom(head.length);
  for (const chunk of chunked(head, chunkSize)) await write(chunk);
  await new Promise((resolve) => setImmediate(resolve));
  const before = emitted;
  const tailChunks = chunked(tail, chunkSize);
  if (switchLate) {
    const first = tailChunks.shift();
    if (first !== undefined) await write(first);
    gzip.storeFrom(head.length);
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
    ['switch learnt after the tail began', 50_000, 400_000, 10_000, true],
    ['a tail of exactly one stored block', 10, 65_535, 4096, false],
  ])('gunzips back to the exact input: %s', async (_name, headSize, tailSize, chunkSize, switchLate) => {
    const head = jsonHead(headSize);
    const tail = randomBytes(tailSize);
    const { output } = await gzipWithSwitch(head, tail, chunkSize, switchLate);
    expect(gunzipSync(output).equals(Buffer.concat([head, tail]))).toBe(true);
  });

  it('deflates everything at level 1 when no switch point is given', async () => {
    const data = jsonHead(400_000);
    const gzip = createArchiveGzip();
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
    const { before, output } = await gzipWithSwitch(head, tail, 65_536);
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(head.length / 10);
    const after = output.length - before;
    expect(after).toBeGreaterThanOrEqual(tail.length);
    expect(after).toBeLessThan(tail.length * 1.001);
  });

  it('stores even compressible bytes after the switch', async () => {
    const head = jsonHead(100_000);
    const tail = jsonHead(1_000_000);
    const { before, output } = await gzipWithSwitch(head, tail, 65_536);
    const after = output.length - before;
    expect(after).toBeGreaterThanOrEqual(tail.length);
    expect(after).toBeLessThan(tail.length * 1.001);
    expect(gunzipSync(output).equals(Buffer.concat([head, tail]))).toBe(true);
  });

  it('gives the same bytes however the input is chunked', async () => {
    const head = jsonHead(70_000);
    const tail = randomBytes(700_000);
    const outputs = await Promise.all([1_000, 4_096, 65_536, 100_003].map(async (size) => (await gzipWithSwitch(head, tail, size)).output));
    for (const output of outputs) expect(output.equals(outputs[0] ?? Buffer.alloc(0))).toBe(true);
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
