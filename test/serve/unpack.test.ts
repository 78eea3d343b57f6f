import { createWriteStream } from 'node:fs';
import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { DigestMismatchError } from '../../src/errors.ts';
import type { ServeEvent } from '../../src/serve/events.ts';
import { startServer } from '../../src/serve/server.ts';
import { buildOciLayout, demoImageSet, type BuiltImage } from '../support/images.ts';
import { sha256Digest } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';

// An archive is unpacked into the store once, every blob checked against its digest; a restart over the same
// store reads only the archive's head; a corrupt blob stops the start and leaves nothing under its name.
const tmp = useTempDir('airgap-unpack-');
let layout: string;
let images: BuiltImage[];

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath, entry.name)));
  }
  // The small files first, as airgap collect writes them.
  return out.sort((a, b) => Number(a.startsWith('blobs/')) - Number(b.startsWith('blobs/')) || (a < b ? -1 : 1));
}

/** A layout directory as images.tar.gz: the shape of an OCI layout archive, index.json first. */
async function tarGz(dir: string, archive: string): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(Readable.from(pack), createGzip({ level: 1 }), createWriteStream(archive));
  for (const name of await files(dir)) {
    const bytes = await readFile(join(dir, name));
    await new Promise<void>((resolve, reject) => pack.entry({ name, size: bytes.length }, bytes, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await written;
}

function collector(): { events: ServeEvent[]; onEvent: (e: ServeEvent) => void } {
  const events: ServeEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

beforeAll(async () => {
  layout = join(tmp.path, 'layout');
  images = await buildOciLayout(layout, demoImageSet());
});

describe('serving images.tar.gz', () => {
  it('unpacks once into --store, and a restart reads only the head of the archive', async () => {
    const dir = join(tmp.path, 'carried');
    await mkdir(dir);
    await tarGz(layout, join(dir, 'images.tar.gz'));
    const store = join(tmp.path, 'store');

    const first = collector();
    // The directory holding images.tar.gz, as the collect side hands it over.
    const server = await startServer({ source: dir, listen: '127.0.0.1:0', store, onEvent: first.onEvent });
    try {
      const done = first.events.find((e) => e.type === 'unpack-done');
      expect(done).toMatchObject({ images: images.length, reused: 0, readWhole: true });
      for (const image of images) {
        const res = await fetch(`${server.url}/v2/${image.repository}/manifests/${image.tag}`);
        expect(res.headers.get('docker-content-digest')).toBe(image.digest);
        for (const blob of image.blobs) expect((await fetch(`${server.url}/v2/${image.repository}/blobs/${blob}`, { method: 'HEAD' })).status).toBe(200);
      }
    } finally {
      await server.close();
    }

    const second = collector();
    const again = await startServer({ source: join(dir, 'images.tar.gz'), listen: '127.0.0.1:0', store, onEvent: second.onEvent });
    try {
      expect(second.events.find((e) => e.type === 'unpack-done')).toMatchObject({ written: 0, readWhole: false });
      expect(again.images).toBe(images.length);
    } finally {
      await again.close();
    }
  });

  it('refuses an archive with a corrupt blob, naming it, and stores nothing under its digest', async () => {
    const broken = join(tmp.path, 'broken-layout');
    await cp(layout, broken, { recursive: true });
    const layer = images.find((i) => i.repository === 'airgap-test/app-c')?.manifests[0]?.layers[1];
    if (layer === undefined) throw new Error('app-c has two layers');
    const path = join(broken, 'blobs', 'sha256', layer.digest.slice(7));
    const bytes = await readFile(path);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    const archive = join(tmp.path, 'broken.tar.gz');
    await tarGz(broken, archive);
    const store = join(tmp.path, 'broken-store');
    const err: unknown = await startServer({ source: archive, listen: '127.0.0.1:0', store }).then(async (s) => {
      await s.close();
      return undefined;
    }, (e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as Error).message).toContain(layer.digest);
    await expect(stat(join(store, 'blobs', 'sha256', layer.digest.slice(7)))).rejects.toThrow();
    expect(await readdir(join(store, 'tmp'))).toEqual([]);
    expect(sha256Digest(bytes)).not.toBe(layer.digest);
  });
});
