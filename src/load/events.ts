/** Progress of a load, for the CLI to render; the library itself never prints. */
export type LoadEvent =
  | { type: 'archive'; path: string; images: number; layout: 'oci+docker' | 'per-image' | 'docker-save' }
  | { type: 'image-present'; path: string; digest: string }
  | { type: 'blob-uploaded'; digest: string; size: number; repository: string }
  | { type: 'blob-skipped'; digest: string; size: number; repository: string; how: 'present' | 'mounted' }
  | { type: 'blob-progress'; digest: string; bytes: number }
  | { type: 'second-pass'; blobs: number; reason: string }
  | { type: 'image-pushed'; path: string; reference: string; digest: string }
  /** A referrer (signature, SBOM, attestation) of an image, pushed after it or found there already. */
  | { type: 'referrer'; of: string; reference: string; digest: string; how: 'pushed' | 'present' }
  /** A Docker Hub image's second name under library/ (hub-aliases.ts), pushed after it or found there already. */
  | { type: 'alias'; of: string; reference: string; digest: string; how: 'pushed' | 'present' }
  | { type: 'charm'; file: string; size: number }
  | { type: 'warning'; message: string }
  // --via docker: the daemon connected to, each image its `docker load` reported, and its load/push progress lines.
  | { type: 'daemon'; host: string; version: string }
  | { type: 'daemon-loaded'; reference: string }
  | { type: 'daemon-progress'; image: string | undefined; status: string };

export type LoadEventListener = (event: LoadEvent) => void;
