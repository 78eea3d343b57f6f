/**
 * Where the archive writer gets each layer's bytes: straight from the registry (`--no-cache`), or from the
 * blob cache, which downloads fill ahead of the writer (`-j` at once, in the archive's order). Either way the
 * progress of the whole collect is counted on a TransferMeter and told as events.
 */
import { open } from 'node:fs/promises';
import type { BlobOpener } from '../archive/image-layout.ts';
import { BlobCache } from '../cache/blob-cache.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import type { RegistryClient } from '../store/registry/client.ts';
import { Limiter } from '../util/limiter.ts';
import type { CollectEventListener } from './events.ts';
import type { ResolvedImage } from './resolved-image.ts';
import { TransferMeter } from './transfer-meter.ts';

// Reporting every 64 KiB chunk would cost more than the copy; a few events per MB is plenty.
const PROGRESS_EVERY = 4 * 1024 * 1024;
const TAIL_READ = 256 * 1024;

/** A layer the archive gets, with the first image that needs it (whose registry it is pulled from). */
export interface ArchiveLayer {
  image: ResolvedImage;
  blob: Descriptor;
}

/** A download started from nothing, as far as its partial file goes: the writer may read it while it grows. */
interface Growing {
  path: string | undefined;
  bytes: number;
  /** Settled once the download is verified (the file then has every byte) or has failed. */
  done: boolean;
  wake: (() => void) | undefined;
}

/** What the cache holds of the archive's layers, and what is left to download. */
export interface CachePlan {
  layers: readonly ArchiveLayer[];
  missing: ArchiveLayer[];
  cachedBytes: number;
  /** Bytes of the missing layers already in partial files killed runs left. */
  resumeBytes: number;
  downloadBytes: number;
}

export interface BlobSource {
  readonly open: BlobOpener;
  /** Wait for work started ahead (downloads) and release what the source holds. */
  close(): Promise<void>;
}

/** What a source needs around it. */
export interface BlobSourceContext {
  client: RegistryClient;
  emit: CollectEventListener;
  /** Called as each blob is complete in the archive. */
  onBlobWritten: (digest: string) => void;
  signal: AbortSignal | undefined;
}

/** The layers of the archive, each once, in the order the writer wants them. */
export function archiveLayers(images: readonly ResolvedImage[], leftOut: ReadonlySet<string>): ArchiveLayer[] {
  const seen = new Set<string>();
  const layers: ArchiveLayer[] = [];
  for (const image of images) {
    for (const blob of image.layers) {
      if (seen.has(blob.digest) || leftOut.has(blob.digest)) continue;
      seen.add(blob.digest);
      layers.push({ image, blob });
    }
  }
  return layers;
}

function blobWhat(image: ResolvedImage, blob: Descriptor): string {
  return `image ${image.written} layer ${blob.digest}`;
}

/** Counts a download's chunks for the meter and the per-blob progress events. */
async function* counted(source: AsyncIterable<Buffer>, onChunk: (bytes: number) => void, onSome: (bytes: number) => void, signal: AbortSignal): AsyncGenerator<Buffer> {
  let pending = 0;
  for await (const chunk of source) {
    // Another download failed: stop this one (what arrived stays in its partial file for the next run).
    signal.throwIfAborted();
    onChunk(chunk.length);
    pending += chunk.length;
    if (pending >= PROGRESS_EVERY) {
      onSome(pending);
      pending = 0;
    }
    yield chunk;
  }
  if (pending > 0) onSome(pending);
}

/** `--no-cache`: each layer streams from the registry into the archive, verified as it flows. */
export function directSource(layers: readonly ArchiveLayer[], context: BlobSourceContext): BlobSource {
  const { client, emit } = context;
  const total = layers.reduce((n, l) => n + l.blob.size, 0);
  const meter = new TransferMeter({ downloadTotal: total, writeTotal: total, fromCache: 0 }, (snapshot) => emit({ type: 'progress', ...snapshot }));
  emit({ type: 'transfer-plan', cache: undefined, layers: layers.length, bytes: total, cachedLayers: 0, cachedBytes: 0, downloadLayers: layers.length, downloadBytes: total, resumeBytes: 0 });
  const never = new AbortController().signal;
  let closed = false;
  return {
    open: async function* (image, blob) {
      const source = client.host(image.registry).getBlob(image.repository, blob, blobWhat(image, blob));
      yield* counted(source, (bytes) => {
        meter.addDownloaded(bytes);
        meter.addWritten(bytes);
      }, (bytes) => emit({ type: 'blob-progress', path: image.path, digest: blob.digest, bytes }), context.signal ?? never);
      emit({ type: 'blob-done', path: image.path, digest: blob.digest, size: blob.size });
      context.onBlobWritten(blob.digest);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      emit({ type: 'progress', ...meter.snapshot() });
    },
  };
}

/**
 * The cache fills ahead of the writer: every layer it lacks is downloaded (`concurrency` at once, in the
 * archive's order, so the writer rarely waits) and verified into it; the writer reads each layer from the
 * cache. Layers already cached before this run are hashed again as the writer reads them.
 */
export class CachedSource implements BlobSource {
  readonly #cache: BlobCache;
  readonly #context: BlobSourceContext;
  readonly #limiter: Limiter;
  readonly #meter: TransferMeter;
  readonly #stop = new AbortController();
  /** Digest -> settled once the layer is in the cache. */
  readonly #ready = new Map<string, Promise<void>>();
  /** Layers verified into the cache by this run: read back without hashing again. */
  readonly #verified = new Set<string>();
  readonly #layers = new Map<string, ArchiveLayer>();
  /** Downloads in flight that started from nothing, by digest. */
  readonly #growing = new Map<string, Growing>();
  #closed = false;
  readonly #onAbort = (): void => this.#stop.abort(this.#context.signal?.reason);

  private constructor(cache: BlobCache, context: BlobSourceContext, concurrency: number, meter: TransferMeter) {
    this.#cache = cache;
    this.#context = context;
    this.#limiter = new Limiter(concurrency);
    this.#meter = meter;
    context.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** What the cache has of `layers`, and what must be downloaded (less what killed runs left half-way). */
  static async plan(cache: BlobCache, layers: readonly ArchiveLayer[]): Promise<CachePlan> {
    const missing: ArchiveLayer[] = [];
    let cachedBytes = 0;
    for (const layer of layers) {
      if (await cache.has(layer.blob)) cachedBytes += layer.blob.size;
      else missing.push(layer);
    }
    const partials = await cache.partialSizes();
    const resumeBytes = missing.reduce((n, l) => n + Math.min(l.blob.size, partials.get(l.blob.digest) ?? 0), 0);
    return { layers, missing, cachedBytes, resumeBytes, downloadBytes: missing.reduce((n, l) => n + l.blob.size, 0) - resumeBytes };
  }

  /** Say what comes from where, and start downloading. */
  static start(cache: BlobCache, plan: CachePlan, concurrency: number, context: BlobSourceContext): CachedSource {
    const { layers, missing, cachedBytes, resumeBytes, downloadBytes } = plan;
    const total = layers.reduce((n, l) => n + l.blob.size, 0);
    context.emit({
      type: 'transfer-plan', cache: cache.dir, layers: layers.length, bytes: total, cachedLayers: layers.length - missing.length, cachedBytes,
      downloadLayers: missing.length, downloadBytes, resumeBytes,
    });
    const meter = new TransferMeter({ downloadTotal: downloadBytes, writeTotal: total, fromCache: cachedBytes }, (snapshot) => context.emit({ type: 'progress', ...snapshot }));
    const source = new CachedSource(cache, context, concurrency, meter);
    for (const layer of layers) source.#layers.set(layer.blob.digest, layer);
    for (const layer of missing) source.#fetch(layer);
    return source;
  }

  #fetch(layer: ArchiveLayer): void {
    const { image, blob } = layer;
    const what = blobWhat(image, blob);
    const host = this.#context.client.host(image.registry);
    const emit = this.#context.emit;
    const growing: Growing = { path: undefined, bytes: 0, done: false, wake: undefined };
    const grew = (): void => {
      const wake = growing.wake;
      growing.wake = undefined;
      wake?.();
    };
    const fetching = this.#limiter.run(async () => {
      this.#stop.signal.throwIfAborted();
      const { resumedBytes } = await this.#cache.fetch(blob, { digest: blob.digest, size: blob.size, what: `${what}: blob ${blob.digest} from ${image.registry}` }, (hasher) =>
        counted(host.getBlob(image.repository, blob, what, { hasher }), (bytes) => this.#meter.addDownloaded(bytes),
          (bytes) => emit({ type: 'blob-progress', path: image.path, digest: blob.digest, bytes }), this.#stop.signal), (partial) => {
        growing.path = partial.path;
        growing.bytes = partial.bytes;
        grew();
      });
      this.#verified.add(blob.digest);
      emit({ type: 'blob-downloaded', path: image.path, digest: blob.digest, size: blob.size, resumedBytes });
    }).finally(() => {
      growing.done = true;
      grew();
    });
    // The first failure stops the other downloads; the writer hears of it when it asks for that layer.
    fetching.catch((err: unknown) => this.#stop.abort(err));
    this.#limiter.track(fetching);
    this.#ready.set(blob.digest, fetching);
    this.#growing.set(blob.digest, growing);
  }

  get open(): BlobOpener {
    return (image, blob) => this.#read(image, blob);
  }

  async *#read(image: ResolvedImage, blob: Descriptor): AsyncGenerator<Buffer> {
    const growing = this.#growing.get(blob.digest);
    // The layer the writer waits for is read as it arrives, not once it is whole: its download is verified
    // at its end, and a failure there fails the collect as a bad download always does.
    const source = growing !== undefined && !growing.done ? this.#tail(blob, growing) : this.#whole(image, blob);
    for await (const chunk of source) {
      this.#meter.addWritten(chunk.length);
      yield chunk;
    }
    this.#context.emit({ type: 'blob-done', path: image.path, digest: blob.digest, size: blob.size });
    this.#context.onBlobWritten(blob.digest);
  }

  async *#whole(image: ResolvedImage, blob: Descriptor): AsyncGenerator<Buffer> {
    await this.#ready.get(blob.digest);
    // A download failed: the collect stops here rather than write on to a failure.
    this.#stop.signal.throwIfAborted();
    yield* this.#cache.read(blob, { verified: this.#verified.has(blob.digest), what: blobWhat(image, blob) });
  }

  /** A download's partial file read as it grows, to its last byte once the download is verified. */
  async *#tail(blob: Descriptor, growing: Growing): AsyncGenerator<Buffer> {
    const changed = (): Promise<void> => new Promise((resolve) => {
      growing.wake = resolve;
    });
    while (growing.path === undefined && !growing.done) await changed();
    const path = growing.path;
    // Done before its file could be opened (renamed under its digest already), or never written here (a
    // partial file continued): read it whole from the cache once it is there.
    const file = path === undefined ? undefined : await open(path, 'r').catch((err: unknown) => {
      if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
      throw err;
    });
    if (path === undefined || file === undefined) {
      await this.#ready.get(blob.digest);
      this.#stop.signal.throwIfAborted();
      yield* this.#cache.read(blob, { verified: true, what: blob.digest });
      return;
    }
    try {
      let offset = 0;
      while (offset < blob.size) {
        if (offset >= growing.bytes) {
          if (growing.done) {
            // Verified (its last bytes are on disk now, the file renamed: this handle still reads it), or failed.
            await this.#ready.get(blob.digest);
            this.#stop.signal.throwIfAborted();
            growing.bytes = blob.size;
            continue;
          }
          await changed();
          continue;
        }
        const buffer = Buffer.allocUnsafe(Math.min(TAIL_READ, growing.bytes - offset));
        const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
        if (bytesRead === 0) throw new Error(`${path} ended at ${offset} of ${blob.size} bytes`);
        offset += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await file.close();
    }
  }

  /** A layer the cache had was found damaged (and removed) while the archive was written: download it again. */
  refetch(digest: string): void {
    const layer = this.#layers.get(digest);
    if (layer === undefined) return;
    this.#verified.delete(digest);
    this.#meter.addDownloadTotal(layer.blob.size);
    this.#fetch(layer);
  }

  /** The archive is being written again from its start: what it counted as written is counted anew. */
  restartWriting(): void {
    this.#meter.written = 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#context.signal?.removeEventListener('abort', this.#onAbort);
    this.#stop.abort(new Error('collect ended'));
    await this.#limiter.drain().catch(() => {});
    this.#context.emit({ type: 'progress', ...this.#meter.snapshot() });
  }
}
