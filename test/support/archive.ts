import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { run } from './process.ts';

export interface ArchiveMember {
  name: string;
  size: number;
}

/**
 * Unpack a .tar.gz into `dir` and list its members in order, duplicates included, so tests can check
 * both the content (with skopeo, docker) and the layout (small files first, each blob once).
 */
export async function unpackTarGz(archive: string, dir: string): Promise<ArchiveMember[]> {
  const members: ArchiveMember[] = [];
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    members.push({ name: header.name, size: header.size ?? 0 });
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      const target = join(dir, header.name);
      mkdir(dirname(target), { recursive: true })
        .then(() => writeFile(target, Buffer.concat(chunks)))
        .then(() => next(), next);
    });
  });
  await pipeline(createReadStream(archive), createGunzip(), ex);
  return members;
}

/** Flip one byte of the last member (a layer) of `dir`/images.tar.gz and repack it in the same order. */
export async function corruptLastLayer(dir: string): Promise<void> {
  const work = join(dir, 'corrupting');
  await mkdir(work);
  await run('tar', ['-xzf', join(dir, 'images.tar.gz'), '-C', work]);
  const listing = (await run('tar', ['-tzf', join(dir, 'images.tar.gz')])).stdout.toString().trim().split('\n');
  const layer = listing[listing.length - 1] ?? '';
  const bytes = await readFile(join(work, layer));
  bytes[100] = (bytes[100] ?? 0) ^ 0xff;
  await writeFile(join(work, layer), bytes);
  await run('tar', ['-czf', join(dir, 'images.tar.gz'), '-C', work, ...listing]);
  await rm(work, { recursive: true });
}
