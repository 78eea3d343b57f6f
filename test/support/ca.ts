/**
 * A throw-away certificate authority made with the openssl CLI, and a server certificate for loopback that
 * Go's crypto/x509 (docker-registry, skopeo, dockerd) and Node's TLS both accept.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './process.ts';

export interface CertificateAuthority {
  /** The CA certificate (PEM): what a client is given with --ca-file. */
  caFile: string;
  /** The CA's private key (PEM). */
  caKeyFile: string;
  /** The server certificate for localhost, 127.0.0.1 and ::1, signed by the CA (PEM). */
  certFile: string;
  /** The server certificate's private key (PEM, unencrypted). */
  keyFile: string;
  /**
   * A directory holding only `ca.crt`: the shape skopeo's --cert-dir and /etc/docker/certs.d/HOST/ expect
   * (a stray *.key there would be taken for a client key without its certificate).
   */
  certDir: string;
}

export interface CertificateAuthorityOptions {
  /** Shown in the CA's subject, to tell two CAs apart in an error message. */
  commonName?: string;
}

// Our own config, not the system openssl.cnf: its defaults (v3_ca sections, -addext merging) differ across
// versions, and a duplicated extension is an error.
const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical, CA:FALSE
# ECDSA keys sign; keyEncipherment would only be meaningful for RSA key transport.
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

/** A positive serial: Go rejects negative ones, and the high bit of the first byte would make it negative. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return `0x${bytes.toString('hex')}`;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function makeCertificateAuthority(dir: string, options: CertificateAuthorityOptions = {}): Promise<CertificateAuthority> {
  await mkdir(dir, { recursive: true });
  const config = join(dir, 'openssl.cnf');
  await writeFile(config, OPENSSL_CONFIG);
  const caFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  const csrFile = join(dir, 'server.csr');
  const commonName = options.commonName ?? `airgap test CA ${randomBytes(4).toString('hex')}`;
  // OpenSSL's own settings file must not leak in from the environment.
  const env = { ...process.env, OPENSSL_CONF: config };

  await run(
    'openssl',
    ['req', '-x509', ...EC_KEY, '-keyout', caKeyFile, '-out', caFile, '-days', '2', '-config', config,
      '-extensions', 'v3_ca', '-subj', `/CN=${commonName}`, '-set_serial', serial(), '-sha256'],
    { env },
  );
  await run(
    'openssl',
    ['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', csrFile, '-config', config, '-subj', '/CN=localhost'],
    { env },
  );
  await run(
    'openssl',
    ['x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKeyFile, '-set_serial', serial(), '-days', '2',
      '-sha256', '-extfile', config, '-extensions', 'v3_server', '-out', certFile],
    { env },
  );

  const certDir = join(dir, 'certs.d');
  await mkdir(certDir, { recursive: true });
  await copyFile(caFile, join(certDir, 'ca.crt'));
  return { caFile, caKeyFile, certFile, keyFile, certDir };
}

/**
 * A second CA that nothing trusts, in `dir/untrusted`: give its caFile to a client talking to a server of the
 * first CA, or serve its certificate, and the connection must be refused.
 */
export function makeUntrustedCertificateAuthority(dir: string): Promise<CertificateAuthority> {
  return makeCertificateAuthority(join(dir, 'untrusted'), {
    commonName: `airgap untrusted test CA ${randomBytes(4).toString('hex')}`,
  });
}
