import { registryClientFor } from '../store/registry/client.ts';
import type { Credentials } from '../store/registry/credentials.ts';
import type { RetryPolicy } from '../store/registry/retry.ts';
import { ArchiveCopy, CORRUPT_HINT } from './copy.ts';
import { findLeftOutLayers } from './left-out.ts';
import type { LoadEventListener } from './events.ts';
import { openLoadSource, unpackCharms, verifyCharmsFile, writeImagesMap } from './preamble.ts';
import { RegistryDestination } from './registry-destination.ts';
import { registryLocation } from './target.ts';

export { IMAGES_MAP_FILE, locateArchive } from './preamble.ts';

export const NO_LOCK_WARNING = 'loading without a lock (--no-lock): the archive is checked only blob by blob against its own digests, not against what collect wrote';

export interface LoadOptions {
  /** A directory holding images.tar.gz (and the lock, charms.tar.gz), or the archive itself. */
  source: string;
  /** HOST[:PORT][/PREFIX] */
  registry: string;
  caFiles?: readonly string[];
  certsDirs?: readonly string[];
  plainHttp?: readonly string[];
  credentials?: Credentials;
  dockerConfigPath?: string;
  concurrency?: number;
  charmsDir?: string;
  /** Largest upload request body (--chunk-size); a bigger blob goes up in several chunks. */
  chunkBytes?: number;
  /** Load an archive that has no lock beside it (--no-lock). */
  noLock?: boolean;
  retry?: RetryPolicy;
  signal?: AbortSignal;
  onEvent?: LoadEventListener;
}

export interface LoadedImage {
  /** The reference as the release wrote it (from the lock), or the path when there is no lock. */
  reference: string;
  private: string;
  digest: string;
  /** Already in the registry with this digest before the run. */
  alreadyPresent: boolean;
}

/** A signature, SBOM or attestation carried with an image (`collect --with-referrers`), where load put it. */
export interface LoadedReferrer {
  /** The path of the image it was carried with. */
  of: string;
  private: string;
  digest: string;
  alreadyPresent: boolean;
}

/** A Docker Hub image also put under library/ (hub-aliases.ts), for a containerd mirror of docker.io to find. */
export interface LoadedAlias {
  /** The path of the image. */
  of: string;
  private: string;
  digest: string;
  alreadyPresent: boolean;
}

export interface LoadResult {
  archive: string;
  /** Whether the archive was held to a lock, or loaded with --no-lock. */
  lock: 'checked' | 'none';
  images: LoadedImage[];
  referrers: LoadedReferrer[];
  aliases: LoadedAlias[];
  imagesMap: string;
  uploadedBlobs: number;
  uploadedBytes: number;
  skippedBlobs: number;
  mountedBlobs: number;
  charms: string[];
  charmsDir: string | undefined;
  warnings: string[];
}

/**
 * The offline side: every image of the archive into the private registry, digests unchanged, held to the
 * lock of its collect. The copy (copy.ts) reads the archive as a stream into the registry destination
 * (registry-destination.ts); the preamble (preamble.ts) is shared with the Docker Engine path.
 */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const emit: LoadEventListener = options.onEvent ?? (() => {});
  const source = await openLoadSource(options.source, { noLock: options.noLock });
  await verifyCharmsFile(source, options.signal);
  const warnings: string[] = [];
  if (source.lock === undefined) {
    warnings.push(NO_LOCK_WARNING);
    emit({ type: 'warning', message: NO_LOCK_WARNING });
  }
  const location = registryLocation(options.registry);
  const concurrency = options.concurrency ?? 4;
  // Uploads in flight, checks and session openings share the -j slots; two spare connections for tokens.
  const client = registryClientFor(options, { host: location.host, credentials: options.credentials, connectionsPerHost: concurrency + 2 });
  const destination = new RegistryDestination({
    host: client.host(location.host), location, concurrency, chunkBytes: options.chunkBytes, emit, corruptHint: CORRUPT_HINT,
  });
  try {
    if (source.lock !== undefined) destination.adopt(await findLeftOutLayers(source.lock, client.host(location.host), location, options.registry, concurrency));
    const copy = new ArchiveCopy(source, destination, emit);
    const copied = await copy.run(options.signal);
    warnings.push(...copy.warnings);
    const images: LoadedImage[] = copied.filter((image) => image.referrerOf === undefined && image.aliasOf === undefined).map((image) => ({
      reference: source.lock?.images.find((i) => i.path === image.path)?.reference ?? image.path,
      private: image.private,
      digest: image.digest,
      alreadyPresent: image.alreadyPresent,
    }));
    const referrers: LoadedReferrer[] = copied.flatMap((r) => (r.referrerOf === undefined ? [] : [{ of: r.referrerOf, private: r.private, digest: r.digest, alreadyPresent: r.alreadyPresent }]));
    const aliases: LoadedAlias[] = copied.flatMap((a) => (a.aliasOf === undefined ? [] : [{ of: a.aliasOf, private: a.private, digest: a.digest, alreadyPresent: a.alreadyPresent }]));
    const imagesMap = await writeImagesMap(source.dir, options.registry, images);
    const { charms, charmsDir } = await unpackCharms(source, options.charmsDir, (file, size) => emit({ type: 'charm', file, size }));
    return { archive: source.archive, lock: source.lock === undefined ? 'none' : 'checked', images, referrers, aliases, imagesMap, ...destination.counts, charms, charmsDir, warnings };
  } finally {
    // After a failure: let uploads in flight end (each cancels its own session) before the pools close.
    await destination.settle().catch(() => {});
    await client.close();
  }
}
