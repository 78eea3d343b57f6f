import type { AuthScheme } from './scheme.ts';
import { basicAuthorization } from '../token.ts';

/** RFC 7617 Basic: the username and password themselves, on every request to the registry's own host. */
export const basicScheme: AuthScheme = {
  async authorization(_challenge, _scope, credentials) {
    if (credentials === undefined || !('password' in credentials)) return undefined;
    return basicAuthorization(credentials.username, credentials.password);
  },
  refused() {
    // Nothing is cached: the same password would be refused again, and the caller says so.
  },
};
