import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createArchiveGzip, HashingCounter, storeFromNowOn } from '../../src/archive/gzip-output.ts';

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
  before: number;
  output: Buffer;
}

/**
 * Write `head`, switch to stored blocks, write `tail`; `awaitWrites` says whether the head is written
 * with backpressure first or left in flight while the switch happens. Returns the output and how much of
 * it had come out when the switch completed.
 */
async function gzipWithSwitch(head: Buffer, tail: Buffer, chunkSize: number, awaitWrites: boolean): Promise<Run> {
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
    if (!gzip.write(chunk) && awaitWrites) await new Promise<void>((resolve) => gzip.once('drain', resolve));
  };
  for (const chunk of chunked(head, chunkSize)) await write(chunk);
  await storeFromNowOn(gzip);
  const before = emitted;
  for (const chunk of chunked(tail, chunkSize)) await write(chunk);
  gzip.end();
  await ended;
  return { before, output: Buffer.concat(out) };
}

describe('createArchiveGzip + storeFromNowOn', () => {
  it.each([
    ['head and tail, writes awaited', 200_000, 3_000_000, 65_536, true],
    ['head and tail, writes in flight at the switch', 200_000, 3_000_000, 65_536, false],
    ['odd chunk sizes', 123_457, 1_000_003, 7_919, true],
    ['switch before anything is written', 0, 500_000, 65_536, true],
    ['switch with nothing after it', 300_000, 0, 65_536, true],
    ['tiny head', 1, 10_000, 1, false],
  ])('gunzips back to the exact input: %s', async (_name, headSize, tailSize, chunkSize, awaitWrites) => {
    const head = jsonHead(headSize);
    const tail = randomBytes(tailSize);
    const { output } = await gzipWithSwitch(head, tail, chunkSize, awaitWrites);
    expect(gunzipSync(output).equals(Buffer.concat([head, tail]))).toBe(true);
  });

  it('compresses the head and stores incompressible bytes after the switch with less than 0.1% overhead', async () => {
    const head = jsonHead(500_000);
    const tail = randomBytes(4 * 1024 * 1024);
    const { before, output } = await gzipWithSwitch(head, tail, 65_536, true);
    // The head went through deflate: it came out much smaller than it went in.
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(head.length / 10);
    const after = output.length - before;
    expect(after).toBeGreaterThanOrEqual(tail.length);
    expect(after).toBeLessThan(tail.length * 1.001);
  });

  // Random bytes would come out stored even at level 1 (deflate falls back to stored blocks when they are
  // smaller): compressible bytes after the switch show the switch itself happened.
  it('stores even compressible bytes once switched', async () => {
    const head = jsonHead(100_000);
    const tail = jsonHead(1_000_000);
    const { before, output } = await gzipWithSwitch(head, tail, 65_536, true);
    const after = output.length - before;
    expect(after).toBeGreaterThanOrEqual(tail.length);
    expect(after).toBeLessThan(tail.length * 1.001);
    expect(gunzipSync(output).equals(Buffer.concat([head, tail]))).toBe(true);
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
