/**
 * The undici dispatcher for one registry host: its TLS trust, a bounded pool of keep-alive connections,
 * timeouts sized for multi-gigabyte blobs, and the proxy variables.
 *
 * Proxy semantics are undici's EnvHttpProxyAgent: HTTP_PROXY for http:// targets, HTTPS_PROXY for https://
 * (falling back to HTTP_PROXY), NO_PROXY (host, .domain, *.domain, host:port, `*`), lowercase names before
 * uppercase ones as curl reads them. Like curl, it does NOT exempt loopback or private addresses by itself:
 * a registry on 127.0.0.1 goes through the proxy unless NO_PROXY names it. That is what the variables say,
 * and what operators of proxied sites expect; they list their registry in NO_PROXY.
 */

import { createSecureContext } from 'node:tls';
import { EnvHttpProxyAgent } from 'undici';
import type { Dispatcher } from 'undici';
import type { TlsTrust } from './tls.ts';

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
