import { AirgapError } from '../errors.ts';
import { isIndexMediaType, isManifestMediaType } from './media-types.ts';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
  /** OCI 1.1: what an artifact is (a referrers listing names each referrer's). */
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export type ParsedManifest = { kind: 'index'; index: ImageIndex } | { kind: 'manifest'; manifest: ImageManifest };

const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

/** A digest airgap can verify: sha256, lowercase hex, as every registry it targets gives. */
export function isSha256Digest(text: string): boolean {
  return DIGEST_PATTERN.test(text);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkDescriptor(value: unknown, where: string): Descriptor {
  if (!isRecord(value)) throw new AirgapError(`${where}: descriptor is not an object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string') throw new AirgapError(`${where}: descriptor has no mediaType`);
  // Only sha256 is accepted: it is what we verify, and every registry we target uses it.
  if (typeof digest !== 'string' || !DIGEST_PATTERN.test(digest)) {
    throw new AirgapError(`${where}: descriptor digest ${String(digest)} is not a sha256 digest`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new AirgapError(`${where}: descriptor ${digest} has no valid size`);
  }
  // The object itself is returned (not a copy) so unknown fields survive when we re-serialise an index.
  return value as unknown as Descriptor;
}

/**
 * Parse manifest bytes as served. `mediaType` is the Content-Type the registry gave (or the descriptor's);
 * the document's own `mediaType` field wins when present, and the shape decides when neither says.
 */
export function parseManifest(bytes: Uint8Array, mediaType: string | undefined, where: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err: unknown) {
    throw new AirgapError(`${where}: manifest is not valid JSON`, { cause: err });
  }
  if (!isRecord(doc)) throw new AirgapError(`${where}: manifest is not a JSON object`);
  if (doc['schemaVersion'] !== 2) {
    throw new AirgapError(`${where}: manifest schemaVersion ${String(doc['schemaVersion'])} is not supported`, {
      hint: 'only schema 2 manifests (Docker v2.2 and OCI) are supported; Docker schema 1 images must be re-pushed',
    });
  }
  // No Content-Type (the client passes '') or a generic application/json says nothing: the shape decides.
  const given = mediaType === '' || mediaType === 'application/json' ? undefined : mediaType;
  const declared = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : given;
  const looksLikeIndex = Array.isArray(doc['manifests']);
  if ((declared !== undefined && isIndexMediaType(declared)) || (declared === undefined && looksLikeIndex)) {
    if (!Array.isArray(doc['manifests'])) throw new AirgapError(`${where}: index has no manifests list`);
    doc['manifests'].forEach((d: unknown, i: number) => checkDescriptor(d, `${where} manifests[${i}]`));
    return { kind: 'index', index: doc as unknown as ImageIndex };
  }
  if (declared !== undefined && !isManifestMediaType(declared) && declared !== 'application/json') {
    throw new AirgapError(`${where}: unsupported manifest media type ${declared}`);
  }
  checkDescriptor(doc['config'], `${where} config`);
  if (!Array.isArray(doc['layers'])) throw new AirgapError(`${where}: manifest has no layers list`);
  doc['layers'].forEach((d: unknown, i: number) => checkDescriptor(d, `${where} layers[${i}]`));
  return { kind: 'manifest', manifest: doc as unknown as ImageManifest };
}

export function digestHex(digest: string): string {
  const colon = digest.indexOf(':');
  return colon < 0 ? digest : digest.slice(colon + 1);
}
