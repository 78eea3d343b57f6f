import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP reverse proxy in front of a real registry, that breaks things on purpose: it answers
 * 500/429 to the first requests, cuts blob downloads mid-way, or slows them down. It proves retries,
 * Range resume and interruption against the real server behind it.
 */
export interface FaultPlan {
  /** Answer this status (with a spec error body) to the first `count` requests matching `path`. */
  failFirst?: { status: number; count: number; path?: RegExp; retryAfterSeconds?: number };
  /** Close the connection after `afterBytes` bytes of the body for the first `count` blob GETs. */
  cutBlobs?: { count: number; afterBytes: number };
  /** Pace blob bodies to about this many bytes per second. */
  blobBytesPerSecond?: number;
  /**
   * Kill the connection of the first `count` upload PATCHes after `afterBytes` bytes of their body: the
   * registry is never sent that request, so it still counts only the bytes of earlier chunks.
   */
  killChunks?: { count: number; afterBytes: number; skip?: number };
  /** Told the running total of blob body bytes sent to clients, after each chunk (e.g. to kill a client half-way). */
  onBlobBytes?: (total: number) => void;
  /** Send no blob body byte past this running total: the answers hang there, their connections open. */
  stallBlobsAt?: number;
}

export interface ProxiedRequest {
  method: string;
  url: string;
  range: string | undefined;
  status: number;
  faulted: string | undefined;
}

export interface FaultProxy {
  host: string;
  requests: ProxiedRequest[];
  /** Blob body bytes (200 and 206 answers to GET) sent to clients so far: what they downloaded. */
  readonly blobBytes: number;
  plan: FaultPlan;
  stop(): Promise<void>;
}

const BLOB_PATH = /\/blobs\/sha256:/;

export async function startFaultProxy(upstreamHost: string, plan: FaultPlan): Promise<FaultProxy> {
  const [upstreamName, upstreamPort] = upstreamHost.split(':');
  const requests: ProxiedRequest[] = [];
  let failed = 0;
  let cut = 0;
  let killed = 0;
  let patches = 0;
  let blobBytes = 0;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const record: ProxiedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', range: req.headers.range, status: 0, faulted: undefined };
    requests.push(record);
    const fail = plan.failFirst;
    if (fail !== undefined && failed < fail.count && (fail.path === undefined || fail.path.test(record.url))) {
      failed++;
      record.status = fail.status;
      record.faulted = `status ${fail.status}`;
      res.writeHead(fail.status, { 'content-type': 'application/json', ...(fail.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fail.retryAfterSeconds) }) });
      res.end(JSON.stringify({ errors: [{ code: fail.status === 429 ? 'TOOMANYREQUESTS' : 'UNKNOWN', message: 'injected by the test proxy' }] }));
      return;
    }
    const kill = plan.killChunks;
    const isChunk = record.method === 'PATCH' && /\/blobs\/uploads\//.test(record.url);
    if (isChunk) patches++;
    if (kill !== undefined && isChunk && patches > (kill.skip ?? 0) && killed < kill.count) {
      killed++;
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= kill.afterBytes && record.faulted === undefined) {
          record.faulted = `killed after ${received} bytes of the chunk`;
          req.socket.destroy();
        }
      });
      req.on('end', () => {
        // A chunk smaller than the mark: kill it at its end, still before the registry sees it.
        if (record.faulted === undefined) {
          record.faulted = `killed after ${received} bytes of the chunk`;
          req.socket.destroy();
        }
      });
      return;
    }
    const upstream = httpRequest({ host: upstreamName, port: Number(upstreamPort), method: req.method, path: req.url, headers: req.headers }, (up) => {
      record.status = up.statusCode ?? 0;
      const isBlobBody = req.method === 'GET' && BLOB_PATH.test(record.url) && (up.statusCode === 200 || up.statusCode === 206);
      res.writeHead(up.statusCode ?? 502, up.headers);
      let sent = 0;
      const pace = isBlobBody ? plan.blobBytesPerSecond : undefined;
      // A client that went away (killed) is sent nothing more, and nothing more is counted for it.
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      up.on('data', (chunk: Buffer) => {
        if (res.destroyed) return;
        // Only bodies long enough to cross the mark count as cut: small configs pass untouched.
        if (isBlobBody && plan.cutBlobs !== undefined && cut < plan.cutBlobs.count && sent + chunk.length > plan.cutBlobs.afterBytes) {
          cut++;
          const kept = chunk.subarray(0, Math.max(0, plan.cutBlobs.afterBytes - sent));
          res.write(kept);
          blobBytes += kept.length;
          record.faulted = `cut after ${plan.cutBlobs.afterBytes} bytes`;
          up.destroy();
          res.socket?.destroy();
          return;
        }
        if (isBlobBody && plan.stallBlobsAt !== undefined && blobBytes + chunk.length > plan.stallBlobsAt) {
          const kept = chunk.subarray(0, Math.max(0, plan.stallBlobsAt - blobBytes));
          res.write(kept);
          blobBytes += kept.length;
          record.faulted = `stalled at ${plan.stallBlobsAt} blob bytes`;
          up.pause();
          return;
        }
        sent += chunk.length;
        const more = res.write(chunk);
        if (isBlobBody) {
          blobBytes += chunk.length;
          plan.onBlobBytes?.(blobBytes);
        }
        if (pace !== undefined) {
          up.pause();
          setTimeout(() => up.resume(), Math.ceil((chunk.length / pace) * 1000));
        } else if (!more) {
          up.pause();
          res.once('drain', () => up.resume());
        }
      });
      up.on('end', () => res.end());
      up.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      record.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    get blobBytes() {
      return blobBytes;
    },
    plan,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
