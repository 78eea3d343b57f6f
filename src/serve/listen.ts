import { UsageError } from '../errors.ts';

export interface ListenAddress {
  /** undefined: every interface. */
  host: string | undefined;
  port: number;
}

/** `--listen`: HOST:PORT, [IPv6]:PORT, :PORT (every interface) or PORT; port 0 picks a free one. */
export function parseListen(text: string): ListenAddress {
  const bad = (): UsageError => new UsageError(`--listen ${text}: expected HOST:PORT, [IPV6]:PORT, :PORT or PORT (e.g. 127.0.0.1:5000)`);
  let host: string | undefined;
  let portText: string;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text);
  if (v6 !== null) {
    host = v6[1];
    portText = v6[2] ?? '';
  } else if (/^\d+$/.test(text)) {
    portText = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon === -1 || text.indexOf(':') !== colon) throw bad();
    host = colon === 0 ? undefined : text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw bad();
  if (host !== undefined && !/^[A-Za-z0-9.:-]+$/.test(host)) throw bad();
  return { host, port };
}

/** The HOST:PORT clients on this machine use: a wildcard listener is reached on loopback. */
export function clientHost(address: ListenAddress, port: number): string {
  const host = address.host;
  if (host === undefined || host === '0.0.0.0') return `127.0.0.1:${port}`;
  if (host === '::') return `[::1]:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
