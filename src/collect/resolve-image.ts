import { AirgapError } from '../errors.ts';
import { parseManifest, type Descriptor, type ImageManifest } from '../oci/descriptor.ts';
import { sha256Digest } from '../oci/digest.ts';
import { isIndexMediaType } from '../oci/media-types.ts';
import { formatPlatform, isAttestation, pickDefaultEntry, platformMatches, type PlatformSpec } from '../oci/platform.ts';
import type { RegistryHost } from '../store/registry/client.ts';
import type { ResolvedImage, StoredDocument } from './resolved-image.ts';

export interface ImageToResolve {
  written: string;
  upstream: string;
  registry: string;
  repository: string;
  /** Tag or digest to ask the registry for. */
  reference: string;
  path: string;
  /** Where the release mentions it, for error messages. */
  mentionedAt: string;
}

interface ImageConfigPlatform {
  os?: unknown;
  architecture?: unknown;
  variant?: unknown;
}

/**
 * Documents already at hand by digest (the blob cache's): a config or child manifest found there, with the
 * right digest, is not asked of the registry again. Only the tag's manifest always is: a tag can move.
 */
export type KnownDocuments = (descriptor: Pick<Descriptor, 'digest' | 'size'>) => Promise<Buffer | undefined>;

/**
 * Fetch an image's manifest tree (index, child manifests, configs) from its registry and work out
 * which blobs it needs. Layers are not fetched here.
 */
export async function resolveImage(source: RegistryHost, image: ImageToResolve, platforms: readonly PlatformSpec[], known: KnownDocuments = async () => undefined): Promise<ResolvedImage> {
  const what = `image ${image.written} (${image.mentionedAt})`;
  const fetched = await source.getManifest(image.repository, image.reference, what);
  const manifests = new Map<string, StoredDocument>();
  const configs = new Map<string, StoredDocument>();
  const layers = new Map<string, Descriptor>();
  const imagePlatforms: string[] = [];
  let top: StoredDocument = {
    descriptor: { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.length },
    bytes: fetched.bytes,
  };
  let narrowed = false;
  let docker: ResolvedImage['docker'];

  const addManifest = async (doc: StoredDocument, manifest: ImageManifest): Promise<void> => {
    manifests.set(doc.descriptor.digest, doc);
    if (!configs.has(manifest.config.digest)) {
      const bytes = (await known(manifest.config)) ?? (await source.blobBytes(image.repository, manifest.config, `${what} config`));
      configs.set(manifest.config.digest, { descriptor: manifest.config, bytes });
    }
    for (const layer of manifest.layers) {
      if (layer.urls !== undefined && layer.urls.length > 0) {
        throw new AirgapError(`${what}: layer ${layer.digest} is a foreign layer served from ${layer.urls[0]}`, {
          hint: 'foreign (Windows base) layers are not stored in the registry and cannot cross the air gap',
        });
      }
      if (!layers.has(layer.digest)) layers.set(layer.digest, layer);
    }
  };

  const parsed = parseManifest(fetched.bytes, fetched.mediaType, what);
  if (parsed.kind === 'index') {
    let entries = parsed.index.manifests;
    if (platforms.length > 0) {
      const kept = entries.filter((d) => !isAttestation(d) && platforms.some((p) => platformMatches(d.platform, p)));
      if (kept.length === 0) {
        const available = entries.filter((d) => !isAttestation(d)).map((d) => (d.platform === undefined ? 'unknown' : formatPlatform(d.platform)));
        throw new AirgapError(`${what}: none of the platforms asked (${platforms.map(formatPlatform).join(', ')}) is in the image`, {
          hint: `it has: ${available.join(', ')}`,
        });
      }
      if (kept.length !== entries.length) {
        narrowed = true;
        entries = kept;
        // A narrowed index is a new document: its digest is ours, recorded in the lock, not upstream's.
        const bytes = Buffer.from(JSON.stringify({ ...parsed.index, manifests: kept }, null, 2));
        top = { descriptor: { mediaType: top.descriptor.mediaType, digest: sha256Digest(bytes), size: bytes.length }, bytes };
      }
    }
    manifests.set(top.descriptor.digest, top);
    for (const entry of entries) {
      if (isIndexMediaType(entry.mediaType)) {
        throw new AirgapError(`${what}: nested indexes are not supported (entry ${entry.digest})`);
      }
      const child = (await known(entry)) ?? (await source.getManifest(image.repository, entry.digest, what)).bytes;
      const childDoc: StoredDocument = { descriptor: entry, bytes: child };
      const childParsed = parseManifest(child, entry.mediaType, `${what} manifest ${entry.digest}`);
      if (childParsed.kind !== 'manifest') throw new AirgapError(`${what}: entry ${entry.digest} is not an image manifest`);
      await addManifest(childDoc, childParsed.manifest);
      if (!isAttestation(entry) && entry.platform !== undefined) imagePlatforms.push(formatPlatform(entry.platform));
    }
    const dockerEntry = pickDefaultEntry(entries);
    if (dockerEntry !== undefined) {
      const doc = manifests.get(dockerEntry.digest);
      if (doc !== undefined) {
        const m = parseManifest(doc.bytes, dockerEntry.mediaType, what);
        if (m.kind === 'manifest') docker = { config: m.manifest.config, layers: m.manifest.layers };
      }
    }
  } else {
    await addManifest(top, parsed.manifest);
    docker = { config: parsed.manifest.config, layers: parsed.manifest.layers };
    const config = configs.get(parsed.manifest.config.digest);
    if (config !== undefined) {
      try {
        const p = JSON.parse(config.bytes.toString('utf8')) as ImageConfigPlatform;
        if (typeof p.os === 'string' && typeof p.architecture === 'string') {
          imagePlatforms.push(formatPlatform({ os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' ? { variant: p.variant } : {}) }));
        }
      } catch {
        // A config that is not JSON is still copied byte for byte; it just has no platform to show.
      }
    }
  }

  let totalBytes = 0;
  for (const doc of manifests.values()) totalBytes += doc.bytes.length;
  for (const doc of configs.values()) totalBytes += doc.bytes.length;
  for (const layer of layers.values()) totalBytes += layer.size;

  return {
    written: image.written,
    upstream: image.upstream,
    registry: image.registry,
    repository: image.repository,
    path: image.path,
    top,
    manifests,
    configs,
    layers: [...layers.values()],
    docker,
    platforms: imagePlatforms,
    totalBytes,
    narrowed,
    ...(narrowed ? { upstreamDigest: fetched.digest } : {}),
  };
}
