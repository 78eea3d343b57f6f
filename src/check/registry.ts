/**
 * `airgap check`, registry part: every step between this machine and a push, in the order they can
 * fail — the name resolves, something answers, it speaks TLS, its certificate is trusted, the API is a
 * registry's, the credentials are accepted, a push goes through — each with its fix. A step that fails
 * ends the list: the later ones would only fail for the same reason.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AuthenticationError, RegistryError, messageOf } from '../errors.ts';
import { sha256Digest } from '../oci/digest.ts';
import { parseRegistryLocation } from '../reference.ts';
import { registryClientFor, type RegistryHost } from '../store/registry/client.ts';
import { lookupCredentials, type Credentials } from '../store/registry/credentials.ts';
import { trustFor, type TlsTrust } from '../store/registry/tls.ts';
import { probeTcp, probeTls } from './tls-probe.ts';
import { result, type CheckResult } from './types.ts';

export interface RegistryCheckOptions {
  /** HOST[:PORT][/PREFIX] */
  registry: string;
  caFiles?: readonly string[];
  certsDirs?: readonly string[];
  plainHttp?: readonly string[];
  /** From --username/--password-stdin; otherwise the docker and podman credential files are read. */
  credentials?: Credentials | undefined;
  dockerConfigPath?: string;
  /** Per network step; default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

/** The repository the test upload goes to. */
export const CHECK_REPOSITORY = 'airgap-check';
/** One byte, always the same: a registry that keeps it (deletes disabled) keeps one blob, however often check runs. */
const TEST_BLOB = Buffer.from('\n');

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'INVALID_CA',
]);

function splitHost(host: string): { hostname: string; port: number | undefined } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracketed !== null) return { hostname: bracketed[1] ?? host, port: bracketed[2] === undefined ? undefined : Number(bracketed[2]) };
  const colon = host.lastIndexOf(':');
  if (colon > 0 && host.indexOf(':') === colon) return { hostname: host.slice(0, colon), port: Number(host.slice(colon + 1)) };
  return { hostname: host, port: undefined };
}

function isPlain(patterns: readonly string[], host: string, hostname: string): boolean {
  return patterns.some((p) => p === host || p === hostname);
}

function describeCredentials(credentials: Credentials, given: boolean): string {
  const who = 'password' in credentials ? `user ${credentials.username}` : `an identity token${credentials.username === undefined ? '' : ` of ${credentials.username}`}`;
  return `${who} (${given ? '--username' : 'from the docker/podman credential files'})`;
}

export async function checkRegistry(options: RegistryCheckOptions): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const add = (status: CheckResult['status'], what: string, detail: string, fix?: string): void => {
    out.push(result('registry', status, what, detail, fix));
  };
  const timeoutMs = options.timeoutMs ?? 10_000;
  let location: { host: string; prefix: string | undefined };
  try {
    location = parseRegistryLocation(options.registry);
  } catch (err: unknown) {
    add('fail', 'registry', messageOf(err), 'write it as HOST[:PORT][/PREFIX]');
    return out;
  }
  const { host } = location;
  const { hostname, port: givenPort } = splitHost(host);
  const plain = isPlain(options.plainHttp ?? [], host, hostname);
  const port = givenPort ?? (plain ? 80 : 443);
  const stopped = (...rest: string[]): CheckResult[] => {
    for (const what of rest) add('skip', what, 'not checked: see above');
    return out;
  };

  // 1. The name.
  if (isIP(hostname) !== 0) {
    add('ok', 'DNS', `${hostname} is an address: nothing to resolve`);
  } else {
    try {
      const addresses = await lookup(hostname, { all: true });
      add('ok', 'DNS', `${hostname} resolves to ${addresses.map((a) => a.address).join(', ')}`);
    } catch (err: unknown) {
      const code = (err as { code?: unknown }).code;
      add('fail', 'DNS', `${hostname} does not resolve (${typeof code === 'string' ? code : messageOf(err)})`, `add ${hostname} to the site DNS or to /etc/hosts, here and on every cluster node`);
      return stopped(plain ? 'answers HTTP' : 'answers HTTPS', 'credentials', 'push');
    }
  }

  // 2. Something listening, 3. speaking TLS, 4. with a certificate we trust.
  const tcp = await probeTcp(hostname, port, timeoutMs);
  if (!tcp.ok) {
    add('fail', plain ? 'answers HTTP' : 'answers HTTPS', `nothing answers on ${hostname}:${port} (${tcp.code})`, `check that the registry runs and listens on ${host}, and that no firewall between here and it drops the port`);
    return stopped('credentials', 'push');
  }
  let trust: TlsTrust = { ca: undefined, sources: [] };
  if (plain) {
    tcp.socket.destroy();
    add('ok', 'answers HTTP', `${host} is spoken to in plain HTTP (--plain-http): every node's container runtime must also be told it is an http registry`);
  } else {
    trust = await trustFor(host, { caFiles: [...(options.caFiles ?? [])], ...(options.certsDirs === undefined ? {} : { certsDirs: [...options.certsDirs] }) });
    const tls = await probeTls(tcp.socket, isIP(hostname) === 0 ? hostname : undefined, trust, timeoutMs);
    if (!tls.ok) {
      const notTls = /wrong version number|packet length too long|unknown protocol|ECONNRESET/i.test(`${tls.code} ${tls.message}`);
      add('fail', 'answers HTTPS', `${host} does not complete a TLS handshake (${tls.code}${notTls ? ': it looks like plain HTTP' : ''})`,
        notTls ? `if ${host} is a plain-HTTP registry, pass --plain-http ${host} (and configure every node's container runtime for it)` : `check the TLS set-up of the registry at ${host}`);
      return stopped('certificate trusted', 'credentials', 'push');
    }
    add('ok', 'answers HTTPS', `${host} answers TLS (${tls.protocol ?? 'TLS'})`);
    const fixTrust = `pass --ca-file CA.pem, or put the CA in /etc/docker/certs.d/${host}/ca.crt; the nodes need it too (/etc/containerd/certs.d/${host}/ca.crt)`;
    if (tls.authorized) {
      const via = trust.sources.length === 0 ? 'the system trust store' : trust.sources.join(', ');
      add('ok', 'certificate trusted', `issued by ${tls.issuer}, trusted through ${via}; valid until ${tls.validTo}`);
    } else {
      const code = tls.authorizationError ?? 'UNKNOWN';
      if (UNTRUSTED.has(code)) add('fail', 'certificate trusted', `the certificate of ${host} (issued by ${tls.issuer}) is signed by no CA trusted here (${code})`, fixTrust);
      else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') add('fail', 'certificate trusted', `the certificate of ${host} ${code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not yet valid'} (valid until ${tls.validTo})`, `renew the certificate of ${host}, or check the clock of this machine`);
      else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') add('fail', 'certificate trusted', `the certificate of ${host} is issued for ${tls.subject}, not for ${hostname} (${code})`, `use the name the certificate names, or reissue it with ${hostname} in its subjectAltName`);
      else add('fail', 'certificate trusted', `the certificate of ${host} is not accepted (${code})`, fixTrust);
      return stopped('credentials', 'push');
    }
  }

  const client = registryClientFor(options, {
    host,
    credentials: options.credentials,
    // A check wants the first answer, not five patient retries.
    retry: { retries: 0, baseDelayMs: 100, maxDelayMs: 100 },
  });
  try {
    const registry = client.host(host);
    const credentials = options.credentials ?? (await lookupCredentials(host, { ...(options.dockerConfigPath === undefined ? {} : { configPath: options.dockerConfigPath }) }));
    if (!(await checkCredentials(registry, credentials, options.credentials !== undefined, add))) return stopped('push');
    const repository = location.prefix === undefined ? CHECK_REPOSITORY : `${location.prefix}/${CHECK_REPOSITORY}`;
    await checkPush(registry, repository, add);
  } finally {
    await client.close();
  }
  return out;
}

type Add = (status: CheckResult['status'], what: string, detail: string, fix?: string) => void;

/** True when the API answers as a registry and lets us in (with the credentials, or without any). */
async function checkCredentials(registry: RegistryHost, credentials: Credentials | undefined, given: boolean, add: Add): Promise<boolean> {
  // Anonymous first: whether the registry asks for credentials at all is worth saying.
  let anonymous: number;
  let apiVersion: string | undefined;
  try {
    ({ status: anonymous, apiVersion } = await registry.ping({ anonymous: true }));
  } catch (err: unknown) {
    add('fail', 'registry API', `GET ${registry.baseUrl}/v2/ failed: ${messageOf(err)}`, 'check the registry and any proxy between here and it (HTTPS_PROXY, NO_PROXY)');
    return false;
  }
  if (anonymous !== 200 && anonymous !== 401) {
    add('fail', 'registry API', `GET ${registry.baseUrl}/v2/ answered ${anonymous}${apiVersion === undefined ? ': this is not a registry API' : ''}`, 'check that the address is the registry itself, not a web server or proxy in front of it');
    return false;
  }
  if (anonymous === 200) {
    add('ok', 'credentials', given ? 'the registry lets anyone in: the credentials given were not needed' : 'the registry asks for none (anonymous access)');
    return true;
  }
  if (credentials === undefined) {
    add('fail', 'credentials', `${registry.host} asks for credentials and none were given or found in ~/.docker/config.json`, `pass --username USER --password-stdin, or run docker login ${registry.host}`);
    return false;
  }
  try {
    const { status } = await registry.ping({ anonymous: false });
    if (status !== 200) {
      add('fail', 'credentials', `GET /v2/ with ${describeCredentials(credentials, given)} answered ${status}`);
      return false;
    }
  } catch (err: unknown) {
    if (err instanceof AuthenticationError) {
      add('fail', 'credentials', `${registry.host} refused ${describeCredentials(credentials, given)}`, `check the user and password (--username USER --password-stdin), or run docker login ${registry.host} again`);
      return false;
    }
    add('fail', 'credentials', messageOf(err));
    return false;
  }
  add('ok', 'credentials', `accepted: ${describeCredentials(credentials, given)}`);
  return true;
}

async function checkPush(registry: RegistryHost, repository: string, add: Add): Promise<void> {
  const digest = sha256Digest(TEST_BLOB);
  try {
    await registry.putBlob(repository, { mediaType: 'application/octet-stream', digest, size: TEST_BLOB.length }, [TEST_BLOB], { what: 'push check' });
  } catch (err: unknown) {
    const status = err instanceof RegistryError ? err.status : undefined;
    if (err instanceof AuthenticationError || status === 401 || status === 403) {
      add('fail', 'push', `${registry.host} refused a test upload to ${repository} (${status ?? 'denied'}): the account may pull but not push`, 'use an account allowed to push (airgap load pushes every image)');
    } else {
      add('fail', 'push', `a test upload to ${registry.host}/${repository} failed: ${messageOf(err)}`, 'see the registry log; check its storage is writable and not full');
    }
    return;
  }
  try {
    const status = await registry.deleteBlob(repository, digest, 'push check clean-up');
    if (status === 202 || status === 200) {
      add('ok', 'push', `allowed: a 1-byte test blob was uploaded to ${repository} and deleted`);
      return;
    }
    if (status === 405) {
      add('warn', 'push', `allowed, but the 1-byte test blob ${digest} was left in ${repository}: the registry has deletes disabled`, 'harmless: the registry\'s garbage collection removes it');
      return;
    }
    add('warn', 'push', `allowed, but the 1-byte test blob ${digest} could not be deleted from ${repository} (${status}) and was left there`, 'harmless: the registry\'s garbage collection removes it');
  } catch (err: unknown) {
    const status = err instanceof RegistryError ? err.status : undefined;
    const why = status === 405 ? 'the registry has deletes disabled' : messageOf(err);
    add('warn', 'push', `allowed, but the 1-byte test blob ${digest} was left in ${repository}: ${why}`, 'harmless: the registry\'s garbage collection removes it');
  }
}
