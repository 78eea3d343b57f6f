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
  | { type: 'blob-progress'; path: string; digest: string; bytes: number }
  | { type: 'blob-done'; path: string; digest: string; size: number }
  | { type: 'image-written'; path: string }
  | { type: 'charm'; file: string; size: number }
  | { type: 'archive-written'; path: string; size: number; sha256: string };

export type CollectEventListener = (event: CollectEvent) => void;
