/** Small response helpers shared by the handlers: every answer carries the API version header distribution sends. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { ApiError } from './api-error.ts';

// What a detached body holds between the socket and the file: a chunk or two.
const DETACHED_BUFFER_BYTES = 1024 * 1024;

export const API_VERSION_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' } as const;

export function send(res: ServerResponse, status: number, headers: Record<string, string | number>, body?: string | Buffer): void {
  const bytes = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...API_VERSION_HEADER, 'Content-Length': bytes?.length ?? 0, ...headers });
  res.end(bytes);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }, JSON.stringify(value));
}

export function sendError(res: ServerResponse, err: ApiError): void {
  send(res, err.status, { 'Content-Type': 'application/json; charset=utf-8', ...err.headers }, err.body());
}

/** A header's single value (Node joins repeated ones, or gives an array for a few). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A whole (small) request body, refused past `limit` bytes. Reading stops at the limit without destroying the
 * request: its socket is where the 413 goes out.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(header(req, 'content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length > limit) {
        stop();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks, length));
    };
    const onError = (err: Error): void => {
      stop();
      reject(err);
    };
    const onClose = (): void => {
      stop();
      if (!req.complete) reject(bodyCutOff());
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

/** The client went away mid-body: coded as a reset, which the error boundary takes for "nobody to answer". */
function bodyCutOff(): Error {
  return Object.assign(new Error('the client closed the connection before the body ended'), { code: 'ECONNRESET' });
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'SIZE_INVALID', { limit }, { message: `the body is larger than ${limit} bytes` });
}

/**
 * The request body as a stream a failed write may abandon without destroying the request, and with it the
 * socket the answer (507 for a full disk) must go out on. A client that leaves mid-body still fails it.
 */
export function detachedBody(req: IncomingMessage): Readable {
  const body = new PassThrough({ highWaterMark: DETACHED_BUFFER_BYTES });
  const onError = (err: Error): void => {
    body.destroy(err);
  };
  const onClose = (): void => {
    if (!req.complete) body.destroy(bodyCutOff());
  };
  req.once('error', onError);
  req.once('close', onClose);
  body.once('close', () => {
    req.unpipe(body);
    req.off('error', onError);
    req.off('close', onClose);
  });
  req.pipe(body);
  return body;
}

/** The media types an Accept header lists, parameters dropped. */
export function acceptedTypes(req: IncomingMessage): string[] {
  const raw = req.headers['accept'];
  const joined = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  return joined.split(',').map((t) => (t.split(';')[0] ?? '').trim().toLowerCase()).filter((t) => t !== '');
}
