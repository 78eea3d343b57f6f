/**
 * Stand-in: a token issuer for docker-registry's `auth: token` (the distribution token spec). It only signs:
 * an RS256 JWT whose `x5c` header carries its self-signed certificate, which the registry's rootcertbundle
 * trusts. The registry that verifies the token and enforces its grants is the real one. It grants the asked
 * actions to one user and password, pull only to anonymous asks when told to, and records every ask.
 */
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { run } from './process.ts';

export const TOKEN_ISSUER = 'airgap-test-issuer';
export const TOKEN_SERVICE = 'airgap-test-registry';

export interface TokenAsk {
  /** The user name of the Basic credentials sent, or undefined for an anonymous ask. */
  account: string | undefined;
  scopes: string[];
  service: string | undefined;
  granted: boolean;
}

export interface TokenIssuer {
  realm: string;
  /** The certificate the registry trusts (rootcertbundle). */
  rootCertFile: string;
  asks: TokenAsk[];
  /** Headers of every ask, to prove what was (not) sent. */
  stop(): Promise<void>;
}

export interface TokenIssuerOptions {
  username: string;
  password: string;
  /** Grant pull to anyone who asks without credentials (as public registries do). Default false: 401. */
  anonymousPull?: boolean;
  /** Actions a signed-in user may get; default pull and push. */
  userActions?: string[];
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** `repository:NAME:ACTIONS` scopes as the access claim of a token, keeping only `allowed` actions. */
function access(scopes: readonly string[], allowed: readonly string[]): { type: string; name: string; actions: string[] }[] {
  return scopes.flatMap((scope) => {
    const match = /^([a-z]+):(.+):([a-z*,]+)$/.exec(scope);
    if (match === null) return [];
    const actions = (match[3] ?? '').split(',').filter((a) => allowed.includes(a));
    return [{ type: match[1] ?? 'repository', name: match[2] ?? '', actions }];
  });
}

export async function startTokenIssuer(dir: string, options: TokenIssuerOptions): Promise<TokenIssuer> {
  const keyFile = join(dir, 'token-signer.key');
  const rootCertFile = join(dir, 'token-signer.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', rootCertFile, '-days', '2', '-subj', '/CN=airgap test token signer']);
  const key = createPrivateKey(await readFile(keyFile));
  const certDer = new X509Certificate(await readFile(rootCertFile)).raw;
  const asks: TokenAsk[] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://issuer');
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    const header = req.headers.authorization ?? '';
    let account: string | undefined;
    let valid = false;
    if (header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      account = decoded.slice(0, colon);
      valid = account === options.username && decoded.slice(colon + 1) === options.password;
    }
    const granted = valid || (account === undefined && options.anonymousPull === true);
    asks.push({ account, scopes, service: url.searchParams.get('service') ?? undefined, granted });
    if (!granted) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="airgap-test-issuer"' });
      res.end(JSON.stringify({ details: account === undefined ? 'authentication required' : 'incorrect username or password' }));
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const jwtHeader = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: TOKEN_ISSUER, sub: account ?? '', aud: url.searchParams.get('service') ?? TOKEN_SERVICE,
      exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(),
      access: access(scopes, valid ? (options.userActions ?? ['pull', 'push']) : ['pull']),
    };
    const signingInput = `${base64url(JSON.stringify(jwtHeader))}.${base64url(JSON.stringify(claims))}`;
    const token = `${signingInput}.${base64url(sign('RSA-SHA256', Buffer.from(signingInput), key))}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await writeFile(join(dir, 'token-issuer.url'), `http://127.0.0.1:${port}/token\n`);
  return {
    realm: `http://127.0.0.1:${port}/token`,
    rootCertFile,
    asks,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
