import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { layoutEntries, type BlobOpener } from '../archive/image-layout.ts';
import { perImageEntries } from '../archive/per-image.ts';
import { writeTarGz, type WrittenArchive } from '../archive/write-archive.ts';
import { AirgapError, UsageError, messageOf } from '../errors.ts';
import { formatBytes } from '../util/format-bytes.ts';
import { OutputSet } from '../fs/output-set.ts';
import { LOCK_FILE_NAME, LOCK_VERSION, writeLock, type Lock, type LockedImage, type LockedReferrer } from '../lock.ts';
import { parsePlatform } from '../oci/platform.ts';
import { parseReference } from '../reference.ts';
import type { PlannedImage } from '../release/index.ts';
import { registryClientFor, type RegistryClient, type RegistryHost } from '../store/registry/client.ts';
import type { Credentials } from '../store/registry/credentials.ts';
import type { RetryPolicy } from '../store/registry/retry.ts';
import { fulfilledOrThrow, settleConcurrently } from '../util/concurrency.ts';
import { TOOL_NAME } from '../version.ts';
import { checkLocalCharms, gatherCharmFiles, removeTemporaryFiles } from './charm-files.ts';
import type { CollectEventListener } from './events.ts';
import type { PullSource } from './mirrors.ts';
import { uncoveredCharmBases } from './juju-images.ts';
import { planCollect, sourcesOf, withJujuImages, type CollectPlan, type CollectPlanOptions } from './plan.ts';
import { findReferrers } from './referrers.ts';
import { resolveImage, type ImageToResolve } from './resolve-image.ts';
import type { ResolvedImage } from './resolved-image.ts';
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
async function resolveFromSources(client: RegistryClient, planned: PlannedImage, sources: readonly PullSource[], platforms: Parameters<typeof resolveImage>[2]): Promise<ResolvedImage> {
  const failures: unknown[] = [];
  for (const source of sources) {
    const host: RegistryHost = client.host(source.registry);
    try {
      return await resolveImage(host, toResolve(planned, source), platforms);
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

async function checkFreeSpace(dir: string, needed: number): Promise<void> {
  const stats = await statfs(dir);
  const free = stats.bavail * stats.bsize;
  if (free < needed) {
    throw new AirgapError(`not enough space in ${dir}: the archives need about ${formatBytes(needed)}, ${formatBytes(free)} is free`, {
      hint: 'free some space or choose another directory with -o',
    });
  }
}

/**
 * The online side: a release becomes images.tar.gz, charms.tar.gz and airgap-lock.json in `outputDir`.
 * Every manifest is fetched first, so a missing image fails the run before a byte of layer is written;
 * then the archive streams layer by layer, each verified, each written once.
 */
export async function collect(options: CollectOptions): Promise<CollectResult> {
  const emit: CollectEventListener = options.onEvent ?? (() => {});
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
  const plainHttp = [...(options.plainHttp ?? []), ...plan.mirrors.insecureHosts];
  // Credentials from the command line belong to the one registry the images are pulled from (a mirror, when there is one).
  const registries = planned.flatMap((p) => sourcesOf(plan, p).map((source) => source.registry));
  const client = registryClientFor({ ...options, plainHttp }, { connectionsPerHost: Math.max(2, options.concurrency ?? 4), ...credentialsHost(registries, options.credentials) });
  let outputs: OutputSet | undefined;
  try {
    // The three files replace an earlier collect's all together or not at all (src/fs/output-set.ts).
    outputs = await OutputSet.open(outputDir, [IMAGES_ARCHIVE, CHARMS_ARCHIVE, LOCK_FILE_NAME]);
    const concurrency = options.concurrency ?? 4;
    const settled = await settleConcurrently(planned, concurrency, async (p) => {
      emit({ type: 'image-resolving', path: p.path, upstream: p.upstream });
      try {
        const resolved = await resolveFromSources(client, p, sourcesOf(plan, p), platforms);
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
    const charmFiles = await gatherCharmFiles(release, outputs.stagingDir, client, { downloaded: plan.charms, generated: plan.generated, workDir });
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
    await checkFreeSpace(outputDir, uniqueBlobBytes + charmBytes);

    emit({ type: 'images-resolved', images: images.map((i) => ({ path: i.path, bytes: i.totalBytes, digest: i.top.descriptor.digest })) });
    // Per-image entries are whole images, reported as each is appended; the default layout shares layers.
    const completion = options.perImage ? undefined : new ImageCompletion(images, emit);
    const openBlob: BlobOpener = (image, blob) => streamWithProgress(client, image, blob, (event) => {
      emit(event);
      if (event.type === 'blob-done') completion?.blobWritten(event.digest);
    });
    const imagesPath = join(outputDir, IMAGES_ARCHIVE);
    const entries = options.perImage ? perImageEntries(carried, openBlob) : layoutEntries(carried, openBlob);
    const imagesArchive = await writeTarGz(outputs.path(IMAGES_ARCHIVE), async (append) => {
      for (const [index, entry] of entries.entries()) {
        await append(entry);
        // In the per-image layout each outer entry is one whole image.
        const image = options.perImage ? images[index] : undefined;
        if (image !== undefined) emit({ type: 'image-written', path: image.path });
      }
      completion?.finish();
    }, { expectedBytes: uniqueBlobBytes, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    emit({ type: 'archive-written', path: imagesPath, size: imagesArchive.size, sha256: imagesArchive.sha256 });

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
        [IMAGES_ARCHIVE]: { sha256: imagesArchive.sha256, size: imagesArchive.size, layout: options.perImage ? 'per-image' : 'oci+docker' },
        [CHARMS_ARCHIVE]: { sha256: charmsArchive.sha256, size: charmsArchive.size },
      },
    };
    const lockPath = join(outputDir, LOCK_FILE_NAME);
    await writeLock(outputs.path(LOCK_FILE_NAME), lock);
    await outputs.commit(options.signal);
    return { lock, lockPath, images: { ...imagesArchive, path: imagesPath }, charms: { ...charmsArchive, path: charmsPath }, warnings, uniqueBlobBytes };
  } finally {
    await outputs?.discard();
    await client.close();
  }
}

/**
 * Says when each image is complete in the archive: when the last layer it needs has been written,
 * whichever image brought that layer first.
 */
class ImageCompletion {
  readonly #pending = new Map<string, Set<string>>();
  readonly #emit: CollectEventListener;

  constructor(images: readonly ResolvedImage[], emit: CollectEventListener) {
    this.#emit = emit;
    for (const image of images) this.#pending.set(image.path, new Set(image.layers.map((l) => l.digest)));
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

async function* streamWithProgress(client: RegistryClient, image: ResolvedImage, blob: { digest: string; size: number; mediaType: string }, emit: CollectEventListener): AsyncIterable<Buffer> {
  const what = `image ${image.written} layer ${blob.digest}`;
  let pending = 0;
  for await (const chunk of client.host(image.registry).getBlob(image.repository, blob, what)) {
    pending += chunk.length;
    // Reporting every 64 KiB chunk would cost more than the copy; a few events per MB is plenty.
    if (pending >= 4 * 1024 * 1024) {
      emit({ type: 'blob-progress', path: image.path, digest: blob.digest, bytes: pending });
      pending = 0;
    }
    yield chunk;
  }
  if (pending > 0) emit({ type: 'blob-progress', path: image.path, digest: blob.digest, bytes: pending });
  emit({ type: 'blob-done', path: image.path, digest: blob.digest, size: blob.size });
}
