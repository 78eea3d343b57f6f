import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import type { TarEntry } from '../../src/archive/tar-entry.ts';
import { writeTarGz } from '../../src/archive/write-archive.ts';
import { AirgapError } from '../../src/errors.ts';
import { run } from '../support/process.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-write-');
async function readTarGz(file: string): Promise<{ name: string; data: Buffer }[]> {
  const members: { name: string; data: Buffer }[] = [];
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      members.push({ name: header.name, data: Buffer.concat(chunks) });
      next();
    });
  });
  await pipeline(createReadStream(file), createGunzip(), ex);
  return members;
}

async function* chunksOf(data: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < data.length; i += size) {
    await Promise.resolve();
    yield data.subarray(i, i + size);
  }
}

function small(name: string, text: string): TarEntry {
  const bytes = Buffer.from(text);
  return { name, size: bytes.length, bytes };
}

describe('writeTarGz', () => {
  it('writes the same bytes for the same entries, however their sources are chunked', async () => {
    const dir = await tmp.dir();
    const layer = randomBytes(500_000);
    const head = [small('oci-layout', '{"imageLayoutVersion":"1.0.0"}\n'), small('index.json', JSON.stringify({ schemaVersion: 2, manifests: [] }))];
    const digests = [];
    for (const size of [1_000, 65_536, 333_333]) {
      const written = await writeTarGz(join(dir, `same-${size}.tar.gz`), async (append) => {
        for (const entry of head) await append(entry);
        await append({ name: `blobs/sha256/${'c'.repeat(64)}`, size: layer.length, open: () => chunksOf(layer, size) });
      });
      digests.push(written.sha256);
    }
    expect(new Set(digests).size).toBe(1);
  });

  it('writes a tar.gz with exactly the entries given, in order, and reports its sha256 and size', async () => {
    const dir = await tmp.dir();
    const path = join(dir, 'images.tar.gz');
    const layerA = randomBytes(300_000);
    const layerB = randomBytes(70_001);
    const entries: TarEntry[] = [
      small('oci-layout', '{"imageLayoutVersion":"1.0.0"}\n'),
      small('index.json', JSON.stringify({ schemaVersion: 2, manifests: [] }, null, 2)),
      small('manifest.json', '[]\n'),
      { name: `blobs/sha256/${'a'.repeat(64)}`, size: layerA.length, open: () => chunksOf(layerA, 65_536) },
      small('between', 'a small entry after the switch to stored blocks'),
      { name: `blobs/sha256/${'b'.repeat(64)}`, size: layerB.length, open: () => chunksOf(layerB, 10_000) },
      { name: 'empty', size: 0, open: () => chunksOf(Buffer.alloc(0), 1) },
    ];
    const written = await writeTarGz(path, async (append) => {
      for (const entry of entries) await append(entry);
    });

    const onDisk = await readFile(path);
    expect(written.path).toBe(path);
    expect(written.size).toBe(onDisk.length);
    expect((await stat(path)).size).toBe(written.size);
    expect(written.sha256).toBe(`sha256:${createHash('sha256').update(onDisk).digest('hex')}`);

    const members = await readTarGz(path);
    expect(members.map((m) => m.name)).toEqual(entries.map((e) => e.name));
    expect(members[3]!.data.equals(layerA)).toBe(true);
    expect(members[4]!.data.toString()).toBe('a small entry after the switch to stored blocks');
    expect(members[5]!.data.equals(layerB)).toBe(true);
    expect(members[6]!.data.length).toBe(0);
    expect(members[0]!.data.toString()).toBe('{"imageLayoutVersion":"1.0.0"}\n');
    expect(await readdir(dir)).toEqual(['images.tar.gz']);
    // An independent reader agrees on the framing, CRC and length.
    await run('gzip', ['-t', path]);
  });

  it('compresses the small entries and stores the streamed ones', async () => {
    const dir = await tmp.dir();
    const path = join(dir, 'images.tar.gz');
    const json = Buffer.from(`${JSON.stringify({ schemaVersion: 2, manifests: [] })}\n`.repeat(10_000));
    // Compressible on purpose: a stored block shows the switch happened (random bytes would be stored anyway).
    const layer = Buffer.alloc(1_000_000, 'a');
    const written = await writeTarGz(path, async (append) => {
      await append({ name: 'index.json', size: json.length, bytes: json });
      await append({ name: 'blobs/sha256/layer', size: layer.length, open: () => chunksOf(layer, 65_536) });
    });
    expect(written.size).toBeGreaterThan(layer.length);
    expect(written.size).toBeLessThan(layer.length * 1.001 + json.length / 10);
    const members = await readTarGz(path);
    expect(members[1]!.data.equals(layer)).toBe(true);
  });

  it('writes an archive with no entries', async () => {
    const dir = await tmp.dir();
    const path = join(dir, 'charms.tar.gz');
    const written = await writeTarGz(path, async () => {});
    expect(await readTarGz(path)).toEqual([]);
    expect(written.size).toBe((await stat(path)).size);
  });

  it('replaces a file already under the final name', async () => {
    const dir = await tmp.dir();
    const path = join(dir, 'images.tar.gz');
    await writeTarGz(path, async (append) => append(small('old', 'old')));
    await writeTarGz(path, async (append) => append(small('new', 'new')));
    expect((await readTarGz(path)).map((m) => m.name)).toEqual(['new']);
    expect(await readdir(dir)).toEqual(['images.tar.gz']);
  });

  // Repeated: whether the temp file's open lands before or after the clean-up is a race, and one run can miss it.
  it.each([
    ['before any entry', 0],
    ['after the small entries', 2],
    ['in the middle of a streamed entry', 3],
  ])('leaves neither the final file nor a .partial when fill throws %s', async (_name, after) => {
    const dir = await tmp.dir();
    const layer = randomBytes(200_000);
    for (let i = 0; i < 150; i++) {
      const failure = new Error('registry went away');
      const promise = writeTarGz(join(dir, `images-${i}.tar.gz`), async (append) => {
        if (after === 0) throw failure;
        await append(small('oci-layout', '{}'));
        await append(small('index.json', '{}'));
        if (after === 2) throw failure;
        await append({
          name: 'blobs/sha256/layer',
          size: layer.length,
          open: async function* () {
            yield layer.subarray(0, 100_000);
            throw failure;
          },
        });
      });
      await expect(promise).rejects.toThrow();
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('passes on the error fill threw', async () => {
    const dir = await tmp.dir();
    const failure = new Error('resolve failed for busybox:1.36');
    await expect(writeTarGz(join(dir, 'x.tar.gz'), async () => {
      throw failure;
    })).rejects.toBe(failure);
  });

  it('leaves nothing behind when the signal aborts', async () => {
    const dir = await tmp.dir();
    const controller = new AbortController();
    const layer = randomBytes(100_000);
    const promise = writeTarGz(join(dir, 'images.tar.gz'), async (append) => {
      await append(small('oci-layout', '{}'));
      await append({
        name: 'blobs/sha256/layer',
        size: layer.length,
        open: async function* () {
          yield layer.subarray(0, 50_000);
          controller.abort();
          yield layer.subarray(50_000);
        },
      });
    }, { signal: controller.signal });
    await expect(promise).rejects.toThrow();
    expect(await readdir(dir)).toEqual([]);
  });

  it('says "no space left" and names the path on a really full disk, and leaves the directory empty', async () => {
    const dir = await tmp.dir();
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    try {
      const path = join(dir, 'images.tar.gz');
      const layer = randomBytes(64 * 1024);
      let caught: unknown;
      try {
        await writeTarGz(path, async (append) => {
          await append(small('oci-layout', '{"imageLayoutVersion":"1.0.0"}'));
          for (let i = 0; i < 16; i++) {
            await append({ name: `blobs/sha256/${String(i).padStart(64, '0')}`, size: layer.length, open: () => chunksOf(layer, 16_384) });
          }
        }, { expectedBytes: 16 * layer.length });
      } catch (err: unknown) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AirgapError);
      const message = (caught as AirgapError).message;
      expect(message).toContain('no space left');
      expect(message).toContain(path);
      expect(message).toContain('needs about 1.0 MB');
      expect((caught as AirgapError).hint).toMatch(/free some space/);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await run('umount', [dir]);
    }
  });
});
