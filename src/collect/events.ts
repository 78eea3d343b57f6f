import type { TransferSnapshot } from './transfer-meter.ts';

/** Progress of a collect, for the CLI to render; the library itself never prints. */
export type CollectEvent =
  /** Before the release files are read: a large one takes a while. */
  | { type: 'release-reading'; file: string }
  | { type: 'release'; name: string; version: string; images: number; charms: number }
  | { type: 'warning'; message: string }
  | { type: 'charm-downloading'; charm: string; channel: string | undefined; applications: string[] }
  | { type: 'charm-downloaded'; file: string; revision: number | undefined; sha256: string; images: number; applications: string[] }
  | { type: 'image-resolving'; path: string; upstream: string }
  | { type: 'image-resolved'; path: string; digest: string; bytes: number; blobs: number; platforms: string[] }
  | { type: 'image-failed'; path: string; message: string }
  | { type: 'images-resolved'; images: { path: string; bytes: number; digest: string }[] }
  | { type: 'referrers-found'; path: string; referrers: number }
  // --since: the base release, and the layers left out of the archive because it has them.
  | { type: 'differential'; base: string; leftOutLayers: number; leftOutBytes: number }
  // What the archive's layers come from: the cache (cache: its directory; undefined with --no-cache), a partial
  // download a killed run left (resumeBytes), the registry (downloadBytes). Sent once, before the first byte.
  | { type: 'transfer-plan'; cache: string | undefined; layers: number; bytes: number; cachedLayers: number; cachedBytes: number; downloadLayers: number; downloadBytes: number; resumeBytes: number }
  // The whole collect so far: bytes, rates, time left (a few times a second at most).
  | ({ type: 'progress' } & TransferSnapshot)
  | { type: 'blob-progress'; path: string; digest: string; bytes: number }
  | { type: 'blob-downloaded'; path: string; digest: string; size: number; resumedBytes: number }
  // A cached layer whose bytes were not its digest's: removed, downloaded again, the archive written again.
  | { type: 'cache-damaged'; digest: string; message: string }
  | { type: 'blob-done'; path: string; digest: string; size: number }
  | { type: 'image-written'; path: string }
  | { type: 'charm'; file: string; size: number }
  | { type: 'archive-written'; path: string; size: number; sha256: string; parts?: { path: string; size: number }[] }
  // The cache after the collect: what it holds on disk.
  | { type: 'cache'; dir: string; blobs: number; bytes: number; partialBytes: number };

export type CollectEventListener = (event: CollectEvent) => void;
