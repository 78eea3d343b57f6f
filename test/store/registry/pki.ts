/**
 * Certificates for the TLS tests beyond the shared test CA: a client certificate, a self-signed server
 * certificate, one for another name, one already expired. All made by the openssl CLI, so the handshakes
 * that use them are real.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateAuthority } from '../../support/ca.ts';
import { run } from '../../support/process.ts';

export interface Leaf {
  certFile: string;
  keyFile: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function extensions(kind: 'server' | 'client', san: string, caDatabase = ''): string {
  return `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_default]
default_md = sha256
policy = policy_any
unique_subject = no
${caDatabase}
[policy_any]
commonName = supplied
[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = ${kind === 'server' ? 'serverAuth' : 'clientAuth'}
${san === '' ? '' : `subjectAltName = ${san}`}
`;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return `0x${bytes.toString('hex')}`;
}

/** A certificate signed by `ca` for `san` (e.g. `IP:127.0.0.1`), for a server or a client. */
export async function signLeaf(ca: CertificateAuthority, dir: string, name: string, kind: 'server' | 'client', san: string): Promise<Leaf> {
  await mkdir(dir, { recursive: true });
  const config = join(dir, `${name}.cnf`);
  await writeFile(config, extensions(kind, san));
  const env = { ...process.env, OPENSSL_CONF: config };
  const leaf = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  await run('openssl', ['req', '-new', ...EC_KEY, '-keyout', leaf.keyFile, '-out', csr, '-config', config, '-subj', `/CN=${name}`], { env });
  await run(
    'openssl',
    ['x509', '-req', '-in', csr, '-CA', ca.caFile, '-CAkey', ca.caKeyFile, '-set_serial', serial(), '-days', '2', '-sha256',
      '-extfile', config, '-extensions', 'ext', '-out', leaf.certFile],
    { env },
  );
  return leaf;
}

/** A server certificate that signs itself: what a registry set up with a quick `openssl req -x509` serves. */
export async function selfSigned(dir: string, name: string, san: string): Promise<Leaf> {
  await mkdir(dir, { recursive: true });
  const config = join(dir, `${name}.cnf`);
  await writeFile(config, extensions('server', san));
  const env = { ...process.env, OPENSSL_CONF: config };
  const leaf = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  await run(
    'openssl',
    ['req', '-x509', ...EC_KEY, '-keyout', leaf.keyFile, '-out', leaf.certFile, '-days', '2', '-config', config,
      '-extensions', 'ext', '-subj', `/CN=${name}`, '-set_serial', serial(), '-sha256'],
    { env },
  );
  return leaf;
}

/** A server certificate of `ca` whose validity ended in 2020: `openssl ca` is what takes explicit dates. */
export async function expiredLeaf(ca: CertificateAuthority, dir: string, name: string, san: string): Promise<Leaf> {
  await mkdir(dir, { recursive: true });
  // `openssl ca` insists on a database and a directory for copies: throw-away ones per certificate.
  const database = join(dir, `${name}.index`);
  const copies = join(dir, `${name}.issued`);
  await writeFile(database, '');
  await mkdir(copies, { recursive: true });
  const config = join(dir, `${name}.cnf`);
  await writeFile(config, extensions('server', san, `database = ${database}\nnew_certs_dir = ${copies}\nrand_serial = yes`));
  const env = { ...process.env, OPENSSL_CONF: config };
  const leaf = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  await run('openssl', ['req', '-new', ...EC_KEY, '-keyout', leaf.keyFile, '-out', csr, '-config', config, '-subj', `/CN=${name}`], { env });
  await run(
    'openssl',
    ['ca', '-batch', '-config', config, '-name', 'ca_default', '-cert', ca.caFile, '-keyfile', ca.caKeyFile, '-in', csr,
      '-out', leaf.certFile, '-notext', '-extfile', config, '-extensions', 'ext',
      '-startdate', '20200101000000Z', '-enddate', '20200102000000Z'],
    { env },
  );
  return leaf;
}
