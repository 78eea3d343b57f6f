/**
 * The bearer tokens the registry issues itself (the distribution token flow, with the registry as its own token
 * service): `base64url(claims).base64url(hmac)`, signed with a key made at start, so a token is checked without
 * any state and a restart simply makes clients ask again. A token says who (empty: anonymous) and whether it
 * may change the registry; it lives 15 minutes, longer than any single request of a large upload takes to start.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_LIFETIME_S = 15 * 60;

export interface TokenClaims {
  /** The user; '' for an anonymous token. */
  sub: string;
  /** May push and delete. */
  push: boolean;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export class TokenSigner {
  readonly #key = randomBytes(32);

  issue(sub: string, push: boolean, now = Date.now()): string {
    const claims: TokenClaims = { sub, push, exp: Math.floor(now / 1000) + TOKEN_LIFETIME_S };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${this.#sign(body)}`;
  }

  /** The claims of a token this signer issued and that has not expired, else undefined. */
  verify(token: string, now = Date.now()): TokenClaims | undefined {
    const dot = token.indexOf('.');
    if (dot < 0) return undefined;
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.#sign(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const { sub, push, exp } = claims as Partial<TokenClaims>;
    if (typeof sub !== 'string' || typeof push !== 'boolean' || typeof exp !== 'number' || exp * 1000 <= now) return undefined;
    return { sub, push, exp };
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#key).update(body).digest('base64url');
  }
}
