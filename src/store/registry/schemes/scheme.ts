import type { AuthChallenge } from '../challenge.ts';
import type { Credentials } from '../credentials.ts';

/**
 * One HTTP authentication scheme a registry may ask for in its `WWW-Authenticate` challenge. A new scheme
 * is one file implementing this, added to the map in auth.ts.
 */
export interface AuthScheme {
  /**
   * The Authorization value answering `challenge` for a request that needs `scope`
   * (`repository:NAME:pull[,push]` entries), or undefined when this scheme cannot answer it (Basic without
   * credentials): the request then goes without, and the registry's 401 stands.
   */
  authorization(challenge: AuthChallenge, scope: readonly string[], credentials: Credentials | undefined): Promise<string | undefined>;
  /** Forget a value the registry refused after all (a revoked or expired token), so the next ask gets a new one. */
  refused(authorization: string): void;
}
