/**
 * A plain static file server over a directory: the "other origin" a registry's `redirect` storage
 * middleware sends blob downloads to (as Docker Hub sends them to its CDN). It records every request with
 * its headers, so a test can prove no credentials reached it. Range requests are answered as CDNs do.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  status: number;
}

export interface StaticServer {
  host: string;
  url: string;
  seen: SeenRequest[];
  stop(): Promise<void>;
}

export async function startStaticServer(root: string): Promise<StaticServer> {
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const record: SeenRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, status: 0 };
    seen.push(record);
    const answer = (status: number): void => {
      record.status = status;
    };
    void (async () => {
      const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
      if (!path.startsWith(root)) {
        answer(403);
        res.writeHead(403).end();
        return;
      }
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || !info.isFile()) {
        answer(404);
        res.writeHead(404).end();
        return;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = range === null ? 0 : Number(range[1]);
      answer(range === null ? 200 : 206);
      res.writeHead(range === null ? 200 : 206, {
        'content-length': String(info.size - start),
        ...(range === null ? {} : { 'content-range': `bytes ${start}-${info.size - 1}/${info.size}` }),
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      createReadStream(path, { start }).pipe(res);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    seen,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
