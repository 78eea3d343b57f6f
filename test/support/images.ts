/**
 * Test images the tests own: generated into an OCI image layout (real gzip tar layers, configs with correct
 * diff_ids, OCI and Docker media types, multi-arch indexes with an attestation entry), then pushed to a real
 * registry by skopeo, so what the upstream registry serves was not written by our code.
 */
import { createCipheriv, createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Pack } from 'tar-stream';
import type { RunningRegistry } from './registry.ts';
import { inspectRaw, sha256Digest, skopeo, skopeoAccessArgs } from './skopeo.ts';
import type { RegistryAccess } from './skopeo.ts';
import { makeTempDir } from './tmp.ts';

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  inToto: 'application/vnd.in-toto+json',
} as const;

/** One layer: files of deterministic pseudo-random bytes. Same seed, size and files give the same layer bytes. */
export interface LayerSpec {
  seed: string | number;
  /** Bytes of file content in the layer (the tar and its gzip are a little larger; random bytes do not compress). */
  sizeBytes: number;
  /** How many files the bytes are split into. Default 1. */
  files?: number;
}

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
  /**
   * This platform's layers. Default: the image's layers, the last one made per platform (its seed suffixed
   * with the platform), as a real multi-arch build shares a base and differs on top.
   */
  layers?: LayerSpec[];
}

export interface TestImageSpec {
  /** Path in the registry, e.g. 'airgap-test/app-a'. */
  repository: string;
  tag: string;
  /** 'oci' (default) or 'docker' (Docker v2 schema 2 media types, as Docker Hub serves most images). */
  format?: 'oci' | 'docker';
  layers: LayerSpec[];
  /** When set, the image is an index (OCI) or manifest list (docker) with one manifest per platform. */
  platforms?: PlatformSpec[];
  /**
   * Add a buildkit-style attestation manifest (platform unknown/unknown, annotation
   * vnd.docker.reference.type: attestation-manifest) to the index. OCI multi-arch images only.
   */
  attestation?: boolean;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** One image manifest (the only one of a single-platform image, or a child of an index). */
export interface BuiltManifest {
  digest: string;
  mediaType: string;
  size: number;
  /** Absent for a single-platform image (its platform is in the config). */
  platform?: Platform;
  /** True for the unknown/unknown attestation entry a platform filter must skip. */
  attestation: boolean;
  config: Descriptor;
  /** In manifest order, which is rootfs.diff_ids order. */
  layers: Descriptor[];
  /** sha256 of each uncompressed layer tar, as in the config's rootfs.diff_ids. */
  diffIds: string[];
}

export interface BuiltImage {
  repository: string;
  tag: string;
  /** The `org.opencontainers.image.ref.name` of the image in the layout's index.json. */
  layoutName: string;
  /** Digest of the top manifest or index. */
  digest: string;
  mediaType: string;
  size: number;
  /** The image's manifests: the single one, or an index's children in index order. */
  manifests: BuiltManifest[];
  /** Every blob digest, configs and layers, deduplicated: what a registry serves under /v2/NAME/blobs/. */
  blobs: string[];
  /** The size of every digest of the image: top manifest or index, child manifests, configs, layers. */
  sizes: Record<string, number>;
}

interface BuiltLayer {
  digest: string;
  diffId: string;
  size: number;
}

function layerKey(layer: LayerSpec): string {
  return JSON.stringify([String(layer.seed), layer.sizeBytes, layer.files ?? 1]);
}

function platformString(p: Platform): string {
  return p.variant === undefined ? `${p.os}/${p.architecture}` : `${p.os}/${p.architecture}/${p.variant}`;
}

/** Streams `size` deterministic bytes: AES-256-CTR keystream keyed by the seed (fast enough for benchmark sizes). */
async function* pseudoRandomBytes(seed: string, fileIndex: number, size: number): AsyncGenerator<Buffer> {
  const key = createHash('sha256').update(`airgap-test-layer\0${seed}`).digest();
  const iv = createHash('sha256').update(`file\0${fileIndex}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const chunk = 256 * 1024;
  const zeros = Buffer.alloc(chunk);
  for (let left = size; left > 0; left -= chunk) {
    yield cipher.update(left >= chunk ? zeros : zeros.subarray(0, left));
  }
}

class HashTap extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

const EPOCH = new Date(0);

async function writeTarEntries(pack: Pack, spec: LayerSpec): Promise<void> {
  const seed = String(spec.seed);
  const files = Math.max(1, spec.files ?? 1);
  // Directory names from the seed keep distinct layers' files apart when docker stacks them.
  const dir = `data/${seed.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  const header = { mtime: EPOCH, uid: 0, gid: 0, uname: 'root', gname: 'root' };
  pack.entry({ ...header, name: 'data/', type: 'directory', mode: 0o755 });
  pack.entry({ ...header, name: `${dir}/`, type: 'directory', mode: 0o755 });
  const base = Math.floor(spec.sizeBytes / files);
  for (let i = 0; i < files; i++) {
    const size = i === files - 1 ? spec.sizeBytes - base * (files - 1) : base;
    const entry = pack.entry({ ...header, name: `${dir}/file-${i}.bin`, type: 'file', mode: 0o644, size });
    const done = new Promise<void>((resolve, reject) => {
      entry.once('finish', resolve);
      entry.once('error', reject);
    });
    for await (const bytes of pseudoRandomBytes(seed, i, size)) {
      if (!entry.write(bytes)) await once(entry, 'drain');
    }
    // streamx's typings demand an argument to end(); null means "no final chunk" to it.
    entry.end(null);
    await done;
  }
  pack.finalize();
}

const STORED_ABOVE = 4 * 1024 * 1024;

async function writeLayer(blobsDir: string, spec: LayerSpec): Promise<BuiltLayer> {
  const pack = tar.pack();
  const uncompressed = new HashTap();
  const compressed = new HashTap();
  const tmp = join(blobsDir, `.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`);
  const written = pipeline(
    // tar-stream 3 is a streamx stream: Readable.from reads it through its async iterator, which node's
    // pipeline understands without guessing at streamx internals.
    Readable.from(pack),
    uncompressed,
    // Random bytes do not compress at any level, and deflate runs at ~50 MB/s here whatever the level: real
    // deflate (level 1) for test-sized layers, stored blocks (level 0, still gzip) for benchmark-sized ones.
    createGzip({ level: spec.sizeBytes > STORED_ABOVE ? 0 : 1 }),
    compressed,
    createWriteStream(tmp),
  );
  try {
    await Promise.all([writeTarEntries(pack, spec), written]);
  } catch (err: unknown) {
    pack.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
  const hex = compressed.hash.digest('hex');
  await rename(tmp, join(blobsDir, hex));
  return { digest: `sha256:${hex}`, diffId: `sha256:${uncompressed.hash.digest('hex')}`, size: compressed.bytes };
}

class LayoutWriter {
  readonly dir: string;
  readonly blobsDir: string;
  private readonly layers = new Map<string, Promise<BuiltLayer>>();

  constructor(dir: string) {
    this.dir = dir;
    this.blobsDir = join(dir, 'blobs', 'sha256');
  }

  /** Writes a blob once; manifests are stored as compact JSON and their digest is of exactly these bytes. */
  async writeBlob(bytes: Buffer): Promise<Descriptor & { bytes: Buffer }> {
    const digest = sha256Digest(bytes);
    const path = join(this.blobsDir, digest.slice('sha256:'.length));
    await writeFile(path, bytes);
    return { mediaType: '', digest, size: bytes.length, bytes };
  }

  async writeJson(value: unknown): Promise<Descriptor> {
    const { digest, size } = await this.writeBlob(Buffer.from(JSON.stringify(value)));
    return { mediaType: '', digest, size };
  }

  layer(spec: LayerSpec): Promise<BuiltLayer> {
    const key = layerKey(spec);
    let built = this.layers.get(key);
    if (built === undefined) {
      built = writeLayer(this.blobsDir, spec);
      this.layers.set(key, built);
    }
    return built;
  }
}

function layersFor(spec: TestImageSpec, platform: PlatformSpec): LayerSpec[] {
  if (platform.layers !== undefined) return platform.layers;
  return spec.layers.map((layer, i) =>
    i === spec.layers.length - 1 ? { ...layer, seed: `${String(layer.seed)}@${platformString(platform)}` } : layer,
  );
}

async function buildManifest(
  writer: LayoutWriter,
  spec: TestImageSpec,
  layerSpecs: LayerSpec[],
  platform: Platform,
  record: (digest: string, size: number) => void,
): Promise<BuiltManifest> {
  const docker = spec.format === 'docker';
  // In parallel: gzip runs on the libuv thread pool, and each layer streams, so memory stays flat.
  const layers = await Promise.all(layerSpecs.map((layerSpec) => writer.layer(layerSpec)));
  const config = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant === undefined ? {} : { variant: platform.variant }),
    created: '2024-01-01T00:00:00Z',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['/bin/sh'],
      // Makes each image's config (and so its digest) its own, even when two images share every layer.
      Labels: { 'org.airgap.test.image': `${spec.repository}:${spec.tag}`, 'org.airgap.test.platform': platformString(platform) },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layerSpecs.map((l) => ({ created: '2024-01-01T00:00:00Z', created_by: `airgap test layer ${String(l.seed)} (${l.sizeBytes} bytes)` })),
  };
  const configDesc = { ...(await writer.writeJson(config)), mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig };
  const layerDescs: Descriptor[] = layers.map((l) => ({
    mediaType: docker ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip,
    digest: l.digest,
    size: l.size,
  }));
  const mediaType = docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest;
  const manifest = { schemaVersion: 2, mediaType, config: configDesc, layers: layerDescs };
  const written = await writer.writeJson(manifest);
  record(configDesc.digest, configDesc.size);
  for (const l of layerDescs) record(l.digest, l.size);
  record(written.digest, written.size);
  return {
    digest: written.digest,
    mediaType,
    size: written.size,
    attestation: false,
    config: configDesc,
    layers: layerDescs,
    diffIds: layers.map((l) => l.diffId),
  };
}

/** A buildkit-like provenance attestation for `subject`: an in-toto statement as its only (uncompressed) layer. */
async function buildAttestation(
  writer: LayoutWriter,
  spec: TestImageSpec,
  subject: BuiltManifest,
  record: (digest: string, size: number) => void,
): Promise<BuiltManifest> {
  const statement = {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://slsa.dev/provenance/v0.2',
    subject: [{ name: `pkg:docker/${spec.repository}@${spec.tag}`, digest: { sha256: subject.digest.slice('sha256:'.length) } }],
    predicate: { builder: { id: 'airgap-test' } },
  };
  const layer = await writer.writeJson(statement);
  const config = {
    architecture: 'unknown',
    os: 'unknown',
    config: {},
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  };
  const configDesc = { ...(await writer.writeJson(config)), mediaType: MediaTypes.ociConfig };
  const layerDesc: Descriptor = {
    mediaType: MediaTypes.inToto,
    digest: layer.digest,
    size: layer.size,
    annotations: { 'in-toto.io/predicate-type': statement.predicateType },
  };
  const manifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers: [layerDesc] };
  const written = await writer.writeJson(manifest);
  record(configDesc.digest, configDesc.size);
  record(layerDesc.digest, layerDesc.size);
  record(written.digest, written.size);
  return {
    digest: written.digest,
    mediaType: MediaTypes.ociManifest,
    size: written.size,
    platform: { os: 'unknown', architecture: 'unknown' },
    attestation: true,
    config: configDesc,
    layers: [layerDesc],
    diffIds: [layer.digest],
  };
}

async function buildImage(writer: LayoutWriter, spec: TestImageSpec): Promise<BuiltImage> {
  const sizes: Record<string, number> = {};
  const record = (digest: string, size: number): void => {
    sizes[digest] = size;
  };
  const layoutName = `${spec.repository}:${spec.tag}`;
  const docker = spec.format === 'docker';

  if (spec.platforms === undefined) {
    if (spec.attestation === true) throw new Error(`${layoutName}: an attestation needs platforms (an index)`);
    const manifest = await buildManifest(writer, spec, spec.layers, { os: 'linux', architecture: 'amd64' }, record);
    return finish(spec, layoutName, manifest.digest, manifest.mediaType, manifest.size, [manifest], sizes);
  }

  if (spec.attestation === true && docker) throw new Error(`${layoutName}: attestations are an OCI index feature`);
  const manifests: BuiltManifest[] = [];
  const entries: Descriptor[] = [];
  for (const p of spec.platforms) {
    const platform: Platform = { os: p.os, architecture: p.architecture, ...(p.variant === undefined ? {} : { variant: p.variant }) };
    const built = { ...(await buildManifest(writer, spec, layersFor(spec, p), platform, record)), platform };
    manifests.push(built);
    entries.push({ mediaType: built.mediaType, digest: built.digest, size: built.size, platform });
  }
  if (spec.attestation === true) {
    const subject = manifests[0];
    if (subject === undefined) throw new Error(`${layoutName}: an attestation needs at least one platform`);
    const attestation = await buildAttestation(writer, spec, subject, record);
    manifests.push(attestation);
    entries.push({
      mediaType: attestation.mediaType,
      digest: attestation.digest,
      size: attestation.size,
      annotations: { 'vnd.docker.reference.digest': subject.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
      platform: { architecture: 'unknown', os: 'unknown' },
    });
  }
  const mediaType = docker ? MediaTypes.dockerManifestList : MediaTypes.ociIndex;
  const index = await writer.writeJson({ schemaVersion: 2, mediaType, manifests: entries });
  record(index.digest, index.size);
  return finish(spec, layoutName, index.digest, mediaType, index.size, manifests, sizes);
}

function finish(
  spec: TestImageSpec,
  layoutName: string,
  digest: string,
  mediaType: string,
  size: number,
  manifests: BuiltManifest[],
  sizes: Record<string, number>,
): BuiltImage {
  const blobs = new Set<string>();
  for (const m of manifests) {
    blobs.add(m.config.digest);
    for (const l of m.layers) blobs.add(l.digest);
  }
  return { repository: spec.repository, tag: spec.tag, layoutName, digest, mediaType, size, manifests, blobs: [...blobs], sizes };
}

/**
 * Writes an OCI image layout in `dir` (created if missing) holding `images`, each named in index.json by
 * `org.opencontainers.image.ref.name` = 'REPOSITORY:TAG'. Layers with the same seed, size and file count are
 * written once and shared.
 */
export async function buildOciLayout(dir: string, images: readonly TestImageSpec[]): Promise<BuiltImage[]> {
  const writer = new LayoutWriter(dir);
  await mkdir(writer.blobsDir, { recursive: true });
  const built: BuiltImage[] = [];
  for (const spec of images) built.push(await buildImage(writer, spec));
  const names = new Set<string>();
  for (const image of built) {
    if (names.has(image.layoutName)) throw new Error(`two test images named ${image.layoutName}`);
    names.add(image.layoutName);
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: built.map((image) => ({
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.size,
      annotations: { 'org.opencontainers.image.ref.name': image.layoutName },
    })),
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  return built;
}

function isOci(mediaType: string): boolean {
  return mediaType === MediaTypes.ociManifest || mediaType === MediaTypes.ociIndex;
}

/**
 * skopeo 1.9's oci: transport only finds index.json entries typed as OCI manifest or index ("no descriptor
 * found for reference" otherwise), so Docker-media-type images go through its dir: transport instead: a
 * directory with `manifest.json`, `<hex>.manifest.json` per child of a list, and blobs named by hex digest
 * (hard links into the layout).
 */
async function dirTransportView(layoutDir: string, viewsDir: string, image: BuiltImage): Promise<string> {
  const dir = join(viewsDir, image.digest.slice('sha256:'.length));
  await mkdir(dir, { recursive: true });
  const blob = (digest: string): string => join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const place = async (digest: string, name: string): Promise<void> => {
    try {
      await link(blob(digest), join(dir, name));
    } catch (err: unknown) {
      if (err instanceof Error && 'code' in err && err.code === 'EEXIST') return;
      await copyFile(blob(digest), join(dir, name));
    }
  };
  await writeFile(join(dir, 'version'), 'Directory Transport Version: 1.1\n');
  await place(image.digest, 'manifest.json');
  if (image.mediaType === MediaTypes.dockerManifestList) {
    for (const m of image.manifests) await place(m.digest, `${m.digest.slice('sha256:'.length)}.manifest.json`);
  }
  for (const digest of image.blobs) await place(digest, digest.slice('sha256:'.length));
  return dir;
}

export interface PushedImage extends BuiltImage {
  /** 'HOST/REPOSITORY:TAG' */
  reference: string;
  /** 'HOST/REPOSITORY@DIGEST' */
  digestReference: string;
}

export interface PushOptions extends RegistryAccess {
  /** How many skopeo copies run at once. Default 3. */
  concurrency?: number;
}

/**
 * Builds `images` in a temporary OCI layout and pushes each with `skopeo copy --all --preserve-digests`,
 * then checks that the registry serves the very manifest bytes we wrote (same digest).
 */
export async function pushTestImages(
  registry: RunningRegistry,
  images: readonly TestImageSpec[],
  options: PushOptions = {},
): Promise<PushedImage[]> {
  const work = await makeTempDir('airgap-images-');
  try {
    const layoutDir = join(work.path, 'layout');
    const built = await buildOciLayout(layoutDir, images);
    const destArgs = await skopeoAccessArgs('dest-', options, work.path);
    const pushed: PushedImage[] = [];
    const queue = [...built];
    const worker = async (): Promise<void> => {
      for (let image = queue.shift(); image !== undefined; image = queue.shift()) {
        const reference = `${registry.host}/${image.repository}:${image.tag}`;
        const source = isOci(image.mediaType)
          ? `oci:${layoutDir}:${image.layoutName}`
          : `dir:${await dirTransportView(layoutDir, join(work.path, 'dir'), image)}`;
        await skopeo(['copy', '--all', '--preserve-digests', '--quiet', ...destArgs, source, `docker://${reference}`]);
        const raw = await inspectRaw(reference, options);
        const served = sha256Digest(raw);
        if (served !== image.digest) {
          throw new Error(`${reference}: the registry serves ${served}, we wrote ${image.digest}: skopeo changed the manifest`);
        }
        pushed.push({ ...image, reference, digestReference: `${registry.host}/${image.repository}@${image.digest}` });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 3) }, worker));
    // In the order asked for, whatever order the pushes finished in.
    return built.map((image) => {
      const found = pushed.find((p) => p.digest === image.digest && p.layoutName === image.layoutName);
      if (found === undefined) throw new Error(`${image.layoutName} was not pushed`);
      return found;
    });
  } finally {
    await work.remove();
  }
}

/**
 * The default image set: four images sharing a base layer (one with a nested path), a multi-arch OCI index
 * (linux/amd64, linux/arm64/v8 and an unknown/unknown attestation) and a Docker-media-type image.
 * `scale` multiplies every layer size: 1 gives tens of KB per layer for tests; a benchmark asks for more.
 */
export function demoImageSet(scale = 1): TestImageSpec[] {
  const kib = (n: number): number => Math.max(1, Math.round(n * 1024 * scale));
  // Large layers in several files, as real ones are; the file count does not change with small scales.
  const files = (n: number): number => Math.max(1, Math.min(16, Math.ceil((n * scale) / 4096)));
  const base: LayerSpec = { seed: 'demo-base', sizeBytes: kib(48), files: files(48) };
  return [
    { repository: 'airgap-test/base', tag: '1.0', layers: [base] },
    { repository: 'airgap-test/app-a', tag: '1.0', layers: [base, { seed: 'demo-app-a', sizeBytes: kib(24), files: files(24) }] },
    {
      repository: 'airgap-test/team/app-b',
      tag: 'v2.1.0',
      layers: [base, { seed: 'demo-app-b-1', sizeBytes: kib(16), files: files(16) }, { seed: 'demo-app-b-2', sizeBytes: kib(8), files: files(8) }],
    },
    { repository: 'airgap-test/app-c', tag: 'latest', layers: [base, { seed: 'demo-app-c', sizeBytes: kib(32), files: files(32) }] },
    {
      repository: 'airgap-test/multi',
      tag: '1.0',
      layers: [base, { seed: 'demo-multi', sizeBytes: kib(20), files: files(20) }],
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      attestation: true,
    },
    {
      repository: 'airgap-test/docker-format',
      tag: '1.0',
      format: 'docker',
      layers: [base, { seed: 'demo-docker', sizeBytes: kib(12), files: files(12) }],
    },
  ];
}

/** Total bytes of distinct blobs and manifests across images: what a deduplicated archive must at least hold. */
export function distinctBytes(images: readonly BuiltImage[]): number {
  const all = new Map<string, number>();
  for (const image of images) for (const [digest, size] of Object.entries(image.sizes)) all.set(digest, size);
  let total = 0;
  for (const size of all.values()) total += size;
  return total;
}

/** Size on disk of one blob of a layout: a helper for tests comparing what was written. */
export async function layoutBlobSize(dir: string, digest: string): Promise<number> {
  return (await stat(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)))).size;
}
