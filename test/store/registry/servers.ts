/**
 * Small real servers on loopback for the TLS and transport tests: an HTTPS server (optionally asking for a
 * client certificate), a plain HTTP server, and an HTTP proxy handling CONNECT tunnels and absolute-form
 * requests, which records what it was asked to reach.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface RunningServer {
  port: number;
  /** `127.0.0.1:PORT`: the registry host as the code under test names it. */
  host: string;
  /** Request lines seen (method and URL), in order. */
  seen: string[];
  close(): Promise<void>;
}

export interface RunningProxy extends RunningServer {
  /** The targets of CONNECT requests and the absolute URLs of forwarded requests, in order. */
  targets: string[];
  url: string;
}

function answer(seen: string[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    seen.push(`${req.method} ${req.url}`);
    const peer = (req.socket as Partial<TLSSocket>).getPeerCertificate?.();
    const client = peer !== undefined && peer.subject !== undefined ? peer.subject.CN : undefined;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, client: client ?? null }));
  };
}

/** Tracks sockets so close() does not wait for keep-alive connections or tunnels. */
async function listen(server: Server, sockets: Set<Socket>): Promise<{ port: number; close(): Promise<void> }> {
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      if (server.listening) await once(server, 'close');
    },
  };
}

export async function startHttpsServer(options: { certFile: string; keyFile: string; clientCaFile?: string }): Promise<RunningServer> {
  const seen: string[] = [];
  const server = createHttpsServer(
    {
      cert: await readFile(options.certFile, 'utf8'),
      key: await readFile(options.keyFile, 'utf8'),
      ...(options.clientCaFile === undefined
        ? {}
        : { ca: await readFile(options.clientCaFile, 'utf8'), requestCert: true, rejectUnauthorized: true }),
    },
    answer(seen),
  );
  // A failed handshake is what several tests cause on purpose.
  server.on('tlsClientError', () => {});
  const { port, close } = await listen(server, new Set());
  return { port, host: `127.0.0.1:${port}`, seen, close };
}

export async function startHttpServer(): Promise<RunningServer> {
  const seen: string[] = [];
  const server = createHttpServer(answer(seen));
  // No clientError handler: Node then answers bytes it cannot parse (a TLS ClientHello) with
  // `400 Bad Request`, as Go's net/http in docker-registry does, which is what a TLS client meets.
  const { port, close } = await listen(server, new Set());
  return { port, host: `127.0.0.1:${port}`, seen, close };
}

export async function startProxy(): Promise<RunningProxy> {
  const seen: string[] = [];
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server = createHttpServer((req, res) => {
    // Absolute-form request for a plain-HTTP target: forward it.
    seen.push(`${req.method} ${req.url}`);
    targets.push(req.url ?? '');
    const upstream = httpRequest(req.url ?? '', { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    targets.push(req.url ?? '');
    const [hostname, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), hostname ?? '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const { port, close } = await listen(server, sockets);
  return { port, host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, seen, targets, close };
}
