import { TokenAuthenticator, type HttpRequest } from '../token.ts';
import type { AuthScheme } from './scheme.ts';

/**
 * The distribution token flow: a bearer token from the challenge's realm, for the scopes the request needs
 * widened by the scope the challenge names (an `insufficient_scope` answer says what was missing), cached
 * per scope set and identity until it expires. Anonymous pulls from public registries go this way too:
 * the realm hands out tokens without credentials.
 */
export function bearerScheme(request: HttpRequest, registry: string): AuthScheme {
  const tokens = new TokenAuthenticator(request, { registry });
  return {
    async authorization(challenge, scope, credentials) {
      return tokens.authorization([challenge], [...scope], credentials);
    },
    refused(authorization) {
      tokens.invalidate(authorization);
    },
  };
}
