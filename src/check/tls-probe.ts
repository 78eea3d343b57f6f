/**
 * A registry's port, probed in two steps so each failure has its own name: a TCP connection (is
 * anything there?), then a TLS handshake over it (does it speak TLS, and do we trust its certificate?).
 * The handshake never fails on trust: it reports it, with who issued the certificate.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import type { TlsTrust } from '../store/registry/tls.ts';

export type TcpProbe = { ok: true; socket: Socket } | { ok: false; code: string; message: string };

export type TlsProbe =
  | { ok: true; authorized: boolean; authorizationError: string | undefined; protocol: string | undefined; issuer: string; subject: string; validTo: string }
  | { ok: false; code: string; message: string };

function codeOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'ERROR';
}

export function probeTcp(host: string, port: number, timeoutMs: number): Promise<TcpProbe> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, code: 'ETIMEDOUT', message: `no answer within ${Math.round(timeoutMs / 1000)}s` });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve({ ok: true, socket });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, code: codeOf(err), message: err.message });
    });
  });
}

function name(entity: PeerCertificate['issuer'] | undefined): string {
  if (entity === undefined) return '?';
  const parts = [entity.CN === undefined ? undefined : `CN=${String(entity.CN)}`, entity.O === undefined ? undefined : `O=${String(entity.O)}`].filter((p) => p !== undefined);
  return parts.length === 0 ? '?' : parts.join(', ');
}

/** TLS over an open socket; the socket is closed afterwards either way. */
export function probeTls(socket: Socket, servername: string | undefined, trust: TlsTrust, timeoutMs: number): Promise<TlsProbe> {
  return new Promise((resolve) => {
    const tls = tlsConnect({
      socket,
      ...(servername === undefined ? {} : { servername }),
      ...(trust.ca === undefined ? {} : { ca: trust.ca }),
      ...(trust.cert === undefined ? {} : { cert: trust.cert }),
      ...(trust.key === undefined ? {} : { key: trust.key }),
      // Trust is reported, not enforced: the point is to say who signed the certificate.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => {
      tls.destroy();
      resolve({ ok: false, code: 'ETIMEDOUT', message: `no TLS handshake within ${Math.round(timeoutMs / 1000)}s` });
    }, timeoutMs);
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = tls.getPeerCertificate();
      const error = tls.authorizationError as unknown;
      resolve({
        ok: true,
        authorized: tls.authorized,
        authorizationError: error === null || error === undefined ? undefined : typeof error === 'string' ? error : codeOf(error),
        protocol: tls.getProtocol() ?? undefined,
        issuer: name(cert.issuer),
        subject: name(cert.subject),
        validTo: cert.valid_to ?? '',
      });
      tls.end();
      tls.destroy();
    });
    tls.once('error', (err) => {
      clearTimeout(timer);
      tls.destroy();
      resolve({ ok: false, code: codeOf(err), message: err.message });
    });
  });
}
