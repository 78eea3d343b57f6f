/** What a running registry reports, for the CLI (or a test, or the demo) to show; the library prints nothing. */
export type ServeEvent =
  | { type: 'unpack-start'; archive: string; store: string }
  | { type: 'unpack-blob'; digest: string; size: number; written: boolean }
  | { type: 'unpack-done'; archive: string; images: number; written: number; writtenBytes: number; reused: number; readWhole: boolean; seconds: number }
  | { type: 'ready'; url: string; images: number; repositories: number; writable: boolean; store: string | undefined; sources: string[]; users: number | undefined; anonymousPull: boolean }
  /** One per request, when its response has gone (or the client went away: `aborted`). */
  | { type: 'request'; time: string; remote: string; user: string | undefined; method: string; path: string; status: number; bytesSent: number; bytesReceived: number; ms: number; aborted: boolean; error?: string }
  | { type: 'pushed'; repository: string; reference: string; digest: string; mediaType: string }
  | { type: 'deleted'; repository: string; reference: string }
  | { type: 'warning'; message: string }
  | { type: 'closing'; inFlight: number }
  | { type: 'closed' };

export type ServeEventListener = (event: ServeEvent) => void;
