import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import {
  AirgapError,
  AuthenticationError,
  DigestMismatchError,
  NotFoundError,
  RegistryError,
  messageOf,
} from '../../errors.ts';
import { MANIFEST_MEDIA_TYPES } from '../../oci/media-types.ts';
import type { Descriptor } from '../../oci/descriptor.ts';
import { apiHost } from '../../reference.ts';
import { parseWwwAuthenticate, type AuthChallenge } from './challenge.ts';
import { lookupCredentials, type Credentials } from './credentials.ts';
import { TokenAuthenticator, type HttpRequest } from './token.ts';
import { describeTlsFailure, trustFor } from './tls.ts';
import { createDispatcher } from './transport.ts';
import {
  DEFAULT_RETRY_POLICY,
  isRetryableNetworkError,
  isRetryableStatus,
  retryDelayMs,
  sleep,
  type RetryPolicy,
} from './retry.ts';

export interface RegistryClientOptions {
  /** Extra CA files trusted for every registry (--ca-file). */
  caFiles?: readonly string[];
  /** Where docker-style per-host trust lives; default /etc/docker/certs.d and /etc/containers/certs.d. */
  certsDirs?: readonly string[];
  /** HOST or HOST:PORT spoken to over plain HTTP (--plain-http); a bare HOST matches every port. */
  plainHttp?: readonly string[];
  /** Credentials given on the command line, by registry host; others come from ~/.docker/config.json. */
  credentials?: ReadonlyMap<string, Credentials>;
  dockerConfigPath?: string;
  retry?: RetryPolicy;
  connectionsPerHost?: number;
  signal?: AbortSignal;
}

/** How a command reaches registries, as its flags say: shared by collect, load, deploy and check. */
export interface RegistryAccess {
  caFiles?: readonly string[] | undefined;
  certsDirs?: readonly string[] | undefined;
  plainHttp?: readonly string[] | undefined;
  dockerConfigPath?: string | undefined;
  retry?: RetryPolicy | undefined;
  signal?: AbortSignal | undefined;
}

/** A client for `access`; credentials given on the command line apply to `host` only, never elsewhere. */
export function registryClientFor(
  access: RegistryAccess,
  extra: { host?: string; credentials?: Credentials | undefined; connectionsPerHost?: number; retry?: RetryPolicy } = {},
): RegistryClient {
  return new RegistryClient({
    caFiles: access.caFiles,
    certsDirs: access.certsDirs,
    plainHttp: access.plainHttp,
    dockerConfigPath: access.dockerConfigPath,
    retry: extra.retry ?? access.retry,
    signal: access.signal,
    connectionsPerHost: extra.connectionsPerHost,
    credentials: extra.host !== undefined && extra.credentials !== undefined ? new Map([[extra.host, extra.credentials]]) : undefined,
  });
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

// Registries are allowed to refuse manifests over 4 MiB; anything larger is not a manifest.
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'airgap/0.1';

export interface SendOptions {
  repository: string | undefined;
  actions: 'pull' | 'pull,push';
  /** The caller retries itself (upload chunks, which must first ask the registry where it stands). */
  noRetry?: boolean;
  /** Extra scopes, e.g. pull on the source repository of a cross-repository mount. */
  extraScopes?: string[];
  headers?: Record<string, string>;
  /** A stream is sent once: requests with one must set noRetry. */
  body?: string | Buffer | Readable;
  /** What the request is for, in the operator's words, used in error messages. */
  what: string;
}

function hostMatches(patterns: readonly string[], host: string): boolean {
  const bare = host.replace(/:\d+$/, '');
  return patterns.some((p) => p === host || p === bare);
}

function headerValue(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The registries one command talks to. Each host gets its own connection pool, trust and auth state,
 * created on first use so that a host never asked costs nothing.
 */
export class RegistryClient {
  readonly #options: RegistryClientOptions;
  readonly #hosts = new Map<string, RegistryHost>();

  constructor(options: RegistryClientOptions = {}) {
    this.#options = options;
  }

  /** The API of one registry; `registry` is a normalised reference registry ('docker.io', 'quay.io', 'h:5000'). */
  host(registry: string): RegistryHost {
    const host = apiHost(registry);
    let existing = this.#hosts.get(host);
    if (existing === undefined) {
      existing = new RegistryHost(host, this.#options, (h) => this.host(h));
      this.#hosts.set(host, existing);
    }
    return existing;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#hosts.values()].map((h) => h.close()));
    this.#hosts.clear();
  }
}

export class RegistryHost {
  readonly host: string;
  readonly baseUrl: string;
  readonly #options: RegistryClientOptions;
  readonly #retry: RetryPolicy;
  readonly #otherHost: (host: string) => RegistryHost;
  #dispatcher: Promise<Dispatcher> | undefined;
  #credentials: Promise<Credentials | undefined> | undefined;
  #challenges: AuthChallenge[] | undefined;
  readonly #authorizations = new Map<string, string>();
  readonly #tokens: TokenAuthenticator;

  constructor(host: string, options: RegistryClientOptions, otherHost: (host: string) => RegistryHost) {
    this.host = host;
    this.#options = options;
    this.#retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.#otherHost = otherHost;
    this.baseUrl = `${hostMatches(options.plainHttp ?? [], host) ? 'http' : 'https'}://${host}`;
    this.#tokens = new TokenAuthenticator(this.#tokenRequest, { registry: host === 'registry-1.docker.io' ? 'docker.io' : host });
  }

  get plainHttp(): boolean {
    return this.baseUrl.startsWith('http:');
  }

  dispatcher(): Promise<Dispatcher> {
    this.#dispatcher ??= (async () => {
      const trust = this.plainHttp
        ? { ca: undefined, sources: [] }
        : await trustFor(this.host, {
            caFiles: [...(this.#options.caFiles ?? [])],
            ...(this.#options.certsDirs === undefined ? {} : { certsDirs: [...this.#options.certsDirs] }),
          });
      return createDispatcher(this.host, trust, { connections: this.#options.connectionsPerHost ?? 8 });
    })();
    return this.#dispatcher;
  }

  async close(): Promise<void> {
    if (this.#dispatcher !== undefined) await (await this.#dispatcher).close();
  }

  #credentialsFor(): Promise<Credentials | undefined> {
    this.#credentials ??= (async () => {
      const given = this.#options.credentials?.get(this.host) ?? this.#options.credentials?.get(this.host.replace(/^registry-1\.docker\.io$/, 'docker.io'));
      if (given !== undefined) return given;
      return lookupCredentials(this.host === 'registry-1.docker.io' ? 'docker.io' : this.host, {
        ...(this.#options.dockerConfigPath === undefined ? {} : { configPath: this.#options.dockerConfigPath }),
      });
    })();
    return this.#credentials;
  }

  // The token realm is often another host (auth.docker.io): it gets that host's own trust and pool.
  readonly #tokenRequest: HttpRequest = async (url, init) => {
    const target = new URL(url);
    const dispatcher = target.host === this.host ? await this.dispatcher() : await this.#otherHost(target.host).dispatcher();
    const res = await request(url, {
      method: init.method as Dispatcher.HttpMethod,
      headers: { 'user-agent': USER_AGENT, ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
      dispatcher,
      ...(this.#options.signal === undefined ? {} : { signal: this.#options.signal }),
    });
    return { status: res.statusCode, headers: res.headers, text: () => res.body.text() };
  };

  #scope(repository: string | undefined, actions: string): string[] {
    return repository === undefined ? [] : [`repository:${repository}:${actions}`];
  }

  /**
   * One API call with auth, retries and error translation. Returns the response when its status is one
   * the caller handles (2xx, 3xx, 404); throws a typed error otherwise. The body of a returned response
   * must be consumed or dumped by the caller.
   */
  async send(method: Dispatcher.HttpMethod, path: string, options: SendOptions): Promise<Dispatcher.ResponseData> {
    const url = path.startsWith('http') ? path : `${this.baseUrl}${path}`;
    const scope = [...this.#scope(options.repository, options.actions), ...(options.extraScopes ?? [])];
    const scopeKey = scope.join(' ');
    let authRetried = false;
    const retries = options.noRetry === true ? 0 : this.#retry.retries;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...options.headers };
      const authorization = this.#authorizations.get(scopeKey) ?? (this.#challenges === undefined ? undefined : await this.#authorize(scope));
      if (authorization !== undefined) headers['authorization'] = authorization;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          method,
          headers,
          ...(options.body === undefined ? {} : { body: options.body }),
          dispatcher: await this.dispatcher(),
          ...(this.#options.signal === undefined ? {} : { signal: this.#options.signal }),
        });
      } catch (err: unknown) {
        this.#options.signal?.throwIfAborted();
        const tls = describeTlsFailure(err, this.host);
        if (tls !== undefined) throw tls;
        if (isRetryableNetworkError(err) && attempt < retries) {
          await sleep(retryDelayMs(this.#retry, attempt + 1, undefined), this.#options.signal);
          continue;
        }
        throw new RegistryError(`${options.what}: cannot reach registry ${this.host}: ${messageOf(err)}`, {
          cause: err,
          hint: `check that ${this.host} is up and reachable from here (proxy variables: HTTPS_PROXY, NO_PROXY)`,
        });
      }
      if (res.statusCode === 401 && !authRetried) {
        authRetried = true;
        const header = res.headers['www-authenticate'];
        await res.body.dump();
        const challenges = parseWwwAuthenticate(Array.isArray(header) ? header.join(', ') : (header ?? ''));
        if (challenges.length === 0) {
          throw new AuthenticationError(`${options.what}: registry ${this.host} answered 401 without an authentication challenge`, { status: 401 });
        }
        this.#challenges = challenges;
        this.#authorizations.delete(scopeKey);
        await this.#authorize(scope);
        attempt--;
        continue;
      }
      if (isRetryableStatus(res.statusCode) && attempt < retries) {
        const retryAfter = headerValue(res.headers, 'retry-after');
        await res.body.dump();
        await sleep(retryDelayMs(this.#retry, attempt + 1, retryAfter), this.#options.signal);
        continue;
      }
      if (res.statusCode < 400 || res.statusCode === 404) return res;
      throw await this.#errorFrom(res, options.what);
    }
  }

  async #authorize(scope: string[]): Promise<string | undefined> {
    const key = scope.join(' ');
    const cached = this.#authorizations.get(key);
    if (cached !== undefined) return cached;
    const value = await this.#tokens.authorization(this.#challenges ?? [], scope, await this.#credentialsFor());
    if (value !== undefined) this.#authorizations.set(key, value);
    return value;
  }

  async #errorFrom(res: Dispatcher.ResponseData, what: string): Promise<RegistryError> {
    let code: string | undefined;
    let detail = '';
    try {
      const text = (await res.body.text()).slice(0, 4096);
      const parsed: unknown = JSON.parse(text);
      const first = (parsed as { errors?: { code?: unknown; message?: unknown }[] }).errors?.[0];
      if (typeof first?.code === 'string') code = first.code;
      if (typeof first?.message === 'string') detail = first.message;
    } catch {
      // Not every error has a spec error body (proxies, 5xx pages): the status says enough.
    }
    const status = res.statusCode;
    const says = `registry ${this.host} answered ${status}${code === undefined ? '' : ` ${code}`}${detail === '' ? '' : ` (${detail})`}`;
    if (status === 401) {
      return new AuthenticationError(`${what}: ${says}: the credentials were refused`, {
        status, ...(code === undefined ? {} : { code }),
        hint: `give valid credentials with --username and --password-stdin, or run \`docker login ${this.host}\``,
      });
    }
    if (status === 403) {
      return new AuthenticationError(`${what}: ${says}: access denied`, {
        status, ...(code === undefined ? {} : { code }),
        hint: 'the account lacks permission on this repository',
      });
    }
    return new RegistryError(`${what}: ${says}`, {
      status, ...(code === undefined ? {} : { code }),
      ...(isRetryableStatus(status) ? { hint: `gave up after ${this.#retry.retries} retries; re-run when the registry is healthy` } : {}),
    });
  }

  /** GET a manifest by tag or digest, with every schema-2 media type accepted; bytes kept exactly as served. */
  async getManifest(repository: string, reference: string, what: string): Promise<FetchedManifest> {
    const res = await this.send('GET', `/v2/${repository}/manifests/${reference}`, {
      repository, actions: 'pull', what, headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
    });
    if (res.statusCode === 404) {
      await res.body.dump();
      throw new NotFoundError(`${what}: ${this.host}/${repository}:${reference} not found in the registry`, {
        status: 404, code: 'MANIFEST_UNKNOWN',
        hint: 'check the image name and tag, and that the registry holds it',
      });
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new RegistryError(`${what}: unexpected status ${res.statusCode} for a manifest from ${this.host}`, { status: res.statusCode });
    }
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of res.body) {
      length += (chunk as Buffer).length;
      if (length > MAX_MANIFEST_BYTES) {
        res.body.destroy();
        throw new RegistryError(`${what}: the manifest from ${this.host} is larger than 4 MiB`);
      }
      chunks.push(chunk as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new DigestMismatchError(`${what}: manifest ${reference} from ${this.host} has content digest ${digest}`, reference, digest);
    }
    const served = headerValue(res.headers, 'docker-content-digest');
    if (served !== undefined && served.startsWith('sha256:') && served !== digest) {
      throw new DigestMismatchError(`${what}: registry ${this.host} says the manifest digest is ${served} but its bytes hash to ${digest}`, served, digest);
    }
    const contentType = (headerValue(res.headers, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    let mediaType = contentType;
    try {
      const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
      if (typeof declared === 'string') mediaType = declared;
    } catch {
      // parseManifest reports unreadable manifests with context; here the Content-Type is enough.
    }
    return { bytes, mediaType, digest };
  }

  /** HEAD a manifest: its digest and media type, or undefined when the registry does not have it. */
  async headManifest(repository: string, reference: string, what: string): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const res = await this.send('HEAD', `/v2/${repository}/manifests/${reference}`, {
      repository, actions: 'pull', what, headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
    });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    const digest = headerValue(res.headers, 'docker-content-digest');
    if (digest === undefined) {
      // Some registries omit the header on HEAD: the body is small, so fetch it and hash it.
      const fetched = await this.getManifest(repository, reference, what);
      return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.bytes.length };
    }
    return {
      digest,
      mediaType: (headerValue(res.headers, 'content-type') ?? '').split(';')[0]?.trim() ?? '',
      size: Number(headerValue(res.headers, 'content-length') ?? '0'),
    };
  }

  async hasBlob(repository: string, digest: string, what: string): Promise<boolean> {
    const res = await this.send('HEAD', `/v2/${repository}/blobs/${digest}`, { repository, actions: 'pull', what });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 300;
  }

  /**
   * Stream a blob, verified against its descriptor as it flows. A connection that breaks mid-blob is
   * resumed with a Range request from the last byte received, so a 2 GB layer is not fetched twice.
   */
  async *blob(repository: string, descriptor: Descriptor, what: string): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    let offset = 0;
    let failures = 0;
    while (offset < descriptor.size || (offset === 0 && descriptor.size === 0)) {
      let body: Dispatcher.ResponseData['body'] | undefined;
      try {
        const res = await this.#getBlobResponse(repository, descriptor.digest, offset, what);
        body = res.body;
        // A server that ignores Range sends the whole blob again: skip what we already have.
        let skip = offset > 0 && res.statusCode === 200 ? offset : 0;
        for await (const raw of body) {
          let chunk = raw as Buffer;
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          if (offset + chunk.length > descriptor.size) {
            throw new DigestMismatchError(`${what}: blob ${descriptor.digest} is longer than the ${descriptor.size} bytes its descriptor says`, descriptor.digest, 'unknown');
          }
          offset += chunk.length;
          hash.update(chunk);
          yield chunk;
        }
        if (offset < descriptor.size) throw Object.assign(new Error('connection closed before the end of the blob'), { code: 'ECONNRESET' });
        if (descriptor.size === 0) break;
      } catch (err: unknown) {
        body?.destroy();
        if (err instanceof AirgapError) throw err;
        this.#options.signal?.throwIfAborted();
        if (isRetryableNetworkError(err) && failures < this.#retry.retries) {
          failures++;
          await sleep(retryDelayMs(this.#retry, failures, undefined), this.#options.signal);
          continue;
        }
        throw new RegistryError(`${what}: download of blob ${descriptor.digest} from ${this.host} failed at byte ${offset} of ${descriptor.size}: ${messageOf(err)}`, { cause: err });
      }
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== descriptor.digest) {
      throw new DigestMismatchError(`${what}: blob ${descriptor.digest} from ${this.host} has content digest ${actual}`, descriptor.digest, actual);
    }
  }

  /** A whole small blob (an image config) in memory, verified. */
  async blobBytes(repository: string, descriptor: Descriptor, what: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.blob(repository, descriptor, what)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async #getBlobResponse(repository: string, digest: string, offset: number, what: string): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res = await this.send('GET', `/v2/${repository}/blobs/${digest}`, { repository, actions: 'pull', what, headers });
    // Registries hand blobs off to storage (S3, a CDN) by redirect; the credentials stay with the registry.
    for (let hops = 0; REDIRECT_STATUSES.has(res.statusCode); hops++) {
      const location = headerValue(res.headers, 'location');
      await res.body.dump();
      if (location === undefined || hops >= 5) {
        throw new RegistryError(`${what}: registry ${this.host} redirected blob ${digest} ${location === undefined ? 'without a Location' : 'too many times'}`);
      }
      const target = new URL(location, this.baseUrl);
      const targetHost = target.host === this.host ? this : this.#otherHost(target.host);
      res = await request(target, {
        method: 'GET',
        headers: { 'user-agent': USER_AGENT, ...headers },
        dispatcher: await targetHost.dispatcher(),
        ...(this.#options.signal === undefined ? {} : { signal: this.#options.signal }),
      });
    }
    if (res.statusCode === 404) {
      await res.body.dump();
      throw new NotFoundError(`${what}: blob ${digest} not found in ${this.host}/${repository}`, { status: 404, code: 'BLOB_UNKNOWN' });
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      throw await this.#errorFrom(res, what);
    }
    return res;
  }
}
