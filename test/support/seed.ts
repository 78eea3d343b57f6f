/**
 * Seeding a registry with many small images fast, straight over the distribution API: one shared layer (uploaded
 * once, then mounted), and per image its own config (so its own digest) and manifest. For suites that need an
 * image at each of a hundred references; pushTestImages (skopeo) stays the way to build richer images.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface SeededImage {
  /** REPOSITORY:TAG as asked. */
  name: string;
  digest: string;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A one-file tar, by hand: 512-byte header, content padded to 512, two zero blocks. */
function tinyTar(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  content.copy(padded);
  return Buffer.concat([header, padded, Buffer.alloc(1024)]);
}

async function expectStatus(res: Response, wanted: number[], what: string): Promise<void> {
  if (!wanted.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

export async function uploadBlob(base: string, repository: string, bytes: Buffer, digest: string, mountFrom: string | undefined): Promise<void> {
  const start = await fetch(`${base}/v2/${repository}/blobs/uploads/${mountFrom === undefined ? '' : `?mount=${digest}&from=${mountFrom}`}`, { method: 'POST' });
  if (start.status === 201) {
    await start.arrayBuffer();
    return;
  }
  await expectStatus(start, [202], `start upload to ${repository}`);
  const location = new URL(start.headers.get('location') ?? '', base);
  location.searchParams.set('digest', digest);
  await expectStatus(await fetch(location, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } }), [201], `upload ${digest} to ${repository}`);
}

/**
 * Push one small image at each `REPOSITORY:TAG` of `names` into the registry at `base` (http://HOST:PORT),
 * `concurrency` at a time. Every image shares one layer; each has its own config and digest.
 */
export async function seedImages(base: string, names: readonly string[], concurrency = 8): Promise<SeededImage[]> {
  const tar = tinyTar('hello.txt', Buffer.from('a small layer every seeded image shares\n'));
  const layer = gzipSync(tar, { level: 1 });
  const layerDigest = sha256(layer);
  const diffId = sha256(tar);
  const results: SeededImage[] = new Array<SeededImage>(names.length);
  let firstRepository: string | undefined;
  let next = 0;
  const seedOne = async (index: number): Promise<void> => {
    const name = names[index] ?? '';
    const colon = name.lastIndexOf(':');
    const repository = name.slice(0, colon);
    const tag = name.slice(colon + 1);
    await uploadBlob(base, repository, layer, layerDigest, firstRepository);
    const config = Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', config: { Labels: { 'org.airgap.test.seeded': name } },
      rootfs: { type: 'layers', diff_ids: [diffId] },
    }));
    const configDigest = sha256(config);
    await uploadBlob(base, repository, config, configDigest, undefined);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    }));
    const res = await fetch(`${base}/v2/${repository}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    await expectStatus(res, [201], `put manifest ${name}`);
    results[index] = { name, digest: sha256(manifest) };
  };
  // The first image uploads the layer; every later one mounts it from there.
  if (names.length > 0) {
    await seedOne(0);
    firstRepository = names[0]?.slice(0, names[0].lastIndexOf(':'));
    next = 1;
  }
  // Images of one repository go one after another: docker-registry 2.8 can lose a blob link when two pushes
  // into the same repository mount and upload the same layer at once (seen as MANIFEST_BLOB_UNKNOWN under load).
  const byRepository = new Map<string, number[]>();
  for (let index = next; index < names.length; index++) {
    const name = names[index] ?? '';
    const repository = name.slice(0, name.lastIndexOf(':'));
    byRepository.set(repository, [...(byRepository.get(repository) ?? []), index]);
  }
  const groups = [...byRepository.values()];
  let nextGroup = 0;
  const worker = async (): Promise<void> => {
    while (nextGroup < groups.length) {
      for (const index of groups[nextGroup++] ?? []) await seedOne(index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}
