/** Small response helpers shared by the handlers: every answer carries the API version header distribution sends. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './api-error.ts';

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

/** A whole (small) request body, refused past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(header(req, 'content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) throw new ApiError(413, 'SIZE_INVALID', { limit }, { message: `the body is larger than ${limit} bytes` });
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length > limit) throw new ApiError(413, 'SIZE_INVALID', { limit }, { message: `the body is larger than ${limit} bytes` });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, length);
}

/** The media types an Accept header lists, parameters dropped. */
export function acceptedTypes(req: IncomingMessage): string[] {
  const raw = req.headers['accept'];
  const joined = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  return joined.split(',').map((t) => (t.split(';')[0] ?? '').trim().toLowerCase()).filter((t) => t !== '');
}
