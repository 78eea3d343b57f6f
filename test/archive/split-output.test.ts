import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveOfPart } from '../../src/archive/archive-files.ts';
import { isPartOf, partName, partSuffixWidth, splitOutput } from '../../src/archive/split-output.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir('airgap-split-unit-');
});
afterAll(async () => {
  await tmp.remove();
});

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('splitOutput', () => {
  it('cuts the bytes into parts of exactly the size (the last one smaller), whatever the chunks, renamed only on commit', async () => {
    const dir = join(tmp.path, 'a');
    await mkdir(dir);
    const bytes = Buffer.from(Array.from({ length: 2500 }, (_, i) => i % 251));
    const output = splitOutput(join(dir, 'images.tar.gz'), 1000, 2600);
    const chunks = [bytes.subarray(0, 7), bytes.subarray(7, 1999), bytes.subarray(1999, 2000), bytes.subarray(2000)];
    await pipeline(Readable.from(chunks), output.stream);
    expect((await readdir(dir)).filter((n) => !n.startsWith('.'))).toEqual([]);
    const parts = await output.commit();
    expect(parts?.map((p) => [p.path, p.size])).toEqual([[join(dir, 'images.tar.gz.000'), 1000], [join(dir, 'images.tar.gz.001'), 1000], [join(dir, 'images.tar.gz.002'), 500]]);
    const read = await Promise.all((parts ?? []).map((p) => readFile(p.path)));
    expect(Buffer.concat(read)).toEqual(bytes);
    expect(parts?.map((p) => p.sha256)).toEqual(read.map(sha256));
    expect((await readdir(dir)).sort()).toEqual(['images.tar.gz.000', 'images.tar.gz.001', 'images.tar.gz.002']);
  });

  it('leaves nothing when discarded', async () => {
    const dir = join(tmp.path, 'b');
    await mkdir(dir);
    const output = splitOutput(join(dir, 'x'), 10, 100);
    await pipeline(Readable.from([Buffer.alloc(35)]), output.stream);
    await output.discard();
    expect(await readdir(dir)).toEqual([]);
  });

  it('names parts so that a shell glob lists them in order', () => {
    expect(partSuffixWidth(4e9, 1e6)).toBe(4);
    expect(partSuffixWidth(999e6, 1e6)).toBe(3);
    expect(partName('images.tar.gz', 7, 3)).toBe('images.tar.gz.007');
    expect(isPartOf('images.tar.gz.012', 'images.tar.gz')).toBe(true);
    expect(isPartOf('images.tar.gz.12', 'images.tar.gz')).toBe(false);
    expect(isPartOf('images.tar.gz.partial', 'images.tar.gz')).toBe(false);
    expect(archiveOfPart('/media/usb/images.tar.gz.003')).toBe('/media/usb/images.tar.gz');
    expect(archiveOfPart('/media/usb/images.tar.gz')).toBe('/media/usb/images.tar.gz');
  });
});
