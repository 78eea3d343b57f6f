import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { maxGzipSize } from '../archive/gzip-output.ts';
import { layoutEntries } from '../archive/image-layout.ts';
import { perImageEntries } from '../archive/per-image.ts';
import { isPartOf } from '../archive/split-output.ts';
import { tarSize } from '../archive/tar-entry.ts';
import { writeTarGz, type WrittenArchive } from '../archive/write-archive.ts';
import { BlobCache, CorruptCacheBlobError } from '../cache/blob-cache.ts';
import { AirgapError, UsageError, messageOf } from '../errors.ts';
import { formatBytes } from '../util/format-bytes.ts';
import { OutputSet } from '../fs/output-set.ts';
import { LOCK_FILE_NAME, LOCK_VERSION, writeLock, type LeftOutBlob, type Lock, type LockedBlob, type LockedImage, type LockedReferrer } from '../lock.ts';
import { parsePlatform } from '../oci/platform.ts';
import { parseReference } from '../reference.ts';
import type { PlannedImage } from '../release/index.ts';
import { registryClientFor, type RegistryClient, type RegistryHost } from '../store/registry/client.ts';
import type { Credentials } from '../store/registry/credentials.ts';
import type { RetryPolicy } from '../store/registry/retry.ts';
import { fulfilledOrThrow, settleConcurrently } from '../util/concurrency.ts';
import { TOOL_NAME } from '../version.ts';
import { archiveLayers, CachedSource, directSource, type BlobSource, type BlobSourceContext } from './blob-source.ts';
import { checkLocalCharms, gatherCharmFiles, removeTemporaryFiles } from './charm-files.ts';
import type { CollectEventListener } from './events.ts';
import type { PullSource } from './mirrors.ts';
import { uncoveredCharmBases } from './juju-images.ts';
import { planCollect, sourcesOf, withJujuImages, type CollectPlan, type CollectPlanOptions } from './plan.ts';
import { findReferrers } from './referrers.ts';
import { resolveImage, type ImageToResolve, type KnownDocuments } from './resolve-image.ts';
import type { ResolvedImage } from './resolved-image.ts';
import { leftOutLayers, readBaseRelease, type BaseRelease } from './since.ts';
import { gatherToolFiles, type IncludeToolOptions } from './tool-files.ts';

export const IMAGES_ARCHIVE = 'images.tar.gz';
export const CHARMS_ARCHIVE = 'charms.tar.gz';

export interface CollectOptions extends CollectPlanOptions {
  /** airgap.yaml, a Juju bundle, a Kubernetes manifest file or an image list. */
  release: string;
  outputDir: string;
  /** --platform values (os/arch[/variant]); empty keeps every platform. */
  platforms?: readonly string[];
  concurrency?: number;
  caFiles?: readonly string[];
  certsDirs?: readonly string[];
  plainHttp?: readonly string[];
  dockerConfigPath?: string;
  /** --username/--password-stdin: for the one registry the release pulls from (others: docker login). */
  credentials?: Credentials;
  perImage?: boolean;
  /** The blob cache (--cache DIR): layers are downloaded into it and the archive written from it. None: straight through. */
  cacheDir?: string;
  /** --since OLD-LOCK: leave out the layers the release of that lock already carried. */
  since?: string;
  /** --split SIZE: write images.tar.gz as parts of at most this many bytes. */
  splitBytes?: number;
  /** --with-referrers: carry the signatures, SBOMs and attestations of every image too. */
  withReferrers?: boolean;
  /** --include-tool: pack the airgap executables into charms.tar.gz too, recorded in the lock's `tools`. */
  includeTool?: IncludeToolOptions;
  /** --allow-outside: pack local charms from outside the release's directory too. */
  allowOutside?: boolean;
  retry?: RetryPolicy;
  signal?: AbortSignal;
  onEvent?: CollectEventListener;
}

export interface CollectResult {
  lock: Lock;
  lockPath: string;
  images: WrittenArchive;
  charms: WrittenArchive;
  warnings: string[];
  /** Bytes of every distinct blob: what the archive cannot be smaller than. */
  uniqueBlobBytes: number;
}

function mentionText(planned: PlannedImage): string {
  const first = planned.mentions[0];
  if (first === undefined) return 'the release';
  return `${first.file}${first.line === undefined ? '' : `:${first.line}`} ${first.yamlPath}`;
}

function toResolve(planned: PlannedImage, source: PullSource): ImageToResolve {
  const upstream = parseReference(planned.upstream);
  return {
    written: planned.written,
    upstream: planned.upstream,
    registry: source.registry,
    repository: source.repository,
    reference: upstream.digest ?? upstream.tag ?? 'latest',
    path: planned.path,
    mentionedAt: `${mentionText(planned)}${source.via === undefined ? '' : `, pulled through ${source.via}`}`,
  };
}

/** Credentials from the command line go to one registry only: the one every image comes from. */
function credentialsHost(registries: readonly string[], credentials: Credentials | undefined): { host?: string; credentials?: Credentials } {
  if (credentials === undefined) return {};
  const hosts = [...new Set(registries)];
  if (hosts.length !== 1) {
    throw new UsageError(`--username is for one registry, and this release pulls from ${hosts.length === 0 ? 'none' : hosts.join(', ')}`, {
      hint: 'run docker login for each registry that wants credentials, and drop --username',
    });
  }
  return { host: hosts[0] as string, credentials };
}

/**
 * Resolve from the first source that has the image: mirrors in their order, then the registry itself when
 * registries.conf allows it. One source: its own error, unchanged.
 */
async function resolveFromSources(client: RegistryClient, planned: PlannedImage, sources: readonly PullSource[], platforms: Parameters<typeof resolveImage>[2], known: KnownDocuments | undefined): Promise<ResolvedImage> {
  const failures: unknown[] = [];
  for (const source of sources) {
    const host: RegistryHost = client.host(source.registry);
    try {
      return await resolveImage(host, toResolve(planned, source), platforms, known);
    } catch (err: unknown) {
      if (sources.length === 1) throw err;
      failures.push(err);
    }
  }
  throw new AirgapError(`image ${planned.written}: no source has it: ${failures.map(messageOf).join('; ')}`, {
    cause: failures[0],
    hint: 'check the mirrors (--mirror, registries.conf) and the reference',
  });
}

/** Room for the archives in the output directory, and for the downloads in the cache (the sum when they share a disk). */
async function checkFreeSpace(outputDir: string, archiveBytes: number, cache: { dir: string; bytes: number } | undefined): Promise<void> {
  const free = async (dir: string): Promise<number> => {
    const stats = await statfs(dir);
    return stats.bavail * stats.bsize;
  };
  const sameDisk = cache !== undefined && (await stat(outputDir)).dev === (await stat(cache.dir)).dev;
  const needed = archiveBytes + (sameDisk ? (cache?.bytes ?? 0) : 0);
  const outputFree = await free(outputDir);
  if (outputFree < needed) {
    throw new AirgapError(`not enough space in ${outputDir}: the archives need about ${formatBytes(archiveBytes)}${sameDisk ? ` and the cache on the same disk ${formatBytes(cache?.bytes ?? 0)} more` : ''}, ${formatBytes(outputFree)} is free`, {
      hint: 'free some space or choose another directory with -o (or --cache DIR on another disk)',
    });
  }
  if (cache !== undefined && !sameDisk && (await free(cache.dir)) < cache.bytes) {
    throw new AirgapError(`not enough space in the cache ${cache.dir}: the downloads need about ${formatBytes(cache.bytes)}, ${formatBytes(await free(cache.dir))} is free`, {
      hint: 'free some space (airgap cache prune), choose another --cache DIR, or --no-cache',
    });
  }
}

/**
 * The online side: a release becomes images.tar.gz, charms.tar.gz and airgap-lock.json in `outputDir`.
 * Every manifest is fetched first, so a missing image fails the run before a byte of layer is written;
 * then the layers are downloaded into the blob cache (`-j` at once) while the archive is written from it,
 * each layer verified, each written once. A run killed at any point, run again, downloads only what the
 * cache lacks.
 */
export async function collect(options: CollectOptions): Promise<CollectResult> {
  const emit: CollectEventListener = options.onEvent ?? (() => {});
  if (options.since !== undefined && options.perImage === true) {
    throw new UsageError('--since cannot go with --per-image: each per-image tar is for docker load, which needs every layer', { hint: 'drop --per-image, or --since' });
  }
  // A stock bundle's charms are downloaded here first: outside the output, which gets only finished archives.
  const workDir = await mkdtemp(join(tmpdir(), 'airgap-charms-'));
  try {
    const plan = await planCollect(options, workDir);
    // Before any connection: a file named as a charm must be one, and from where the release is.
    await checkLocalCharms(plan.release, { allowOutside: options.allowOutside === true });
    return await collectWith(options, emit, await withJujuImages(plan, options), workDir);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function collectWith(options: CollectOptions, emit: CollectEventListener, plan: CollectPlan, workDir: string): Promise<CollectResult> {
  const { release, images: planned, warnings } = plan;
  const platforms = [...(options.platforms ?? []), ...(options.platforms?.length ? [] : release.platforms)].map(parsePlatform);
  emit({ type: 'release', name: plan.name, version: release.version, images: planned.length, charms: release.charms.length + release.bundleCharms.length + plan.charms.length });
  for (const message of warnings) emit({ type: 'warning', message });
  const toolFiles = options.includeTool === undefined ? [] : await gatherToolFiles(options.includeTool);

  const outputDir = resolve(options.outputDir);
  await mkdir(outputDir, { recursive: true });
  const cache = options.cacheDir === undefined ? undefined : await BlobCache.open(resolve(options.cacheDir));
  try {
    // Before any connection too: a --since lock that cannot be read stops the run at once.
    const base = options.since === undefined ? undefined : await readBaseRelease(options.since, cache);
    return await collectInto(options, emit, plan, { outputDir, platforms, toolFiles, cache, base, workDir });
  } finally {
    await cache?.close();
  }
}

interface CollectSetting {
  outputDir: string;
  platforms: ReturnType<typeof parsePlatform>[];
  toolFiles: Awaited<ReturnType<typeof gatherToolFiles>>;
  cache: BlobCache | undefined;
  base: BaseRelease | undefined;
  /** Where a stock bundle's charms were downloaded. */
  workDir: string;
}

async function collectInto(options: CollectOptions, emit: CollectEventListener, plan: CollectPlan, setting: CollectSetting): Promise<CollectResult> {
  const { release, images: planned, warnings } = plan;
  const { outputDir, platforms, toolFiles, cache, base } = setting;
  const plainHttp = [...(options.plainHttp ?? []), ...plan.mirrors.insecureHosts];
  // Credentials from the command line belong to the one registry the images are pulled from (a mirror, when there is one).
  const registries = planned.flatMap((p) => sourcesOf(plan, p).map((source) => source.registry));
  const client = registryClientFor({ ...options, plainHttp }, { connectionsPerHost: Math.max(2, options.concurrency ?? 4), ...credentialsHost(registries, options.credentials) });
  let source: BlobSource | undefined;
  let outputs: OutputSet | undefined;
  try {
    // The three files replace an earlier collect's all together or not at all (src/fs/output-set.ts).
    // With --split, images.tar.gz is its parts, added to the set once written.
    outputs = await OutputSet.open(outputDir, options.splitBytes === undefined ? [IMAGES_ARCHIVE, CHARMS_ARCHIVE, LOCK_FILE_NAME] : [CHARMS_ARCHIVE, LOCK_FILE_NAME]);
    const concurrency = options.concurrency ?? 4;
    const settled = await settleConcurrently(planned, concurrency, async (p) => {
      emit({ type: 'image-resolving', path: p.path, upstream: p.upstream });
      try {
        // A re-run asks the registry only for each tag's manifest: configs and child manifests come from the cache.
        const resolved = await resolveFromSources(client, p, sourcesOf(plan, p), platforms, cache === undefined ? undefined : (d) => cache.readDocument(d));
        emit({
          type: 'image-resolved', path: resolved.path, digest: resolved.top.descriptor.digest, bytes: resolved.totalBytes,
          blobs: resolved.manifests.size + resolved.configs.size + resolved.layers.length, platforms: resolved.platforms,
        });
        return resolved;
      } catch (err: unknown) {
        emit({ type: 'image-failed', path: p.path, message: messageOf(err) });
        throw err;
      }
    }, options.signal);
    const images = fulfilledOrThrow(settled, 'images could not be resolved', 'fix the references or the registry access, then re-run');
    const found = options.withReferrers === true ? await findReferrers(client, images, { concurrency, signal: options.signal, emit }) : undefined;
    for (const message of found?.warnings ?? []) {
      warnings.push(message);
      emit({ type: 'warning', message });
    }
    // What the archive holds: the images, and the referrers beside them (their blobs written once with the rest).
    const carried = [...images, ...(found?.referrers ?? [])];

    const uniqueBlobBytes = countUniqueBytes(carried);
    const leftOut: LeftOutBlob[] = base === undefined ? [] : leftOutLayers(carried, base);
    const leftOutDigests = new Set(leftOut.map((b) => b.digest));
    const leftOutBytes = leftOut.reduce((n, b) => n + b.size, 0);
    if (base !== undefined) emit({ type: 'differential', base: `${base.base.name}${base.base.version === '' ? '' : ` ${base.base.version}`}`, leftOutLayers: leftOut.length, leftOutBytes });

    const charmFiles = await gatherCharmFiles(release, outputs.stagingDir, client, { downloaded: plan.charms, generated: plan.generated, workDir: setting.workDir });
    // A charm fetched from a URL is read only now: a base of its own is said, with the image to list.
    const fetched = charmFiles.filter((f) => f.temporary).map((f) => ({ name: f.name, path: f.path }));
    let uncovered: string[];
    try {
      uncovered = await uncoveredCharmBases(plan.jujuVersion, fetched, planned);
    } catch (err: unknown) {
      await removeTemporaryFiles(charmFiles);
      throw err;
    }
    for (const message of uncovered) {
      warnings.push(message);
      emit({ type: 'warning', message });
    }
    const clash = charmFiles.find((f) => toolFiles.some((t) => t.name === f.name));
    if (clash !== undefined) {
      await removeTemporaryFiles(charmFiles);
      throw new AirgapError(`two files named ${clash.name} would go into charms.tar.gz: ${clash.path} and the airgap executable`, { hint: 'charms.tar.gz is flat: rename the release file' });
    }
    const charmBytes = [...charmFiles, ...toolFiles].reduce((n, f) => n + f.size, 0);
    const layers = archiveLayers(carried, leftOutDigests);
    const cachePlan = cache === undefined ? undefined : await CachedSource.plan(cache, layers);
    await checkFreeSpace(outputDir, uniqueBlobBytes - leftOutBytes + charmBytes, cache === undefined || cachePlan === undefined ? undefined : { dir: cache.dir, bytes: cachePlan.downloadBytes });

    emit({ type: 'images-resolved', images: images.map((i) => ({ path: i.path, bytes: i.totalBytes, digest: i.top.descriptor.digest })) });
    if (cache !== undefined) await cacheDocuments(cache, carried);
    // Per-image entries are whole images, reported as each is appended; the default layout shares layers.
    const completion = options.perImage ? undefined : new ImageCompletion(images, leftOutDigests, emit);
    const context: BlobSourceContext = { client, emit, onBlobWritten: (digest) => completion?.blobWritten(digest), signal: options.signal };
    source = cache === undefined || cachePlan === undefined ? directSource(layers, context) : CachedSource.start(cache, cachePlan, concurrency, context);
    const imagesPath = join(outputDir, IMAGES_ARCHIVE);
    // Split, the archive is its parts: each joins the output set once written.
    const imagesArchive = await writeImagesArchive(options.splitBytes === undefined ? outputs.path(IMAGES_ARCHIVE) : join(outputs.stagingDir, IMAGES_ARCHIVE), carried, images.length, source, { ...options, leftOut: leftOutDigests, expectedBytes: uniqueBlobBytes - leftOutBytes }, emit, completion);
    for (const part of imagesArchive.parts ?? []) outputs.add(basename(part.path));
    await dropStaleImageArchives(outputs, imagesArchive);
    const finalParts = imagesArchive.parts?.map((p) => ({ ...p, path: join(outputDir, basename(p.path)) }));
    emit({ type: 'archive-written', path: imagesPath, size: imagesArchive.size, sha256: imagesArchive.sha256, ...(finalParts === undefined ? {} : { parts: finalParts.map((p) => ({ path: p.path, size: p.size })) }) });
    await source.close();

    const charmsPath = join(outputDir, CHARMS_ARCHIVE);
    let charmsArchive: WrittenArchive;
    try {
      charmsArchive = await writeTarGz(outputs.path(CHARMS_ARCHIVE), async (append) => {
        for (const f of charmFiles) {
          // A .charm is a zip, already compressed; the release's YAML files are text and deflate well.
          await append({ name: f.name, size: f.size, compress: !f.name.endsWith('.charm'), open: () => createReadStream(f.path) });
          emit({ type: 'charm', file: f.name, size: f.size });
        }
        for (const t of toolFiles) {
          // An executable is not compressed yet: level 1 takes 130 MiB to about 47 MiB.
          await append({ name: t.name, size: t.size, mode: 0o755, compress: true, open: () => createReadStream(t.path) });
          emit({ type: 'charm', file: t.name, size: t.size });
        }
      }, { expectedBytes: charmBytes, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    } finally {
      await removeTemporaryFiles(charmFiles);
    }
    emit({ type: 'archive-written', path: charmsPath, size: charmsArchive.size, sha256: charmsArchive.sha256 });

    const lock: Lock = {
      lockVersion: LOCK_VERSION,
      tool: TOOL_NAME,
      name: plan.name,
      version: release.version,
      placeholder: plan.generated?.placeholder ?? release.placeholder,
      platforms: platforms.map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/')),
      images: images.map((image) => lockedImage(image, planned, release.baseDir, found?.byImage.get(image.path))),
      charms: charmFiles
        .filter((f) => f.charm !== undefined)
        .map((f) => ({ name: f.charm, file: f.name, source: f.source, sha256: f.sha256, size: f.size, ...f.charmhub })),
      ...(toolFiles.length === 0 ? {} : { tools: toolFiles.map((t) => ({ file: t.name, platform: t.platform, sha256: t.sha256, size: t.size })) }),
      archives: {
        [IMAGES_ARCHIVE]: {
          sha256: imagesArchive.sha256, size: imagesArchive.size, layout: options.perImage ? 'per-image' : 'oci+docker',
          ...(imagesArchive.parts === undefined ? {} : { parts: imagesArchive.parts.map((p) => ({ file: basename(p.path), size: p.size, sha256: p.sha256 })) }),
        },
        [CHARMS_ARCHIVE]: { sha256: charmsArchive.sha256, size: charmsArchive.size },
      },
      blobs: lockedBlobs(carried),
      ...(base === undefined ? {} : { base: base.base, leftOut }),
    };
    const lockPath = join(outputDir, LOCK_FILE_NAME);
    await writeLock(outputs.path(LOCK_FILE_NAME), lock);
    await outputs.commit(options.signal);
    if (cache !== undefined) {
      await cache.recordImages(images.filter((i) => !i.narrowed).map((i) => ({ reference: i.upstream, descriptor: i.top.descriptor })));
      emit({ type: 'cache', dir: cache.dir, ...(await cache.usage()) });
    }
    return {
      lock, lockPath, images: { ...imagesArchive, path: imagesPath, ...(finalParts === undefined ? {} : { parts: finalParts }) }, charms: { ...charmsArchive, path: charmsPath }, warnings, uniqueBlobBytes,
    };
  } finally {
    await source?.close();
    await outputs?.discard();
    await client.close();
  }
}

/** Manifests and configs (and a narrowed index, ours) go into the cache too: `cache prune` and `--since` walk them. */
async function cacheDocuments(cache: BlobCache, images: readonly ResolvedImage[]): Promise<void> {
  for (const image of images) {
    for (const doc of [...image.manifests.values(), ...image.configs.values()]) await cache.putBytes(doc.descriptor, doc.bytes);
  }
}

/**
 * images.tar.gz (or its parts) from the blob source. A cached layer found damaged as it is read has been
 * removed: it is downloaded again and the archive written again from its start, so what is written is
 * always what a run straight through writes.
 */
async function writeImagesArchive(
  path: string,
  carried: readonly ResolvedImage[],
  /** The first `imageCount` of `carried` are the release's images; the rest are their referrers. */
  imageCount: number,
  source: BlobSource,
  options: Pick<CollectOptions, 'perImage' | 'splitBytes' | 'signal'> & { leftOut: ReadonlySet<string>; expectedBytes: number },
  emit: CollectEventListener,
  completion: ImageCompletion | undefined,
): Promise<WrittenArchive> {
  for (let attempt = 1; ; attempt++) {
    const entries = options.perImage ? perImageEntries(carried, source.open) : layoutEntries(carried, source.open, options.leftOut);
    const split = options.splitBytes === undefined ? undefined : { partBytes: options.splitBytes, maxBytes: maxGzipSize(tarSize(entries)) };
    try {
      return await writeTarGz(path, async (append) => {
        for (const [index, entry] of entries.entries()) {
          await append(entry);
          // In the per-image layout each outer entry is one whole image.
          const image = options.perImage && index < imageCount ? carried[index] : undefined;
          if (image !== undefined) emit({ type: 'image-written', path: image.path });
        }
        completion?.finish();
      }, { expectedBytes: options.expectedBytes, ...(options.signal === undefined ? {} : { signal: options.signal }), ...(split === undefined ? {} : { split }) });
    } catch (err: unknown) {
      const damaged = corruptCacheBlob(err);
      // Each damaged layer is fetched again once; a cache that keeps damaging what it stores is a disk to look at.
      if (damaged === undefined || !(source instanceof CachedSource) || attempt > 3) throw err;
      emit({ type: 'cache-damaged', digest: damaged.expected, message: damaged.message });
      source.refetch(damaged.expected);
      source.restartWriting();
    }
  }
}

function corruptCacheBlob(err: unknown): CorruptCacheBlobError | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof CorruptCacheBlobError) return e;
    if (typeof e !== 'object' || e === null) return undefined;
  }
  return undefined;
}

/**
 * The archive is images.tar.gz or its parts: whichever of them an earlier collect into this directory wrote
 * and this one did not would be taken for part of it, so the output set takes them away with its commit.
 */
async function dropStaleImageArchives(outputs: OutputSet, written: WrittenArchive): Promise<void> {
  const names = new Set((written.parts ?? [{ path: written.path }]).map((p) => basename(p.path)));
  for (const name of await readdir(outputs.dir)) {
    if ((name === IMAGES_ARCHIVE || isPartOf(name, IMAGES_ARCHIVE)) && !names.has(name)) outputs.remove(name);
  }
}

/**
 * Says when each image is complete in the archive: when the last layer it needs has been written,
 * whichever image brought that layer first.
 */
class ImageCompletion {
  readonly #pending = new Map<string, Set<string>>();
  readonly #emit: CollectEventListener;

  constructor(images: readonly ResolvedImage[], leftOut: ReadonlySet<string>, emit: CollectEventListener) {
    this.#emit = emit;
    // A layer left out (--since) is never written: the image is complete without it.
    for (const image of images) this.#pending.set(image.path, new Set(image.layers.map((l) => l.digest).filter((d) => !leftOut.has(d))));
    this.#flushEmpty();
  }

  blobWritten(digest: string): void {
    for (const [path, layers] of this.#pending) {
      if (layers.delete(digest) && layers.size === 0) this.#done(path);
    }
    this.#flushEmpty();
  }

  /** Images with no layer left to wait for (all shared, or none at all) are complete now. */
  #flushEmpty(): void {
    for (const [path, layers] of this.#pending) if (layers.size === 0) this.#done(path);
  }

  finish(): void {
    for (const path of [...this.#pending.keys()]) this.#done(path);
  }

  #done(path: string): void {
    if (this.#pending.delete(path)) this.#emit({ type: 'image-written', path });
  }
}

/** Every blob of the release once (manifests and configs first, then layers, as in the archive), with the images needing it. */
function lockedBlobs(images: readonly ResolvedImage[]): LockedBlob[] {
  const blobs = new Map<string, LockedBlob>();
  // A referrer's blobs are credited to the image it belongs to: that is the image that needs them.
  const use = (digest: string, size: number, path: string): void => {
    const known = blobs.get(digest);
    if (known === undefined) blobs.set(digest, { digest, size, images: [path] });
    else if (!known.images.includes(path)) known.images.push(path);
  };
  const owner = (image: ResolvedImage): string => image.referrer?.of ?? image.path;
  for (const image of images) {
    for (const doc of [...image.manifests.values(), ...image.configs.values()]) use(doc.descriptor.digest, doc.bytes.length, owner(image));
  }
  for (const image of images) for (const layer of image.layers) use(layer.digest, layer.size, owner(image));
  return [...blobs.values()];
}

function countUniqueBytes(images: readonly ResolvedImage[]): number {
  const sizes = new Map<string, number>();
  for (const image of images) {
    for (const doc of [...image.manifests.values(), ...image.configs.values()]) sizes.set(doc.descriptor.digest, doc.bytes.length);
    for (const layer of image.layers) sizes.set(layer.digest, layer.size);
  }
  let total = 0;
  for (const size of sizes.values()) total += size;
  return total;
}

function lockedImage(image: ResolvedImage, planned: readonly PlannedImage[], baseDir: string, referrers: LockedReferrer[] | undefined): LockedImage {
  const plan = planned.find((p) => p.path === image.path);
  return {
    reference: image.written,
    upstream: image.upstream,
    path: image.path,
    digest: image.top.descriptor.digest,
    mediaType: image.top.descriptor.mediaType,
    platforms: image.platforms,
    size: image.totalBytes,
    narrowed: image.narrowed,
    mentions: (plan?.mentions ?? []).map((m) => ({ file: relative(baseDir, m.file) || m.file, yamlPath: m.yamlPath, line: m.line, ...(m.applications === undefined ? {} : { applications: m.applications }) })),
    ...(plan?.reason === undefined ? {} : { reason: plan.reason }),
    ...(referrers === undefined ? {} : { referrers }),
  };
}
