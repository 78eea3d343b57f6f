import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack as createPack, type Pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { appendEntry, tarSize, type TarEntry } from '../../src/archive/tar-entry.ts';

interface Member {
  name: string;
  size: number;
  mode: number | undefined;
  uid: number | undefined;
  mtime: number | undefined;
  data: Buffer;
}

/** Pack the entries with appendEntry and return the tar's bytes. */
async function packEntries(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = createPack();
  const chunks: Buffer[] = [];
  const collected = pipeline(
    pack,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
  );
  for (const entry of entries) await appendEntry(pack, entry);
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

async function readTar(tar: Buffer): Promise<Member[]> {
  const members: Member[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        members.push({ name: header.name, size: header.size ?? 0, mode: header.mode, uid: header.uid, mtime: header.mtime?.getTime(), data: Buffer.concat(chunks) });
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(tar);
  await done;
  return members;
}

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

async function* chunksOf(data: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < data.length; i += size) {
    await Promise.resolve();
    yield data.subarray(i, i + size);
  }
}

describe('tarSize', () => {
  it.each<[string, number[]]>([
    ['no entries', []],
    ['one empty file', [0]],
    ['one byte', [1]],
    ['511 bytes', [511]],
    ['512 bytes', [512]],
    ['513 bytes', [513]],
    ['10000 bytes', [10_000]],
    ['1 MiB + 1', [1024 * 1024 + 1]],
    ['mixed', [0, 1, 511, 512, 513, 10_000]],
    ['mixed, reversed', [10_000, 513, 512, 511, 1, 0]],
    ['many empties', [0, 0, 0, 0, 0]],
    ['block multiples', [1024, 2048, 512 * 7]],
  ])('equals the bytes tar-stream writes for %s', async (_name, sizes) => {
    const entries = sizes.map((size, i): TarEntry => ({ name: `blobs/sha256/${String(i).padStart(64, '0')}`, size, bytes: pattern(size, i) }));
    const tar = await packEntries(entries);
    expect(tarSize(entries)).toBe(tar.length);
  });

  it('equals the bytes written for streamed entries and names of exactly 100 bytes', async () => {
    const name = `${'n'.repeat(96)}.tar`;
    expect(Buffer.byteLength(name)).toBe(100);
    const data = pattern(70_001, 3);
    const entries: TarEntry[] = [
      { name, size: data.length, open: () => chunksOf(data, 4096) },
      { name: 'index.json', size: 5, bytes: Buffer.from('{}\n\n\n') },
    ];
    const tar = await packEntries(entries);
    expect(tarSize(entries)).toBe(tar.length);
  });
});

describe('appendEntry', () => {
  it('writes bytes entries in order with fixed metadata', async () => {
    const entries: TarEntry[] = [
      { name: 'oci-layout', size: 30, bytes: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
      { name: 'empty', size: 0, bytes: Buffer.alloc(0) },
      { name: 'blobs/sha256/abc', size: 513, bytes: pattern(513, 7) },
    ];
    const members = await readTar(await packEntries(entries));
    expect(members.map((m) => [m.name, m.size])).toEqual([['oci-layout', 30], ['empty', 0], ['blobs/sha256/abc', 513]]);
    for (const [i, m] of members.entries()) {
      expect(m.data.equals(entries[i]!.bytes!)).toBe(true);
      expect(m.mode).toBe(0o644);
      expect(m.uid).toBe(0);
      expect(m.mtime).toBe(0);
    }
  });

  it('streams an async-iterable source', async () => {
    const data = randomBytes(300_000);
    const members = await readTar(await packEntries([
      { name: 'small', size: 2, bytes: Buffer.from('ok') },
      { name: 'blobs/sha256/layer', size: data.length, open: () => chunksOf(data, 16_384) },
      { name: 'after', size: 3, bytes: Buffer.from('end') },
    ]));
    expect(members.map((m) => m.name)).toEqual(['small', 'blobs/sha256/layer', 'after']);
    expect(members[1]!.data.equals(data)).toBe(true);
    expect(members[2]!.data.toString()).toBe('end');
  });

  it('gives the same bytes twice (reproducible archives)', async () => {
    const entries = (): TarEntry[] => [{ name: 'a', size: 100, bytes: pattern(100, 1) }, { name: 'b', size: 1000, open: () => chunksOf(pattern(1000, 2), 100) }];
    expect((await packEntries(entries())).equals(await packEntries(entries()))).toBe(true);
  });

  /** Start a pack whose output is drained and whose errors are kept, for entries expected to fail. */
  function failingPack(): { pack: Pack; errors: unknown[] } {
    const pack = createPack();
    const errors: unknown[] = [];
    pack.on('error', (err: unknown) => errors.push(err));
    pack.resume();
    return { pack, errors };
  }

  it('rejects when the source throws', async () => {
    const { pack } = failingPack();
    async function* broken(): AsyncIterable<Buffer> {
      yield Buffer.alloc(1000);
      throw new Error('connection reset by peer');
    }
    await expect(appendEntry(pack, { name: 'blobs/sha256/x', size: 5000, open: broken })).rejects.toThrow();
    pack.destroy();
  });

  it('rejects when the source throws before its first chunk', async () => {
    const { pack } = failingPack();
    // eslint-disable-next-line require-yield
    async function* broken(): AsyncIterable<Buffer> {
      throw new Error('registry said 500');
    }
    await expect(appendEntry(pack, { name: 'blobs/sha256/y', size: 10, open: broken })).rejects.toThrow();
    pack.destroy();
  });

  it('rejects when the source gives fewer bytes than announced', async () => {
    const { pack } = failingPack();
    await expect(appendEntry(pack, { name: 'short', size: 100, open: () => chunksOf(Buffer.alloc(99), 50) })).rejects.toThrow();
    pack.destroy();
  });

  it('rejects an entry with neither bytes nor a source, naming it', async () => {
    const { pack } = failingPack();
    await expect(appendEntry(pack, { name: 'nothing', size: 0 })).rejects.toThrow(/tar entry nothing has neither bytes nor a source/);
    pack.destroy();
  });
});
