/**
 * The bottom layer of the registry client: one HTTP exchange on the right connection pool. Each host gets
 * its own undici dispatcher: its TLS trust, a bounded pool of keep-alive connections, timeouts sized for
 * multi-gigabyte blobs, and the proxy variables. Plain HTTP is spoken only to hosts --plain-http names.
 * Above it: retry.ts (when to send again), auth.ts (who we are), client.ts (the registry API).
 *
 * Proxy semantics are undici's EnvHttpProxyAgent: HTTP_PROXY for http:// targets, HTTPS_PROXY for https://
 * (falling back to HTTP_PROXY), NO_PROXY (host, .domain, *.domain, host:port, `*`), lowercase names before
 * uppercase ones as curl reads them. Like curl, it does NOT exempt loopback or private addresses by itself:
 * a registry on 127.0.0.1 goes through the proxy unless NO_PROXY names it. That is what the variables say,
 * and what operators of proxied sites expect; they list their registry in NO_PROXY.
 */

import { createSecureContext } from 'node:tls';
import type { Readable } from 'node:stream';
import { EnvHttpProxyAgent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { TlsError } from '../../errors.ts';
import { describeTlsFailure, trustFor, type TlsTrust } from './tls.ts';

export interface DispatcherOptions {
  /** Connections kept to one origin at most; the -j concurrency is a good value. */
  connections?: number;
  /** Where HTTP_PROXY, HTTPS_PROXY and NO_PROXY are read; default process.env. */
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_CONNECTIONS = 8;

/**
 * Timeouts are between bytes, not for a whole transfer. A registry may think for minutes before answering
 * the final PUT of a multi-gigabyte blob (it hashes the whole upload), hence the long wait for headers.
 */
const HEADERS_TIMEOUT_MS = 10 * 60_000;
const BODY_TIMEOUT_MS = 5 * 60_000;
const CONNECT_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

export function createDispatcher(host: string, trust: TlsTrust, options: DispatcherOptions = {}): Dispatcher {
  const env = options.env ?? process.env;
  const connections = options.connections ?? DEFAULT_CONNECTIONS;
  if (!Number.isInteger(connections) || connections < 1) {
    throw new RangeError(`connections for ${host} must be a positive integer, got ${connections}`);
  }

  // One secure context per host, built once: passing `ca` per connection makes Node parse every root
  // (~145 of them) on each new TLS connection, ~17 ms apiece, and registries close connections often
  // (docker-registry answers every 404 with Connection: close).
  const extra = trust.ca !== undefined || trust.cert !== undefined || trust.key !== undefined;
  const tlsOptions = extra
    ? {
        secureContext: createSecureContext({
          ...(trust.ca === undefined ? {} : { ca: trust.ca }),
          ...(trust.cert === undefined ? {} : { cert: trust.cert }),
          ...(trust.key === undefined ? {} : { key: trust.key }),
        }),
      }
    : {};

  return new EnvHttpProxyAgent({
    // Resolved here rather than left to undici so that a caller's env (and tests) decide, and so the
    // choice is made once per dispatcher.
    httpProxy: env.http_proxy ?? env.HTTP_PROXY ?? '',
    httpsProxy: env.https_proxy ?? env.HTTPS_PROXY ?? '',
    noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
    // Direct connections take the registry's trust from `connect`; through a proxy, the TLS session to the
    // registry inside the CONNECT tunnel takes it from `requestTls`, and the proxy itself keeps Node's
    // default trust (`proxyTls` unset): the registry's CA says nothing about the proxy.
    connect: { ...tlsOptions, timeout: CONNECT_TIMEOUT_MS },
    requestTls: tlsOptions,
    connectTimeout: CONNECT_TIMEOUT_MS,
    connections,
    // One request per connection at a time: a slow blob must not hold up the manifest queued behind it.
    pipelining: 1,
    // HTTP/1.1 only: parallel blob streams go faster over separate TCP connections than multiplexed in one.
    allowH2: false,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    keepAliveMaxTimeout: 10 * 60_000,
    headersTimeout: HEADERS_TIMEOUT_MS,
    bodyTimeout: BODY_TIMEOUT_MS,
  });
}

export const USER_AGENT = 'airgap/0.1';

export interface HttpRequest {
  method: Dispatcher.HttpMethod;
  url: URL;
  headers?: Record<string, string>;
  /** A stream is sent once: a request with one is never sent again by the layers above. */
  body?: string | Buffer | Readable;
  /** What the request is for, in the operator's words, used in error messages. */
  what: string;
  /** Sent at most once whatever its body: the caller resumes it itself (upload chunks, blob downloads). */
  once?: boolean;
  /** The URL that named this one (a redirect's, a token realm's registry): plain HTTP may follow plain HTTP, never HTTPS. */
  via?: URL;
}

export type HttpResponse = Dispatcher.ResponseData;

export interface TransportOptions {
  /** Extra CA files trusted for every host (--ca-file). */
  caFiles?: readonly string[] | undefined;
  /** Where docker-style per-host trust lives; default /etc/docker/certs.d and /etc/containers/certs.d. */
  certsDirs?: readonly string[] | undefined;
  /** HOST or HOST:PORT spoken to over plain HTTP (--plain-http); a bare HOST matches every port. */
  plainHttp?: readonly string[] | undefined;
  connectionsPerHost?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** A single header value as undici hands headers over (a repeated header is an array). */
export function headerValue(headers: HttpResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function hostMatches(patterns: readonly string[], host: string): boolean {
  const bare = host.replace(/:\d+$/, '');
  return patterns.some((p) => p === host || p === bare);
}

/**
 * Every host one command talks to (registries, token realms, blob storage behind redirects), each with
 * its own pool made on first use. Throws TlsError for a failed handshake and for plain HTTP to a host not
 * named by --plain-http unless a plain-HTTP URL led there (a redirect from HTTPS must not downgrade by
 * itself); other connection failures are
 * thrown as they come, for the retry layer to judge.
 */
export class Transport {
  readonly #options: TransportOptions;
  readonly #dispatchers = new Map<string, Promise<Dispatcher>>();

  constructor(options: TransportOptions = {}) {
    this.#options = options;
  }

  get signal(): AbortSignal | undefined {
    return this.#options.signal;
  }

  isPlainHttp(host: string): boolean {
    return hostMatches(this.#options.plainHttp ?? [], host);
  }

  /** `https://HOST`, or `http://HOST` for a --plain-http host. */
  origin(host: string): string {
    return `${this.isPlainHttp(host) ? 'http' : 'https'}://${host}`;
  }

  dispatcher(host: string): Promise<Dispatcher> {
    let existing = this.#dispatchers.get(host);
    if (existing === undefined) {
      existing = (async () => {
        const trust = this.isPlainHttp(host)
          ? { ca: undefined, sources: [] }
          : await trustFor(host, {
              caFiles: [...(this.#options.caFiles ?? [])],
              ...(this.#options.certsDirs === undefined ? {} : { certsDirs: [...this.#options.certsDirs] }),
            });
        return createDispatcher(host, trust, { connections: this.#options.connectionsPerHost ?? DEFAULT_CONNECTIONS });
      })();
      // A host whose trust cannot be read is asked again next time, not remembered as broken.
      existing.catch(() => this.#dispatchers.delete(host));
      this.#dispatchers.set(host, existing);
    }
    return existing;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const host = req.url.host;
    if (req.url.protocol === 'http:' && !this.isPlainHttp(host) && req.via?.protocol !== 'http:') {
      const from = req.via === undefined ? '' : ` (${req.via.host} sent it there)`;
      throw new TlsError(`${req.what}: refusing plain HTTP to ${host}${from}: --plain-http does not name it, and HTTPS is not given up by a redirect`, {
        hint: `if ${host} really speaks only plain HTTP, pass --plain-http ${host}`,
      });
    }
    try {
      return await request(req.url, {
        method: req.method,
        headers: { 'user-agent': USER_AGENT, ...req.headers },
        ...(req.body === undefined ? {} : { body: req.body }),
        dispatcher: await this.dispatcher(host),
        ...(this.#options.signal === undefined ? {} : { signal: this.#options.signal }),
      });
    } catch (err: unknown) {
      this.#options.signal?.throwIfAborted();
      const tls = describeTlsFailure(err, host);
      if (tls !== undefined) throw tls;
      throw err;
    }
  }

  async close(): Promise<void> {
    const all = [...this.#dispatchers.values()];
    this.#dispatchers.clear();
    await Promise.all(all.map(async (pending) => {
      try {
        await (await pending).close();
      } catch {
        // A pool that never opened (its trust failed) has nothing to close.
      }
    }));
  }
}
