import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthPolicy } from './auth.ts';
import type { BlobStore } from './blob-store.ts';
import type { RegistryContent } from './content.ts';
import type { ServeEventListener } from './events.ts';
import type { UploadSessions } from './uploads.ts';

/** What every handler may use: the content, and for a writable registry the store and its uploads. */
export interface ServeContext {
  readonly content: RegistryContent;
  readonly store: BlobStore | undefined;
  readonly uploads: UploadSessions | undefined;
  readonly writable: boolean;
  /** With --htpasswd: who may pull and push. Undefined: anyone may do anything the registry offers. */
  readonly auth: AuthPolicy | undefined;
  readonly emit: ServeEventListener;
}

/** One request being answered. `received` and `sent` count body bytes, for the request log. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** scheme://host as the client addressed us: the base of the Location headers we give. */
  readonly baseUrl: string;
  received: number;
  sent: number;
  /** The authenticated user, for the request log. */
  user: string | undefined;
}
