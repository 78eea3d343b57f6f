import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';

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
