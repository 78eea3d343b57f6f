/**
 * `startServer`: an OCI distribution registry over node:http or node:https, serving an images archive, an OCI
 * layout, or its own store, and with `writable` taking pushes into that store. The library shape every caller
 * uses (the CLI, the tests, the demo): start, get the URL, close.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AirgapError, UsageError, messageOf } from '../errors.ts';
import { BlobStore } from './blob-store.ts';
import { RegistryContent } from './content.ts';
import type { AuthPolicy } from './auth.ts';
import { serveRequest, type RequestHooks } from './boundary.ts';
import { GuessLimiter, type GuessLimits } from './guess-limit.ts';
import { Htpasswd } from './htpasswd.ts';
import { TokenSigner } from './tokens.ts';
import type { ServeContext } from './context.ts';
import type { ServeEventListener } from './events.ts';
import { isImageLayout } from './layout.ts';
import { clientHost, parseListen } from './listen.ts';
import { openLayout, openLayoutImage } from './open-layout.ts';
import { route } from './router.ts';
import { checkBaseInStore, openCarriedArchive } from './carried.ts';
import { resolveSource } from './source.ts';
import { unpackArchive } from './unpack.ts';
import { UploadSessions } from './uploads.ts';

export interface ServeOptions {
  /** images.tar.gz (or .tar), the directory holding it, or an OCI image layout directory. None: serve the store alone. */
  source?: string;
  /** HOST:PORT (default 127.0.0.1:5000); port 0 picks a free port. */
  listen?: string;
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** Accept pushes (blob uploads, manifest PUTs) and deletes into the store. */
  writable?: boolean;
  /**
   * HTTP basic authentication against an htpasswd file of bcrypt entries. Over plain HTTP only with `insecure`
   * (every password would cross the network in clear); `anonymousPull` lets anyone read.
   */
  auth?: { htpasswdFile: string; anonymousPull?: boolean; insecure?: boolean; guessLimits?: GuessLimits };
  /**
   * The content-addressed directory an archive is unpacked into and pushes land in, kept across restarts.
   * Default: a temporary directory, removed on close.
   */
  store?: string;
  /** How long close() lets requests in flight finish before it cuts them. Default 10 s. */
  shutdownGraceMs?: number;
  /** Aborts the start (an archive being unpacked). */
  signal?: AbortSignal;
  onEvent?: ServeEventListener;
}

export interface RunningServer {
  /** http://HOST:PORT or https://HOST:PORT, as a client on this machine reaches it. */
  url: string;
  /** HOST:PORT, for image references (`HOST:PORT/name:tag`). */
  host: string;
  /** The store directory, when there is one. */
  store: string | undefined;
  /** Tagged images served at start. */
  images: number;
  /** Stop accepting, let requests in flight finish (up to the grace period), remove a temporary store. Safe to call twice. */
  close(): Promise<void>;
}

async function readTlsFile(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err: unknown) {
    throw new UsageError(`${flag} ${path} cannot be read: ${messageOf(err)}`, { cause: err });
  }
}

function listenFailure(err: unknown, listen: string): AirgapError {
  const code = (err as { code?: unknown }).code;
  if (code === 'EADDRINUSE') return new AirgapError(`cannot listen on ${listen}: the address is already in use`, { cause: err, hint: 'stop what listens there, or choose another port with --listen' });
  if (code === 'EACCES') return new AirgapError(`cannot listen on ${listen}: permission denied`, { cause: err, hint: 'ports below 1024 need root: choose another with --listen' });
  if (code === 'EADDRNOTAVAIL') return new AirgapError(`cannot listen on ${listen}: no interface has that address`, { cause: err, hint: 'give an address of this machine, or :PORT for every interface' });
  return new AirgapError(`cannot listen on ${listen}: ${messageOf(err)}`, { cause: err });
}

/** The checks of the auth options, before anything is started, and the users they name. */
async function authPolicy(options: ServeOptions, warn: (message: string) => void): Promise<AuthPolicy | undefined> {
  const auth = options.auth;
  if (auth === undefined) return undefined;
  if (options.tls === undefined && auth.insecure !== true) {
    throw new UsageError('--htpasswd on plain HTTP would send every password across the network in clear', {
      hint: 'serve HTTPS with --tls-cert and --tls-key, or add --insecure-auth if this network is trusted',
    });
  }
  return { users: await Htpasswd.open(resolve(auth.htpasswdFile), warn), anonymousPull: auth.anonymousPull === true, tokens: new TokenSigner(), guesses: new GuessLimiter(auth.guessLimits) };
}

export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const listener = options.onEvent;
  // A listener that throws (a renderer's bug, a closed stdout) must not take a request, or the server, with it.
  const emit: ServeEventListener = (event) => {
    try {
      listener?.(event);
    } catch {
      // Nowhere left to report it.
    }
  };
  const warn = (message: string): void => emit({ type: 'warning', message });
  const listenText = options.listen ?? '127.0.0.1:5000';
  const address = parseListen(listenText);
  const writable = options.writable === true;
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (options.tls !== undefined) {
    tls = { cert: await readTlsFile(options.tls.certFile, '--tls-cert'), key: await readTlsFile(options.tls.keyFile, '--tls-key') };
  }
  const auth = await authPolicy(options, warn);
  const source = await resolveSource(options.source);
  if (source.kind === 'none' && options.store === undefined && !writable) {
    throw new UsageError('nothing to serve: give images.tar.gz, its directory or an OCI layout, or --store DIR, or --writable for an empty registry');
  }

  let tempStore: string | undefined;
  let store: BlobStore | undefined;
  const removeTempStore = async (): Promise<void> => {
    if (tempStore !== undefined) await rm(tempStore, { recursive: true, force: true, maxRetries: 3 });
  };
  try {
    if (options.store !== undefined) store = await BlobStore.open(resolve(options.store));
    else if (source.kind === 'archive' || writable) {
      tempStore = await mkdtemp(join(tmpdir(), 'airgap-serve-'));
      store = await BlobStore.open(tempStore);
    }
    const content = new RegistryContent(store);
    const sources: string[] = [];
    // Later layers win a tag: the source layout, then what the store holds (earlier pushes), then the archive.
    if (source.kind === 'layout' && source.dir !== store?.dir) {
      await openLayout(source.dir, content, { isStore: false, warn });
      sources.push(source.dir);
    }
    if (store !== undefined && isImageLayout(store.dir)) {
      await openLayout(store.dir, content, { isStore: true, warn });
      if (options.store !== undefined) sources.push(store.dir);
    }
    if (source.kind === 'archive' && store !== undefined) {
      const carried = await openCarriedArchive(source.path);
      await checkBaseInStore(carried, store, tempStore !== undefined);
      emit({ type: 'unpack-start', archive: source.path, store: store.dir });
      const started = performance.now();
      const unpacked = await unpackArchive(carried.files, store, { ...(options.signal === undefined ? {} : { signal: options.signal }), onEvent: emit });
      for (const image of unpacked.images) await openLayoutImage(store.dir, image, content, { isStore: true, warn });
      await content.persist();
      emit({ type: 'unpack-done', archive: source.path, images: unpacked.images.length, written: unpacked.written, writtenBytes: unpacked.writtenBytes, reused: unpacked.reused, readWhole: unpacked.readWhole, seconds: (performance.now() - started) / 1000 });
      sources.push(source.path);
    }
    options.signal?.throwIfAborted();

    const uploads = writable && store !== undefined ? new UploadSessions(store) : undefined;
    const ctx: ServeContext = { content, store, uploads, writable, auth, emit };
    const scheme = tls === undefined ? 'http' : 'https';
    let fallbackHost = clientHost(address, address.port);
    let inFlight = 0;
    const hooks: RequestHooks = {
      scheme,
      fallbackBase: () => `${scheme}://${fallbackHost}`,
      onStart: () => inFlight++,
      onEnd: () => inFlight--,
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => serveRequest(ctx, req, res, hooks, (x) => route(ctx, x));
    const server: Server = tls === undefined ? createHttpServer(onRequest) : createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest);
    // Large layers upload for longer than Node's default 5-minute request limit; idle keep-alive
    // connections stay open long enough that clients rarely race a close.
    server.requestTimeout = 0;
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once('error', (err) => rejectListen(listenFailure(err, listenText)));
      server.listen({ port: address.port, ...(address.host === undefined ? {} : { host: address.host }) }, () => resolveListen());
    });
    server.on('error', (err) => warn(`server: ${messageOf(err)}`));
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    fallbackHost = clientHost(address, port);
    const url = `${scheme}://${fallbackHost}`;
    emit({ type: 'ready', url, images: content.imageCount(), repositories: content.repositoryNames().length, writable, store: store?.dir, sources, users: auth?.users.userCount, anonymousPull: auth?.anonymousPull === true });

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        emit({ type: 'closing', inFlight });
        const closed = new Promise<void>((done) => server.close(() => done()));
        // Idle keep-alive connections go now; busy ones as soon as their response is out, or at the deadline.
        server.closeIdleConnections();
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        const deadline = setTimeout(() => server.closeAllConnections(), options.shutdownGraceMs ?? 10_000);
        try {
          await closed;
        } finally {
          clearInterval(sweep);
          clearTimeout(deadline);
        }
        await uploads?.discardAll();
        await store?.flush();
        await removeTempStore();
        emit({ type: 'closed' });
      })();
      return closing;
    };
    return { url, host: fallbackHost, store: store?.dir, images: content.imageCount(), close };
  } catch (err: unknown) {
    await removeTempStore();
    throw err;
  }
}
