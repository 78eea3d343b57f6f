import type { ResolvedImage } from '../collect/resolved-image.ts';
import { digestHex, type Descriptor } from '../oci/descriptor.ts';
import { OCI_INDEX, OCI_LAYOUT_VERSION } from '../oci/media-types.ts';
import { referrerPath } from '../oci/referrers.ts';
import { tryParseReference } from '../reference.ts';
import type { TarEntry } from './tar-entry.ts';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';
/**
 * A referrer's index.json entry (`collect --with-referrers`) names no image (no ref.name, no containerd name, no
 * docker tag), so no tool takes it for one to tag; these say what it is about instead: the path of the image it
 * belongs to, the digest it refers to, and the cosign tag it was found under, if any.
 */
export const REFERRER_OF_ANNOTATION = 'dev.airgap.referrer.of';
export const REFERRER_SUBJECT_ANNOTATION = 'dev.airgap.referrer.subject';
export const REFERRER_TAG_ANNOTATION = 'dev.airgap.referrer.tag';

/** A referrer's index.json entry, read back. */
export interface ArchivedReferrer {
  /** The path of the image it belongs to. */
  of: string;
  subject: string;
  tag: string | undefined;
  /** Where it lives: the image's repository with its tag, or its digest (`team/app@sha256:…`). */
  path: string;
}

export function referrerOfEntry(entry: Descriptor): ArchivedReferrer | undefined {
  const of = entry.annotations?.[REFERRER_OF_ANNOTATION];
  const subject = entry.annotations?.[REFERRER_SUBJECT_ANNOTATION];
  if (of === undefined || subject === undefined) return undefined;
  const tag = entry.annotations?.[REFERRER_TAG_ANNOTATION];
  return { of, subject, tag, path: referrerPath(of, entry.digest, tag) };
}

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

function indexEntry(image: ResolvedImage): Descriptor {
  const { mediaType, digest, size } = image.top.descriptor;
  const referrer = image.referrer;
  if (referrer === undefined) return { mediaType, digest, size, annotations: { [REF_NAME_ANNOTATION]: image.path, [CONTAINERD_NAME_ANNOTATION]: image.upstream } };
  return {
    mediaType, digest, size,
    ...(referrer.artifactType === undefined ? {} : { artifactType: referrer.artifactType }),
    annotations: {
      [REFERRER_OF_ANNOTATION]: referrer.of,
      [REFERRER_SUBJECT_ANNOTATION]: referrer.subject,
      ...(referrer.tag === undefined ? {} : { [REFERRER_TAG_ANNOTATION]: referrer.tag }),
    },
  };
}

export function ociIndex(images: readonly ResolvedImage[]): Buffer {
  return json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: images.map(indexEntry) });
}

export function dockerManifest(images: readonly ResolvedImage[]): Buffer {
  return json(
    images
      // A referrer is no image to load: a signature's "layers" are no filesystem.
      .filter((image) => image.docker !== undefined && image.referrer === undefined)
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
