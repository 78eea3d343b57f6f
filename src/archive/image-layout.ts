import type { ResolvedImage } from '../collect/resolved-image.ts';
import { digestHex, type Descriptor } from '../oci/descriptor.ts';
import { OCI_INDEX, OCI_LAYOUT_VERSION } from '../oci/media-types.ts';
import { tryParseReference } from '../reference.ts';
import type { TarEntry } from './tar-entry.ts';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';

/** Streams the bytes of one blob of one image, verified. */
export type BlobOpener = (image: ResolvedImage, blob: Descriptor) => AsyncIterable<Buffer>;

export function blobPath(digest: string): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

/** The digest a member of an archive is stored under: blobs/sha256/<hex>, or docker save's (Docker 20.10) <image id>.json config. */
export function blobDigestOfMember(baseName: string): string | undefined {
  const match = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(baseName);
  if (match !== null) return `sha256:${match[1]}`;
  const config = /^([a-f0-9]{64})\.json$/.exec(baseName);
  return config === null ? undefined : `sha256:${config[1]}`;
}

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
}

/** The tag `docker load` gives an image: the reference as the release writes it, tagged. */
function dockerRepoTag(image: ResolvedImage): string[] {
  const ref = tryParseReference(image.written);
  if (ref === undefined || (ref.tag === undefined && ref.digest !== undefined)) return [];
  const name = ref.host === undefined ? ref.name : `${ref.host}/${ref.name}`;
  return [`${name}:${ref.tag ?? 'latest'}`];
}

export function ociIndex(images: readonly ResolvedImage[]): Buffer {
  return json({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((image) => ({
      mediaType: image.top.descriptor.mediaType,
      digest: image.top.descriptor.digest,
      size: image.top.descriptor.size,
      annotations: { [REF_NAME_ANNOTATION]: image.path, [CONTAINERD_NAME_ANNOTATION]: image.upstream },
    })),
  });
}

export function dockerManifest(images: readonly ResolvedImage[]): Buffer {
  return json(
    images
      .filter((image) => image.docker !== undefined)
      .map((image) => ({
        Config: blobPath(image.docker?.config.digest ?? ''),
        RepoTags: dockerRepoTag(image),
        Layers: (image.docker?.layers ?? []).map((l) => blobPath(l.digest)),
      })),
  );
}

/**
 * Every entry of an archive that is both an OCI image layout and a docker-archive, in the order they are
 * written: the small files first (so a reader knows every image before the first layer arrives), then
 * each blob once, however many images share it. Layers in `leftOut` (a differential archive's) are not written.
 */
export function layoutEntries(images: readonly ResolvedImage[], openBlob: BlobOpener, leftOut: ReadonlySet<string> = new Set()): TarEntry[] {
  const small: TarEntry[] = [
    { name: 'oci-layout', size: 0, bytes: json({ imageLayoutVersion: OCI_LAYOUT_VERSION }) },
    { name: 'index.json', size: 0, bytes: ociIndex(images) },
    { name: 'manifest.json', size: 0, bytes: dockerManifest(images) },
  ];
  const seen = new Set<string>();
  for (const image of images) {
    for (const doc of [...image.manifests.values(), ...image.configs.values()]) {
      if (seen.has(doc.descriptor.digest)) continue;
      seen.add(doc.descriptor.digest);
      small.push({ name: blobPath(doc.descriptor.digest), size: 0, bytes: doc.bytes });
    }
  }
  for (const entry of small) entry.size = entry.bytes?.length ?? 0;
  const layers: TarEntry[] = [];
  for (const image of images) {
    for (const layer of image.layers) {
      if (seen.has(layer.digest) || leftOut.has(layer.digest)) continue;
      seen.add(layer.digest);
      layers.push({ name: blobPath(layer.digest), size: layer.size, open: () => openBlob(image, layer) });
    }
  }
  return [...small, ...layers];
}
