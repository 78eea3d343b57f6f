/**
 * A TCP proxy on loopback that adds a round-trip time: every chunk is held rtt/2 before it is passed on, in
 * each direction, and a connection is opened to the target only one rtt after it is accepted (a TCP
 * handshake's worth). TLS passes through untouched. It models latency, not bandwidth: what a WAN costs a
 * protocol that waits for answers. Used by the benchmark's WAN case; nothing leaves loopback.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface DelayProxy {
  host: string;
  stop(): Promise<void>;
}

/** Passes `from`'s data to `to` after `delayMs`, in order; ends `to` after the last chunk has gone. */
function delayed(from: Socket, to: Socket, delayMs: number): void {
  from.on('data', (chunk: Buffer) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delayMs);
  });
  from.on('end', () => setTimeout(() => to.end(), delayMs));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), delayMs + 1));
}

export async function startDelayProxy(targetHost: string, rttMs: number): Promise<DelayProxy> {
  const [name, port] = targetHost.split(':');
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    setTimeout(() => {
      const upstream = connect(Number(port), name ?? '127.0.0.1', () => {
        delayed(client, upstream, rttMs / 2);
        delayed(upstream, client, rttMs / 2);
        client.resume();
      });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
    }, rttMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${own}`,
    stop: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
