/**
 * The `Authorization` value answering a registry's challenge: `Basic` from credentials, or a bearer token
 * fetched from the realm of the distribution token spec (docker/distribution docs/spec/auth/token.md and
 * oauth.md). Tokens are cached per realm, service, scopes and identity until they expire, and concurrent
 * asks for the same token share one request: with -j 8, eight blob requests hit the same 401 at once.
 */

import { AuthenticationError, RegistryError } from '../../errors.ts';
import type { AuthChallenge } from './challenge.ts';
import type { Credentials } from './credentials.ts';

/** The HTTP call the authenticator makes, injected so it goes through the caller's TLS trust and proxy. */
export type HttpRequest = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text(): Promise<string> }>;

export interface TokenAuthenticatorOptions {
  /** The registry host the tokens are for, named in error messages; default: the challenge's service. */
  registry?: string;
  /** Milliseconds since the epoch; injectable so expiry can be tested. */
  now?: () => number;
  /** Sent as `client_id` in the OAuth2 form, which the spec requires. */
  clientId?: string;
}

/** The spec: "if expires_in is not given, the token is valid for 60 seconds", and 60 is the least allowed. */
const MIN_TOKEN_SECONDS = 60;
/** Give a token back early so a request started just before expiry does not carry a dead token. */
const EXPIRY_MARGIN_MS = 10_000;

interface CachedToken {
  value: Promise<string>;
  /** The token once it has come. */
  token?: string;
  /** Milliseconds since the epoch; Infinity while the request is in flight. */
  expiresAt: number;
}

export class TokenAuthenticator {
  readonly #request: HttpRequest;
  readonly #registry: string | undefined;
  readonly #now: () => number;
  readonly #clientId: string;
  readonly #cache = new Map<string, CachedToken>();

  constructor(request: HttpRequest, options: TokenAuthenticatorOptions = {}) {
    this.#request = request;
    this.#registry = options.registry;
    this.#now = options.now ?? Date.now;
    this.#clientId = options.clientId ?? 'airgap';
  }

  /**
   * The Authorization header value for a request needing `scope` (`repository:NAME:pull[,push]` entries),
   * or undefined when nothing in the challenges can be answered (a Basic challenge without a password, an
   * unknown scheme): the caller's 401 then stands.
   */
  async authorization(challenges: AuthChallenge[], scope: string[], credentials: Credentials | undefined): Promise<string | undefined> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer !== undefined) return `Bearer ${await this.#token(bearer, scope, credentials)}`;
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (basic !== undefined && credentials !== undefined && 'password' in credentials) {
      return basicAuthorization(credentials.username, credentials.password);
    }
    return undefined;
  }

  /** Forget a token the registry refused after all (revoked, or the clock ran differently), so the next ask fetches anew. */
  invalidate(authorization: string): void {
    for (const [key, cached] of this.#cache) {
      if (cached.token !== undefined && `Bearer ${cached.token}` === authorization) this.#cache.delete(key);
    }
  }

  #token(challenge: AuthChallenge, scope: string[], credentials: Credentials | undefined): Promise<string> {
    const realm = challenge.params.realm;
    const registry = this.#registry ?? challenge.params.service ?? 'the registry';
    if (realm === undefined || realm === '') {
      return Promise.reject(
        new RegistryError(`registry ${registry} asked for a bearer token but named no realm to get it from`, {
          status: 401,
          hint: 'the registry is misconfigured: its token auth needs a realm',
        }),
      );
    }
    const service = challenge.params.service;
    // The challenge's own scope says what this very request needs (insufficient_scope names it): ask for
    // that as well as what the caller knows it will need.
    const scopes = unique([...scope, ...(challenge.params.scope ?? '').split(' ')].filter((s) => s !== ''));
    const key = JSON.stringify([realm, service ?? '', [...scopes].sort(), identityOf(credentials)]);

    const now = this.#now();
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.expiresAt > now) return cached.value;

    const entry: CachedToken = { value: Promise.resolve(''), expiresAt: Number.POSITIVE_INFINITY };
    entry.value = this.#fetch(realm, service, scopes, credentials, registry).then(
      ({ token, lifetimeSeconds }) => {
        entry.expiresAt = now + lifetimeSeconds * 1000 - EXPIRY_MARGIN_MS;
        entry.token = token;
        return token;
      },
      (err: unknown) => {
        if (this.#cache.get(key) === entry) this.#cache.delete(key);
        throw err;
      },
    );
    this.#cache.set(key, entry);
    return entry.value;
  }

  async #fetch(
    realm: string,
    service: string | undefined,
    scopes: string[],
    credentials: Credentials | undefined,
    registry: string,
  ): Promise<{ token: string; lifetimeSeconds: number }> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(`registry ${registry} named a token realm that is not a URL: ${realm}`, { status: 401 });
    }

    let res: Awaited<ReturnType<HttpRequest>>;
    if (credentials !== undefined && 'identityToken' in credentials) {
      // An identity token is an OAuth2 refresh token: it is exchanged by POST (token spec, oauth.md).
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: this.#clientId });
      if (service !== undefined) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      res = await this.#request(url.href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
      });
    } else {
      if (service !== undefined) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = { accept: 'application/json' };
      if (credentials !== undefined) {
        url.searchParams.set('account', credentials.username);
        headers.authorization = basicAuthorization(credentials.username, credentials.password);
      }
      res = await this.#request(url.href, { method: 'GET', headers });
    }

    const body = await res.text();
    if (res.status === 401 || res.status === 403) throw refused(registry, credentials, res.status);
    if (res.status < 200 || res.status >= 300) {
      const detail = errorDetail(body);
      throw new RegistryError(`token server ${url.origin}${url.pathname} for registry ${registry} answered ${res.status}${detail === '' ? '' : ` (${detail})`}`, {
        status: res.status,
        hint: `check that ${url.host} is reachable and working`,
      });
    }
    return parseTokenResponse(body, `${url.origin}${url.pathname}`, registry);
  }
}

/**
 * The body of a token answer: `token` (the spec) or `access_token` (OAuth2; the spec says both may come and
 * mean the same), and `expires_in` seconds.
 */
export function parseTokenResponse(body: string, realm: string, registry: string): { token: string; lifetimeSeconds: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new RegistryError(`token server ${realm} for registry ${registry} answered with something that is not JSON`, {
      hint: `check that ${realm} is the registry's token service (a proxy or captive portal may be answering)`,
    });
  }
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const token = [fields.token, fields.access_token].find((t): t is string => typeof t === 'string' && t !== '');
  if (token === undefined) {
    throw new RegistryError(`token server ${realm} for registry ${registry} answered without a token`, {
      hint: `check that ${realm} is the registry's token service`,
    });
  }
  const expiresIn = typeof fields.expires_in === 'number' ? fields.expires_in : Number(fields.expires_in);
  const lifetimeSeconds = Number.isFinite(expiresIn) && expiresIn > MIN_TOKEN_SECONDS ? expiresIn : MIN_TOKEN_SECONDS;
  return { token, lifetimeSeconds };
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

function refused(registry: string, credentials: Credentials | undefined, status: number): AuthenticationError {
  if (credentials === undefined) return wantsCredentials(registry, status);
  const who = credentials.username ?? 'the identity token';
  return new AuthenticationError(`registry ${registry} refused the credentials for ${who}`, {
    status,
    hint: `check them: pass --username and --password-stdin, or run docker login ${registry} again`,
  });
}

/** The registry asked for credentials and none were sent: say how to give some, not that they were refused. */
export function wantsCredentials(registry: string, status: number): AuthenticationError {
  return new AuthenticationError(`registry ${registry} wants credentials: docker login ${registry}, or --username/--password-stdin`, { status });
}

/** Which identity a token was issued to, for the cache key: never the secret itself. */
function identityOf(credentials: Credentials | undefined): string {
  if (credentials === undefined) return 'anonymous';
  if ('identityToken' in credentials) return `identity-token:${credentials.username ?? ''}`;
  return `user:${credentials.username}`;
}

/** A short reason from an error body (`{"details": ...}` of docker's auth, `{"errors":[{"message"}]}` of the spec). */
function errorDetail(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null) return '';
    const fields = parsed as Record<string, unknown>;
    const errors = Array.isArray(fields.errors) ? (fields.errors as unknown[]) : [];
    const first: unknown = errors[0];
    const message =
      typeof fields.details === 'string'
        ? fields.details
        : typeof first === 'object' && first !== null && typeof (first as Record<string, unknown>).message === 'string'
          ? ((first as Record<string, unknown>).message as string)
          : typeof fields.error_description === 'string'
            ? fields.error_description
            : '';
    return message.length > 200 ? `${message.slice(0, 200)}...` : message;
  } catch {
    return '';
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
