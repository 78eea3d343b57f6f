import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirgapError, TlsError } from '../../../src/errors.ts';
import { describeTlsFailure, trustFor } from '../../../src/store/registry/tls.ts';
import type { TlsTrust } from '../../../src/store/registry/tls.ts';
import { createDispatcher } from '../../../src/store/registry/transport.ts';
import { makeCertificateAuthority, makeUntrustedCertificateAuthority } from '../../support/ca.ts';
import type { CertificateAuthority } from '../../support/ca.ts';
import { useTempDir } from '../../support/tmp.ts';
import { expiredLeaf, selfSigned, signLeaf } from './pki.ts';
import type { Leaf } from './pki.ts';
import { startHttpServer, startHttpsServer } from './servers.ts';
import type { RunningServer } from './servers.ts';

const tmp = useTempDir('airgap-tls-');
let ca: CertificateAuthority;
let other: CertificateAuthority;
let client: Leaf;
/** Servers by what they serve. */
let good: RunningServer;
let selfSignedServer: RunningServer;
let wrongName: RunningServer;
let expired: RunningServer;
let mutual: RunningServer;
let plain: RunningServer;

/** A GET through the real dispatcher with this trust and no proxy: the handshake is the real one. */
async function get(server: RunningServer, trust: TlsTrust): Promise<{ status: number; body: unknown }> {
  const dispatcher = createDispatcher(server.host, trust, { env: {} });
  try {
    const res = await request(`https://${server.host}/v2/`, { dispatcher });
    return { status: res.statusCode, body: await res.body.json() };
  } finally {
    await dispatcher.close();
  }
}

async function failure(server: RunningServer, trust: TlsTrust): Promise<unknown> {
  return get(server, trust).then(
    () => new Error('the request succeeded'),
    (err: unknown) => err,
  );
}

const noTrust: TlsTrust = { ca: undefined, sources: [] };

beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  other = await makeUntrustedCertificateAuthority(tmp.path);
  const leaves = join(tmp.path, 'leaves');
  const [selfLeaf, wrongLeaf, expiredCert, clientLeaf] = await Promise.all([
    selfSigned(leaves, 'self', 'IP:127.0.0.1'),
    signLeaf(ca, leaves, 'wrong-name', 'server', 'DNS:registry.invalid'),
    expiredLeaf(ca, leaves, 'expired', 'IP:127.0.0.1'),
    signLeaf(ca, leaves, 'client', 'client', ''),
  ]);
  client = clientLeaf;
  [good, selfSignedServer, wrongName, expired, mutual, plain] = await Promise.all([
    startHttpsServer({ certFile: ca.certFile, keyFile: ca.keyFile }),
    startHttpsServer(selfLeaf),
    startHttpsServer(wrongLeaf),
    startHttpsServer(expiredCert),
    startHttpsServer({ certFile: ca.certFile, keyFile: ca.keyFile, clientCaFile: ca.caFile }),
    startHttpServer(),
  ]);
});

afterAll(async () => {
  await Promise.all([good, selfSignedServer, wrongName, expired, mutual, plain].map((s) => s?.close()));
});

describe('trustFor', () => {
  it("leaves Node's default store alone when there is nothing extra", async () => {
    const trust = await trustFor('registry.example.com', { caFiles: [], certsDirs: [join(tmp.path, 'no-such-dir')] });
    expect(trust).toEqual({ ca: undefined, sources: [] });
  });

  it('trusts a --ca-file and keeps the public roots', async () => {
    const trust = await trustFor(good.host, { caFiles: [ca.caFile], certsDirs: [] });
    expect(trust.sources).toEqual([ca.caFile]);
    expect(trust.ca?.length).toBeGreaterThan(rootCertificates.length);
    expect(trust.ca).toEqual(expect.arrayContaining([...rootCertificates]));
    expect(await get(good, trust)).toEqual({ status: 200, body: { ok: true, client: null } });
  });

  it('reads every certificate of a PEM bundle', async () => {
    const bundle = join(tmp.path, 'bundle.pem');
    await writeFile(bundle, `${await readFile(other.caFile, 'utf8')}\n${await readFile(ca.caFile, 'utf8')}`);
    const trust = await trustFor(good.host, { caFiles: [bundle], certsDirs: [] });
    expect(trust.ca?.length).toBeGreaterThanOrEqual(rootCertificates.length + 2);
    expect((await get(good, trust)).status).toBe(200);
  });

  it('reads a DER CA file', async () => {
    const der = join(tmp.path, 'ca.der');
    await writeFile(der, new X509Certificate(await readFile(ca.caFile)).raw);
    const trust = await trustFor(good.host, { caFiles: [der], certsDirs: [] });
    expect((await get(good, trust)).status).toBe(200);
  });

  it('finds ca.crt in certs.d/HOST:PORT/, the docker layout', async () => {
    const certsDir = join(tmp.path, 'certs.d');
    await mkdir(join(certsDir, good.host), { recursive: true });
    await copyFile(ca.caFile, join(certsDir, good.host, 'ca.crt'));
    const trust = await trustFor(good.host, { caFiles: [], certsDirs: [join(tmp.path, 'absent.d'), certsDir] });
    expect(trust.sources).toEqual([join(certsDir, good.host, 'ca.crt')]);
    expect((await get(good, trust)).status).toBe(200);
    // Another port is another host: its directory is not read.
    expect(await trustFor('127.0.0.1:1', { caFiles: [], certsDirs: [certsDir] })).toEqual({ ca: undefined, sources: [] });
  });

  it('presents the client certificate of certs.d/HOST/client.cert and client.key', async () => {
    const certsDir = join(tmp.path, 'certs-mtls.d');
    const hostDir = join(certsDir, mutual.host);
    await mkdir(hostDir, { recursive: true });
    await copyFile(ca.caFile, join(hostDir, 'ca.crt'));
    await copyFile(client.certFile, join(hostDir, 'client.cert'));
    await copyFile(client.keyFile, join(hostDir, 'client.key'));
    const trust = await trustFor(mutual.host, { caFiles: [], certsDirs: [certsDir] });
    expect(trust.sources).toEqual([join(hostDir, 'ca.crt'), join(hostDir, 'client.cert'), join(hostDir, 'client.key')]);
    expect(await get(mutual, trust)).toEqual({ status: 200, body: { ok: true, client: 'client' } });

    // Without it the server refuses the handshake.
    const caOnly = await trustFor(mutual.host, { caFiles: [ca.caFile], certsDirs: [] });
    expect(await failure(mutual, caOnly)).toBeInstanceOf(Error);
  });

  it.each([
    ['a missing --ca-file', async () => join(tmp.path, 'missing.pem'), 'cannot read CA file'],
    [
      'a --ca-file without a certificate',
      async () => {
        const file = join(tmp.path, 'not-a-cert.pem');
        await writeFile(file, 'hello, I am not a certificate\n');
        return file;
      },
      'holds no readable certificate',
    ],
    [
      'a --ca-file holding a private key',
      async () => ca.keyFile,
      'holds no readable certificate',
    ],
  ])('%s is an AirgapError naming the file', async (_name, make, says) => {
    const file = await make();
    const err = await trustFor('h', { caFiles: [file], certsDirs: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirgapError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain(says);
  });

  it('refuses a client certificate without its key, naming both files', async () => {
    const certsDir = join(tmp.path, 'certs-nokey.d');
    await mkdir(join(certsDir, 'h'), { recursive: true });
    await copyFile(client.certFile, join(certsDir, 'h', 'client.cert'));
    const err = await trustFor('h', { caFiles: [], certsDirs: [certsDir] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirgapError);
    expect((err as Error).message).toContain(join(certsDir, 'h', 'client.cert'));
    expect((err as Error).message).toContain(join(certsDir, 'h', 'client.key'));
  });
});

describe('describeTlsFailure on real handshakes', () => {
  it('a CA nobody trusts: untrusted, with the --ca-file and certs.d hint', async () => {
    const err = await failure(good, noTrust);
    const tls = describeTlsFailure(err, good.host);
    expect(tls).toBeInstanceOf(TlsError);
    expect(tls?.message).toBe(`the TLS certificate of ${good.host} is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`);
    expect(tls?.hint).toBe(`pass --ca-file CA.pem or put the CA in /etc/docker/certs.d/${good.host}/ca.crt`);
    expect(tls?.cause).toBe(err);
  });

  it('the wrong CA given: untrusted', async () => {
    const trust = await trustFor(good.host, { caFiles: [other.caFile], certsDirs: [] });
    expect(describeTlsFailure(await failure(good, trust), good.host)?.message).toContain('is not trusted');
  });

  it('a self-signed server certificate: untrusted', async () => {
    const tls = describeTlsFailure(await failure(selfSignedServer, noTrust), selfSignedServer.host);
    expect(tls?.message).toBe(`the TLS certificate of ${selfSignedServer.host} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT)`);
    expect(tls?.hint).toContain('--ca-file');
  });

  it('a certificate for another name', async () => {
    const trust = await trustFor(wrongName.host, { caFiles: [ca.caFile], certsDirs: [] });
    const tls = describeTlsFailure(await failure(wrongName, trust), wrongName.host);
    expect(tls?.message).toBe(`the TLS certificate of ${wrongName.host} is not issued for that name (ERR_TLS_CERT_ALTNAME_INVALID)`);
    expect(tls?.hint).toContain('subjectAltName');
  });

  it('an expired certificate', async () => {
    const trust = await trustFor(expired.host, { caFiles: [ca.caFile], certsDirs: [] });
    const tls = describeTlsFailure(await failure(expired, trust), expired.host);
    expect(tls?.message).toBe(`the TLS certificate of ${expired.host} has expired (CERT_HAS_EXPIRED)`);
  });

  it('TLS spoken to a plain HTTP server: the --plain-http hint', async () => {
    const err = await failure(plain, noTrust);
    const tls = describeTlsFailure(err, plain.host);
    expect(tls).toBeInstanceOf(TlsError);
    expect(tls?.message).toContain(`registry ${plain.host} did not answer TLS`);
    expect(tls?.hint).toBe(`the registry at ${plain.host} speaks plain HTTP: pass --plain-http ${plain.host}`);
  });
});

describe('describeTlsFailure on error values', () => {
  const coded = (code: string, message = code): Error => Object.assign(new Error(message), { code });
  it.each([
    ['untrusted, wrapped by fetch', new TypeError('fetch failed', { cause: coded('SELF_SIGNED_CERT_IN_CHAIN') }), 'is not trusted (SELF_SIGNED_CERT_IN_CHAIN)'],
    ['untrusted, two causes deep', new Error('a', { cause: new Error('b', { cause: coded('UNABLE_TO_GET_ISSUER_CERT_LOCALLY') }) }), 'is not trusted'],
    ['untrusted, in an AggregateError', new AggregateError([coded('ECONNREFUSED'), coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE')]), 'is not trusted'],
    ['not yet valid', coded('CERT_NOT_YET_VALID'), 'is not yet valid'],
    ['plain HTTP, EPROTO', coded('EPROTO', 'write EPROTO 40E7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), 'did not answer TLS'],
    ['plain HTTP, OpenSSL code', coded('ERR_SSL_WRONG_VERSION_NUMBER'), 'did not answer TLS'],
    ['reset during the handshake', coded('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established'), 'closed the connection during the TLS handshake'],
    ['the proxy certificate', Object.assign(new Error('secure proxy'), { code: 'UND_ERR_PRX_TLS', cause: coded('ERR_TLS_CERT_ALTNAME_INVALID') }), 'HTTPS proxy'],
  ])('%s', (_name, err, says) => {
    const tls = describeTlsFailure(err, 'reg.example:5000');
    expect(tls).toBeInstanceOf(TlsError);
    expect(tls?.message).toContain(says);
    expect(tls?.hint).not.toBe('');
  });

  it.each([
    ['connection refused', coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')],
    ['reset after the handshake', coded('ECONNRESET', 'read ECONNRESET')],
    ['EPROTO for another reason', coded('EPROTO', 'unsupported protocol')],
    ['a plain error', new Error('boom')],
    ['a string', 'CERT_HAS_EXPIRED'],
    ['undefined', undefined],
    ['a cause cycle', (() => { const e = new Error('loop') as Error & { cause?: unknown }; e.cause = e; return e; })()],
  ])('%s is not a TLS failure', (_name, err) => {
    expect(describeTlsFailure(err, 'reg.example')).toBeUndefined();
  });
});
