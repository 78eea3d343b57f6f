/**
 * The auth layer of the registry client: who we are to one registry. Requests go out anonymous until the
 * registry answers 401; its `WWW-Authenticate` challenge names a scheme, and the handler for that scheme
 * (schemes/: basic, bearer) makes the Authorization value, cached per scope. Credentials go to the
 * registry's own host only: a redirect elsewhere (blob storage, a CDN) is followed below this layer, by
 * client.ts, without them.
 */
import { Readable } from 'node:stream';
import { AuthenticationError } from '../../errors.ts';
import { challengesFrom, type AuthChallenge } from './challenge.ts';
import type { Credentials } from './credentials.ts';
import type { RetryingTransport } from './retry.ts';
import { basicScheme } from './schemes/basic.ts';
import { bearerScheme } from './schemes/bearer.ts';
import type { AuthScheme } from './schemes/scheme.ts';
import type { HttpRequest as TokenRequest } from './token.ts';
import { wantsCredentials } from './token.ts';
import type { HttpRequest, HttpResponse } from './transport.ts';

/** Scheme name (lower case) -> handler, in order of preference when a registry offers several. */
export type SchemeMap = ReadonlyMap<string, AuthScheme>;

export function defaultSchemes(tokenRequest: TokenRequest, registry: string): SchemeMap {
  return new Map<string, AuthScheme>([
    ['bearer', bearerScheme(tokenRequest, registry)],
    ['basic', basicScheme],
  ]);
}

function describe(credentials: Credentials): string {
  return 'password' in credentials ? `user ${credentials.username}` : `the identity token${credentials.username === undefined ? '' : ` of ${credentials.username}`}`;
}

export class Authenticator {
  readonly #host: string;
  readonly #next: RetryingTransport;
  readonly #credentials: () => Promise<Credentials | undefined>;
  readonly #schemes: SchemeMap;
  /** The challenge answered, once the registry has asked; before that, requests go anonymous. */
  #challenge: AuthChallenge | undefined;
  readonly #values = new Map<string, Promise<string | undefined>>();

  constructor(host: string, next: RetryingTransport, credentials: () => Promise<Credentials | undefined>, schemes: SchemeMap) {
    this.#host = host;
    this.#next = next;
    this.#credentials = credentials;
    this.#schemes = schemes;
  }

  /**
   * Send `req` as whoever the registry lets us be for `scope`. A 401 is answered once with the challenge it
   * carries (a request with a stream body cannot be sent twice, so its 401 stands); a second 401 means the
   * credentials were refused, or that there were none to send.
   */
  async send(req: HttpRequest, scope: readonly string[]): Promise<HttpResponse> {
    let authorization = await this.#authorization(scope);
    for (let round = 0; ; round++) {
      const res = await this.#next.send(authorization === undefined ? req : { ...req, headers: { ...req.headers, authorization } });
      if (res.statusCode !== 401) return res;
      const offered = challengesFrom(res.headers['www-authenticate']);
      await res.body.dump();
      const challenge = offered.find((c) => c.scheme === 'bearer') ?? offered.find((c) => this.#schemes.has(c.scheme));
      if (challenge === undefined) {
        const schemes = offered.map((c) => c.scheme).join(', ');
        throw new AuthenticationError(`${req.what}: registry ${this.#host} answered 401 ${schemes === '' ? 'without an authentication challenge' : `asking for ${schemes}, which airgap does not speak`}`, { status: 401 });
      }
      if (authorization !== undefined) this.#forget(authorization, scope);
      if (round > 0 || req.body instanceof Readable) throw await this.#refusal(req.what, challenge, scope);
      this.#challenge = challenge;
      authorization = await this.#authorization(scope);
      if (authorization === undefined) throw await this.#refusal(req.what, challenge, scope);
    }
  }

  #authorization(scope: readonly string[]): Promise<string | undefined> {
    const challenge = this.#challenge;
    if (challenge === undefined) return Promise.resolve(undefined);
    const key = scope.join(' ');
    let value = this.#values.get(key);
    if (value === undefined) {
      const scheme = this.#schemes.get(challenge.scheme);
      value = (async () => scheme?.authorization(challenge, scope, await this.#credentials()))();
      // A failed ask (the token realm was down) is not remembered.
      value.catch(() => this.#values.delete(key));
      // Bearer tokens expire: the scheme keeps its own cache with their lifetimes, so only basic is kept here.
      if (challenge.scheme === 'basic') this.#values.set(key, value);
    }
    return value;
  }

  #forget(authorization: string, scope: readonly string[]): void {
    this.#values.delete(scope.join(' '));
    for (const scheme of this.#schemes.values()) scheme.refused(authorization);
  }

  async #refusal(what: string, challenge: AuthChallenge, scope: readonly string[]): Promise<AuthenticationError> {
    const credentials = await this.#credentials();
    if (credentials === undefined) {
      const wanted = wantsCredentials(this.#host, 401);
      return new AuthenticationError(`${what}: ${wanted.message.replace(/^registry /, '')}`, { status: 401 });
    }
    if (challenge.params.error === 'insufficient_scope') {
      return new AuthenticationError(`${what}: registry ${this.#host} accepted ${describe(credentials)} but did not grant ${challenge.params.scope ?? scope.join(' ')}`, {
        status: 401,
        hint: 'the account lacks permission on this repository: ask for it, or use an account that has it',
      });
    }
    return new AuthenticationError(`${what}: registry ${this.#host} refused the credentials of ${describe(credentials)}`, {
      status: 401,
      hint: `check them: pass --username and --password-stdin, or run docker login ${this.#host} again`,
    });
  }
}
