/**
 * Which certificates a registry host is trusted with, and what a failed TLS handshake means for the
 * operator. Private registries in air-gapped networks are nearly always signed by a site CA: docker's
 * `/etc/docker/certs.d/HOST/` convention and `--ca-file` must both work, without losing the public roots
 * (token realms and blob redirects of public registries go through the same dispatcher).
 */

import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { AirgapError, TlsError } from '../../errors.ts';
import { errorChain } from '../../util/error-chain.ts';

export interface TlsTrust {
  /** The CAs to trust, PEM; undefined: Node's default store. */
  ca: string[] | undefined;
  /** Client certificate (PEM) for registries that ask for one. */
  cert?: string;
  key?: string;
  /** The files used, for messages. */
  sources: string[];
}

export interface TrustOptions {
  /** `--ca-file` files: PEM (bundles allowed) or DER. */
  caFiles: string[];
  /** Where per-host directories are looked for; default docker's and podman's. */
  certsDirs?: string[];
}

export const DEFAULT_CERTS_DIRS = ['/etc/docker/certs.d', '/etc/containers/certs.d'];

export async function trustFor(host: string, options: TrustOptions): Promise<TlsTrust> {
  const extra: string[] = [];
  const sources: string[] = [];
  let cert: string | undefined;
  let key: string | undefined;

  for (const file of options.caFiles) {
    extra.push(...(await readCertificates(file, '--ca-file')));
    sources.push(file);
  }

  for (const base of options.certsDirs ?? DEFAULT_CERTS_DIRS) {
    const dir = join(base, host);
    const names = await listDir(dir);
    // docker reads CA files first, then client pairs, in name order; so do we, so the pair picked is stable.
    for (const name of names.filter((n) => n.endsWith('.crt'))) {
      const file = join(dir, name);
      extra.push(...(await readCertificates(file, 'certs.d')));
      sources.push(file);
    }
    for (const name of names.filter((n) => n.endsWith('.cert'))) {
      const certFile = join(dir, name);
      const keyFile = join(dir, `${name.slice(0, -'.cert'.length)}.key`);
      if (!names.includes(`${name.slice(0, -'.cert'.length)}.key`)) {
        throw new AirgapError(`client certificate ${certFile} has no matching key ${keyFile}`, {
          hint: `put the private key for ${name} beside it as ${keyFile}, or remove ${certFile}`,
        });
      }
      // The first pair wins: one TLS connection presents one client certificate.
      if (cert !== undefined) continue;
      cert = await readText(certFile);
      key = await readText(keyFile);
      sources.push(certFile, keyFile);
    }
  }

  const trust: TlsTrust = { ca: extra.length === 0 ? undefined : [...defaultCertificates(), ...extra], sources };
  if (cert !== undefined) trust.cert = cert;
  if (key !== undefined) trust.key = key;
  return trust;
}

/**
 * What Node trusts when no `ca` is given. A `ca` option replaces all of it (the bundled roots and
 * NODE_EXTRA_CA_CERTS, and the system store under --use-system-ca), so it is put back explicitly.
 */
function defaultCertificates(): string[] {
  // tls.getCACertificates arrived in Node 22.15 / 23.10; before it, the bundled roots are what there is.
  if (typeof tls.getCACertificates === 'function') return tls.getCACertificates('default');
  return [...tls.rootCertificates];
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new AirgapError(`cannot read certificate directory ${dir}: ${code ?? 'unknown error'}`, {
      cause: err,
      hint: `check the permissions of ${dir}`,
    });
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AirgapError(`cannot read ${file}: ${code ?? 'unknown error'}`, { cause: err, hint: `check that ${file} exists and is readable` });
  }
}

/**
 * Every certificate in a file, as PEM. Each is parsed here so that a broken file is named now, not met
 * later as an obscure handshake error. DER is accepted since some CAs hand out `.crt` files in DER.
 */
async function readCertificates(file: string, from: string): Promise<string[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AirgapError(`cannot read CA file ${file} (${from}): ${code ?? 'unknown error'}`, {
      cause: err,
      hint: `check that ${file} exists and is readable`,
    });
  }
  const text = bytes.toString('latin1');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  try {
    if (blocks === null) {
      if (text.includes('-----BEGIN')) throw new Error('no CERTIFICATE block');
      return [new X509Certificate(bytes).toString()];
    }
    return blocks.map((block) => new X509Certificate(block).toString());
  } catch (err: unknown) {
    throw new AirgapError(`CA file ${file} (${from}) holds no readable certificate`, {
      cause: err,
      hint: 'give a PEM file of CA certificates (-----BEGIN CERTIFICATE-----), such as the ca.crt of the registry',
    });
  }
}

/** Node/OpenSSL verification codes that mean "signed by nobody we trust". */
/** TLS error codes meaning: the certificate does not lead to a CA we trust. */
export const UNTRUSTED_CERT_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * A TlsError saying what went wrong with the TLS connection to `host`, with the fix, or undefined when
 * `err` is not a TLS failure.
 */
export function describeTlsFailure(err: unknown, host: string): TlsError | undefined {
  const links = errorChain(err);
  const untrustedHint = `pass --ca-file CA.pem or put the CA in /etc/docker/certs.d/${host}/ca.crt`;
  const plainHint = `the registry at ${host} speaks plain HTTP: pass --plain-http ${host}`;

  // The proxy's own certificate failed, not the registry's: say so, or the hint would send the operator
  // to the wrong certificate.
  if (links.some((l) => l.code === 'UND_ERR_PRX_TLS')) {
    return new TlsError(`the TLS certificate of the HTTPS proxy for ${host} is not valid`, {
      cause: err,
      hint: 'check the proxy URL in HTTPS_PROXY, or add its host to NO_PROXY',
    });
  }
  for (const link of links) {
    if (link.code === undefined) continue;
    if (UNTRUSTED_CERT_CODES.has(link.code)) {
      return new TlsError(`the TLS certificate of ${host} is not trusted (${link.code})`, { cause: err, hint: untrustedHint });
    }
    if (EXPIRED.has(link.code)) {
      const what = link.code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not yet valid';
      return new TlsError(`the TLS certificate of ${host} ${what} (${link.code})`, {
        cause: err,
        hint: `renew the certificate of ${host}, or check this machine's clock`,
      });
    }
    if (link.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new TlsError(`the TLS certificate of ${host} is not issued for that name (${link.code})`, {
        cause: err,
        hint: `use the host name the certificate names, or reissue it with ${host.replace(/:\d+$/, '')} in its subjectAltName`,
      });
    }
    if (link.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || link.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || (link.code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(link.message))) {
      return new TlsError(`registry ${host} did not answer TLS (${link.code})`, { cause: err, hint: plainHint });
    }
    // Reset while the handshake was still going: a plain-HTTP server hanging up on bytes it cannot read,
    // or a middlebox refusing TLS.
    if (link.code === 'ECONNRESET' && /before secure TLS connection was established/i.test(link.message)) {
      return new TlsError(`registry ${host} closed the connection during the TLS handshake`, {
        cause: err,
        hint: `if the registry at ${host} speaks plain HTTP, pass --plain-http ${host}; otherwise check the proxy and firewall between here and ${host}`,
      });
    }
  }
  return undefined;
}
