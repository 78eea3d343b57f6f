/**
 * A manifest or index as the registry keeps it: its bytes (served exactly as pushed), and what the registry
 * needs to know of it — the blobs and child manifests it names (which must be here), its `subject` (which makes
 * it a referrer of that digest), and the artifactType and annotations the referrers API lists. Descriptors may
 * carry any digest algorithm the spec's grammar allows; the registry stores sha256 and sha512.
 */
import { AirgapError } from '../errors.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { isIndexMediaType, isManifestMediaType, OCI_INDEX, OCI_MANIFEST } from '../oci/media-types.ts';
import { looksLikeDigest } from './digest.ts';

export interface StoredManifest {
  digest: string;
  /** What it is served as (Content-Type): the media type it was pushed or listed with. */
  mediaType: string;
  bytes: Buffer;
  /** An index's entries (child manifests), or undefined for an image manifest. */
  children: Descriptor[] | undefined;
  /** An image manifest's config and layers. */
  blobs: Descriptor[];
  /** The manifest this one refers to (a signature, an SBOM, an attestation), if any. */
  subject: Descriptor | undefined;
  /** As the referrers API lists it: the document's artifactType, else an image manifest's config media type. */
  artifactType: string | undefined;
  annotations: Record<string, string> | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isRecord(value)) throw new AirgapError(`${where} is not a descriptor object`);
  const { mediaType, digest, size, urls } = value;
  if (typeof mediaType !== 'string' || mediaType === '') throw new AirgapError(`${where} has no mediaType`);
  if (typeof digest !== 'string' || !looksLikeDigest(digest)) throw new AirgapError(`${where} has no valid digest (${String(digest)})`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new AirgapError(`${where} (${digest}) has no valid size`);
  if (urls !== undefined && (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string'))) throw new AirgapError(`${where} (${digest}) has urls that are not strings`);
  return value as unknown as Descriptor;
}

function stringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value) || !Object.values(value).every((v) => typeof v === 'string')) throw new AirgapError(`${where} is not a map of strings`);
  return value as Record<string, string>;
}

/**
 * Read manifest bytes. `mediaType` is what it was pushed or listed as (Content-Type, a descriptor's); the
 * document's own `mediaType` wins, and with neither the shape decides. Throws AirgapError for anything that is
 * not a schema 2 image manifest or index.
 */
export function manifestOf(digest: string, mediaType: string | undefined, bytes: Buffer): StoredManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err: unknown) {
    throw new AirgapError(`not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!isRecord(doc)) throw new AirgapError('not a JSON object');
  if (doc['schemaVersion'] !== 2) throw new AirgapError(`schemaVersion ${String(doc['schemaVersion'])} is not supported (only schema 2: Docker v2.2 and OCI)`);
  const declared = doc['mediaType'];
  if (declared !== undefined && typeof declared !== 'string') throw new AirgapError('mediaType is not a string');
  const given = mediaType !== undefined && (isIndexMediaType(mediaType) || isManifestMediaType(mediaType)) ? mediaType : undefined;
  const type = declared ?? given ?? (Array.isArray(doc['manifests']) ? OCI_INDEX : OCI_MANIFEST);
  const subject = doc['subject'] === undefined ? undefined : descriptor(doc['subject'], 'subject');
  const annotations = stringMap(doc['annotations'], 'annotations');
  const ownArtifactType = doc['artifactType'];
  if (ownArtifactType !== undefined && typeof ownArtifactType !== 'string') throw new AirgapError('artifactType is not a string');
  const base = { digest, mediaType: type, bytes, subject, annotations };
  if (isIndexMediaType(type)) {
    const manifests = doc['manifests'];
    if (!Array.isArray(manifests)) throw new AirgapError('the index has no manifests list');
    const children = manifests.map((d: unknown, i: number) => descriptor(d, `manifests[${i}]`));
    return { ...base, children, blobs: [], artifactType: ownArtifactType };
  }
  if (!isManifestMediaType(type)) throw new AirgapError(`unsupported manifest media type ${type}`);
  const config = descriptor(doc['config'], 'config');
  const layers = doc['layers'];
  if (!Array.isArray(layers)) throw new AirgapError('the manifest has no layers list');
  const blobs = [config, ...layers.map((d: unknown, i: number) => descriptor(d, `layers[${i}]`))];
  return { ...base, children: undefined, blobs, artifactType: ownArtifactType ?? config.mediaType };
}

/** The descriptor the referrers API lists for a referrer. */
export function referrerDescriptor(manifest: StoredManifest): Descriptor & { artifactType?: string } {
  return {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.bytes.length,
    ...(manifest.artifactType === undefined ? {} : { artifactType: manifest.artifactType }),
    ...(manifest.annotations === undefined ? {} : { annotations: manifest.annotations }),
  };
}
