/**
 * The one error boundary every request of the registry passes through. Whatever a handler throws or fails at
 * becomes an answer (the spec's 4xx, 507 when the store's disk is full, 500 for anything else, logged), the
 * request is logged once with the client's address, and the server keeps serving: nothing one request does,
 * or a client that vanishes half-way, can take the process down.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { messageOf } from '../errors.ts';
import { errorChain } from '../util/error-chain.ts';
import { ApiError } from './api-error.ts';
import type { Exchange, ServeContext } from './context.ts';
import { sendError } from './http.ts';

const CLIENT_GONE_CODES = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_DESTROYED']);
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

function hasCode(err: unknown, codes: ReadonlySet<string>): boolean {
  return errorChain(err).some((link) => link.code !== undefined && codes.has(link.code));
}

/** The store's file system is out of space (or quota): the operator's problem, not the client's. */
export function isDiskFull(err: unknown): boolean {
  return hasCode(err, DISK_FULL_CODES);
}

/** Nobody is left to answer. (Not `req.destroyed`: a request read to its end is destroyed too.) */
export function isClientGone(err: unknown, req: IncomingMessage): boolean {
  return req.socket === null || req.socket.destroyed || hasCode(err, CLIENT_GONE_CODES);
}

/** The answer for a failure that is not the client's fault, and the line the operator reads in the log. */
function serverFailure(err: unknown): { answer: ApiError; logged: string } {
  if (isDiskFull(err)) {
    const logged = `the store's disk is full: ${messageOf(err)} (free space where --store points; the upload was discarded)`;
    return { answer: new ApiError(507, 'UNKNOWN', {}, { message: 'the registry has no space left to store this: nothing was kept, try again later' }), logged };
  }
  const logged = messageOf(err);
  return { answer: new ApiError(500, 'UNKNOWN', {}, { message: logged }), logged };
}

export interface RequestHooks {
  /** scheme://HOST:PORT for Location headers when the client sent no Host. */
  fallbackBase: () => string;
  scheme: 'http' | 'https';
  onStart: () => void;
  onEnd: () => void;
}

/** Answer one request with `handler`, behind the boundary. Never throws. */
export function serveRequest(ctx: ServeContext, req: IncomingMessage, res: ServerResponse, hooks: RequestHooks, handler: (x: Exchange) => Promise<void>): void {
  const started = performance.now();
  // Read now: once the response is over, the socket may be gone (a destroyed TLS socket has no address left).
  const remote = req.socket?.remoteAddress ?? '-';
  const path = req.url ?? '/';
  const method = req.method ?? '-';
  let error: string | undefined;
  // Errors on either stream after the fact (a write after the client left) are ours to ignore, not the process's.
  req.on('error', () => {});
  res.on('error', () => {});
  hooks.onStart();
  let exchange: Exchange | undefined;
  res.once('close', () => {
    hooks.onEnd();
    ctx.emit({
      type: 'request', time: new Date().toISOString(), remote, user: exchange?.user, method, path,
      status: res.statusCode, bytesSent: exchange?.sent ?? 0, bytesReceived: exchange?.received ?? 0,
      ms: Math.round(performance.now() - started), aborted: !res.writableFinished,
      ...(error === undefined ? {} : { error }),
    });
  });

  const fail = (err: unknown): void => {
    try {
      if (err instanceof ApiError) {
        answer(res, req, err);
        return;
      }
      if (isClientGone(err, req)) {
        res.destroy();
        return;
      }
      const failure = serverFailure(err);
      error = failure.logged;
      ctx.emit({ type: 'warning', message: `${method} ${path}: ${failure.logged}` });
      answer(res, req, failure.answer);
    } catch {
      res.destroy();
    }
  };

  try {
    exchange = { req, res, url: new URL(path, 'http://localhost'), baseUrl: req.headers.host === undefined ? hooks.fallbackBase() : `${hooks.scheme}://${req.headers.host}`, received: 0, sent: 0, user: undefined };
    handler(exchange).catch(fail);
  } catch (err: unknown) {
    fail(err);
  }
}

/**
 * Send an error answer if the response has not started (else cut it: a half-sent body cannot be taken back).
 * A body the client is still sending is read and dropped so the answer reaches it (closing on unread bytes
 * would reset the connection under it), within limits: a body that goes on and on is cut off.
 */
function answer(res: ServerResponse, req: IncomingMessage, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!req.complete) drainOrCut(req);
  sendError(res, err);
}

// How much of an unwanted body is read and dropped, and for how long, before the connection is cut instead.
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
const DRAIN_LIMIT_MS = 30_000;

function drainOrCut(req: IncomingMessage): void {
  let drained = 0;
  const cut = (): void => {
    req.socket?.destroy();
  };
  const timer = setTimeout(cut, DRAIN_LIMIT_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT_BYTES) cut();
  });
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
