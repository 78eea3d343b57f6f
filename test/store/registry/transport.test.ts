import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlsError } from '../../../src/errors.ts';
import { describeTlsFailure, trustFor } from '../../../src/store/registry/tls.ts';
import type { TlsTrust } from '../../../src/store/registry/tls.ts';
import { createDispatcher } from '../../../src/store/registry/transport.ts';
import { makeCertificateAuthority } from '../../support/ca.ts';
import type { CertificateAuthority } from '../../support/ca.ts';
import { useTempDir } from '../../support/tmp.ts';
import { signLeaf } from './pki.ts';
import { startHttpServer, startHttpsServer, startProxy } from './servers.ts';
import type { RunningProxy, RunningServer } from './servers.ts';

const tmp = useTempDir('airgap-transport-');
let ca: CertificateAuthority;
let trust: TlsTrust;
let registry: RunningServer;
let mutual: RunningServer;
let plain: RunningServer;
let proxy: RunningProxy;

async function get(url: string, host: string, trustFor: TlsTrust, env: NodeJS.ProcessEnv): Promise<{ status: number; body: unknown }> {
  const dispatcher = createDispatcher(host, trustFor, { env });
  try {
    const res = await request(url, { dispatcher });
    return { status: res.statusCode, body: await res.body.json() };
  } finally {
    await dispatcher.close();
  }
}

beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  trust = await trustFor('127.0.0.1', { caFiles: [ca.caFile], certsDirs: [] });
  [registry, mutual, plain, proxy] = await Promise.all([
    startHttpsServer({ certFile: ca.certFile, keyFile: ca.keyFile }),
    startHttpsServer({ certFile: ca.certFile, keyFile: ca.keyFile, clientCaFile: ca.caFile }),
    startHttpServer(),
    startProxy(),
  ]);
});

afterAll(async () => {
  await Promise.all([registry, mutual, plain, proxy].map((s) => s?.close()));
});

describe('createDispatcher and the proxy variables', () => {
  // Rows are functions of the ports, which exist only once the servers listen.
  const rows: Array<[string, () => NodeJS.ProcessEnv, boolean]> = [
    ['no proxy variables', () => ({}), false],
    ['HTTPS_PROXY', () => ({ HTTPS_PROXY: proxy.url }), true],
    ['https_proxy', () => ({ https_proxy: proxy.url }), true],
    ['HTTP_PROXY alone also carries https', () => ({ HTTP_PROXY: proxy.url }), true],
    ['NO_PROXY naming the host', () => ({ HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }), false],
    ['no_proxy naming host:port', () => ({ https_proxy: proxy.url, no_proxy: `example.com, 127.0.0.1:${registry.port}` }), false],
    ['NO_PROXY naming another port', () => ({ HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1:1' }), true],
    ['NO_PROXY=*', () => ({ HTTPS_PROXY: proxy.url, NO_PROXY: '*' }), false],
    // Loopback is not exempt by itself: only what NO_PROXY names is.
    ['NO_PROXY naming localhost, not the address used', () => ({ HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost' }), true],
  ];

  it.each(rows)('%s', async (_name, env, proxied) => {
    const before = proxy.targets.length;
    const seenBefore = registry.seen.length;
    const res = await get(`https://${registry.host}/v2/`, registry.host, trust, env());
    expect(res).toEqual({ status: 200, body: { ok: true, client: null } });
    expect(registry.seen.slice(seenBefore)).toEqual(['GET /v2/']);
    expect(proxy.targets.slice(before)).toEqual(proxied ? [registry.host] : []);
  });

  it('forwards plain-HTTP registries through HTTP_PROXY', async () => {
    const before = proxy.targets.length;
    const res = await get(`http://${plain.host}/v2/`, plain.host, { ca: undefined, sources: [] }, { HTTP_PROXY: proxy.url });
    expect(res.status).toBe(200);
    expect(proxy.targets.slice(before)).toEqual([`http://${plain.host}/v2/`]);
  });

  it('does not send plain-HTTP requests to HTTPS_PROXY alone', async () => {
    const before = proxy.targets.length;
    const res = await get(`http://${plain.host}/v2/`, plain.host, { ca: undefined, sources: [] }, { HTTPS_PROXY: proxy.url });
    expect(res.status).toBe(200);
    expect(proxy.targets.slice(before)).toEqual([]);
  });

  it('verifies the registry inside the tunnel with its trust', async () => {
    const err = await get(`https://${registry.host}/v2/`, registry.host, { ca: undefined, sources: [] }, { HTTPS_PROXY: proxy.url }).then(
      () => new Error('the request succeeded'),
      (e: unknown) => e,
    );
    const tls = describeTlsFailure(err, registry.host);
    expect(tls).toBeInstanceOf(TlsError);
    expect(tls?.message).toContain('is not trusted');
  });

  it.each([
    ['directly', (): NodeJS.ProcessEnv => ({})],
    ['through the proxy', (): NodeJS.ProcessEnv => ({ HTTPS_PROXY: proxy.url })],
  ])('presents the client certificate %s', async (_name, env) => {
    const leaf = await signLeaf(ca, join(tmp.path, 'client'), 'airgap-client', 'client', '');
    const withClient: TlsTrust = { ...trust, cert: await readFile(leaf.certFile, 'utf8'), key: await readFile(leaf.keyFile, 'utf8') };
    const res = await get(`https://${mutual.host}/v2/`, mutual.host, withClient, env());
    expect(res).toEqual({ status: 200, body: { ok: true, client: 'airgap-client' } });
  });

  it('keeps connections alive and within the limit', async () => {
    const dispatcher = createDispatcher(registry.host, trust, { connections: 1, env: { HTTPS_PROXY: proxy.url } });
    const before = proxy.targets.length;
    try {
      const statuses = await Promise.all(
        Array.from({ length: 3 }, async () => {
          const res = await request(`https://${registry.host}/v2/`, { dispatcher });
          await res.body.dump();
          return res.statusCode;
        }),
      );
      expect(statuses).toEqual([200, 200, 200]);
    } finally {
      await dispatcher.close();
    }
    // Three concurrent requests, one connection allowed: they queue on one tunnel.
    expect(proxy.targets.slice(before)).toEqual([registry.host]);
  });

  it.each([0, -1, 1.5])('refuses a connection limit of %s', (connections) => {
    expect(() => createDispatcher('h', trust, { connections, env: {} })).toThrow(RangeError);
  });
});
