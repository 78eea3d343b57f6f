/**
 * docker-registry's config.yml for the private registry: HTTPS and, with --htpasswd, basic auth. Where
 * the certificate, key and htpasswd files are readable here, they are checked the way the registry and
 * its clients will check them, so a wrong name in the certificate is found now and not at the first pull.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { parseRegistryLocation } from '../reference.ts';
import { TOOL_NAME } from '../version.ts';
import { readIfExists, type Rendering } from './rendered.ts';
import { renderTemplate } from './template.ts';

export interface RegistryConfigOptions {
  /** HOST[:PORT] clients use. */
  registry: string;
  tlsCert: string;
  tlsKey: string;
  htpasswd?: string | undefined;
  /** Default: Debian's /var/lib/docker-registry. */
  storageDir?: string | undefined;
  /** [IP]:PORT; default :PORT of the registry (443 when it has none). */
  listen?: string | undefined;
}

export const DEFAULT_STORAGE_DIR = '/var/lib/docker-registry';

function hostnameOf(host: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(host);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  return host.replace(/:\d+$/, '');
}

/** Checks the certificate names the registry and the key belongs to it; returns what could not be checked. */
async function checkTls(options: RegistryConfigOptions, certFile: string, keyFile: string, hostname: string): Promise<string[]> {
  const notes: string[] = [];
  const [certPem, keyPem] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);
  if (certPem === undefined) {
    notes.push(`${certFile} is not on this machine: its name and key were not checked`);
    return notes;
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err: unknown) {
    throw new UsageError(`--tls-cert ${options.tlsCert}: not a PEM certificate (${(err as Error).message})`, { cause: err });
  }
  const names = isIP(hostname) === 0 ? cert.checkHost(hostname) : cert.checkIP(hostname);
  if (names === undefined) {
    throw new UsageError(`--tls-cert ${options.tlsCert} is not valid for ${hostname} (${cert.subjectAltName ?? cert.subject.replaceAll('\n', ', ')}): every client would refuse it`, {
      hint: `give a certificate whose subjectAltName has ${isIP(hostname) === 0 ? 'DNS' : 'IP'}:${hostname}, or the --registry name it was made for`,
    });
  }
  if (new Date(cert.validTo).getTime() < Date.now()) throw new UsageError(`--tls-cert ${options.tlsCert} expired on ${cert.validTo}`);
  if (keyPem === undefined) {
    notes.push(`${keyFile} is not on this machine: it was not checked against the certificate`);
    return notes;
  }
  let matches: boolean;
  try {
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    matches = fromKey.equals(cert.publicKey.export({ type: 'spki', format: 'der' }));
  } catch (err: unknown) {
    throw new UsageError(`--tls-key ${options.tlsKey}: not an unencrypted PEM private key (${(err as Error).message})`, { cause: err });
  }
  if (!matches) throw new UsageError(`--tls-key ${options.tlsKey} is not the key of --tls-cert ${options.tlsCert}`);
  return notes;
}

/** docker-registry takes bcrypt lines only: an MD5 or SHA line from plain `htpasswd` never logs in. */
async function checkHtpasswd(file: string, given: string): Promise<string[]> {
  const text = await readIfExists(file);
  if (text === undefined) return [`${file} is not on this machine: its entries were not checked`];
  const lines = text.split('\n').map((l, i) => ({ l: l.trim(), n: i + 1 })).filter(({ l }) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new UsageError(`--htpasswd ${given} has no entries: nobody could log in`, { hint: 'add one with: htpasswd -B FILE USER' });
  const bad = lines.find(({ l }) => !/^[^:]+:\$2[aby]\$/.test(l));
  if (bad !== undefined) throw new UsageError(`--htpasswd ${given}:${bad.n}: not a bcrypt entry; docker-registry accepts bcrypt only`, { hint: 'write it again with: htpasswd -B FILE USER' });
  return [];
}

export async function renderRegistryConfig(options: RegistryConfigOptions): Promise<Rendering> {
  const { host, prefix } = parseRegistryLocation(options.registry);
  if (prefix !== undefined) throw new UsageError(`--registry ${options.registry}: a registry server has no path prefix; give HOST[:PORT]`, { hint: 'the prefix is given to load and deploy, which put images under it' });
  const hostname = hostnameOf(host);
  const port = host.slice(host.lastIndexOf(']') + 1).match(/:(\d+)$/)?.[1] ?? '443';
  const listen = options.listen ?? `:${port}`;
  if (!/^(\[[0-9a-fA-F:]+\]|[^:\s]*):\d+$/.test(listen)) throw new UsageError(`--listen ${listen}: expected [IP]:PORT, e.g. :443 or 10.0.0.5:5000`);
  const certFile = resolve(options.tlsCert);
  const keyFile = resolve(options.tlsKey);
  const htpasswd = options.htpasswd === undefined ? undefined : resolve(options.htpasswd);
  const notes = [
    ...(await checkTls(options, certFile, keyFile, hostname)),
    ...(htpasswd === undefined ? ['no --htpasswd: anyone who reaches the registry can pull and push'] : await checkHtpasswd(htpasswd, options.htpasswd ?? htpasswd)),
  ];
  const content = renderTemplate('registry-config.yml', {
    tool: TOOL_NAME,
    registry: host,
    url: `https://${host}`,
    addr: listen,
    storage_dir: resolve(options.storageDir ?? DEFAULT_STORAGE_DIR),
    tls_cert: certFile,
    tls_key: keyFile,
    htpasswd: htpasswd ?? '',
    realm: `${hostname} registry`,
  });
  return { files: [{ path: 'config.yml', content, installPath: '/etc/docker/registry/config.yml' }], notes };
}
