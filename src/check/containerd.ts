/**
 * `airgap check --containerd-config DIR`: reads the hosts.toml files containerd (or MicroK8s) will read
 * from DIR, as containerd reads them (docs/hosts.md): is there one for the private registry, does it
 * name it over HTTPS, is the CA it needs there and a certificate (the one --ca-file names, when given),
 * and does each public registry mirrored to it reach REGISTRY/v2[/PREFIX] with override_path.
 */
import { X509Certificate } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { parseRegistryLocation } from '../reference.ts';
import { result, type CheckResult } from './types.ts';

export interface ContainerdCheckOptions {
  /** The certs.d directory: HOST directories inside. */
  dir: string;
  /** HOST[:PORT][/PREFIX]; undefined: no --registry, nothing to compare with. */
  registry: string | undefined;
  caFiles?: readonly string[];
}

interface HostEntry {
  url: URL;
  ca: string[];
  overridePath: boolean;
  skipVerify: boolean;
  capabilities: string[] | undefined;
}

interface HostsFile {
  dir: string;
  /** Configured [host."..."] entries in file order, then the server. */
  entries: HostEntry[];
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function entryOf(url: string, table: Record<string, unknown>): HostEntry | undefined {
  let parsed: URL;
  try {
    parsed = new URL(/^https?:\/\//.test(url) ? url : `https://${url}`);
  } catch {
    return undefined;
  }
  const capabilities = table['capabilities'];
  return {
    url: parsed,
    ca: strings(table['ca']),
    overridePath: table['override_path'] === true,
    skipVerify: table['skip_verify'] === true,
    capabilities: Array.isArray(capabilities) ? strings(capabilities) : undefined,
  };
}

/** `https://reg` and `reg:443` are one host to containerd; URL drops the default port. */
function sameHost(url: URL, host: string): boolean {
  return url.host === host || (url.port === '' && host === `${url.hostname}:${url.protocol === 'http:' ? 80 : 443}`);
}

async function readHostsFile(dir: string): Promise<HostsFile | { error: string } | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, 'hosts.toml'), 'utf8');
  } catch {
    return undefined;
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err: unknown) {
    // containerd then falls back to the directory's *.crt files, silently: say so.
    return { error: `${join(dir, 'hosts.toml')} is not valid TOML, so containerd ignores it: ${(err as Error).message.split('\n')[0] ?? ''}` };
  }
  const entries: HostEntry[] = [];
  const hosts = doc['host'];
  if (typeof hosts !== 'object' || hosts === null || Array.isArray(hosts)) {
    return { error: `${join(dir, 'hosts.toml')} has no [host."https://..."] table: containerd 1.6 rejects such a file ("invalid \`host\` tree") and pulls with its defaults` };
  }
  if (typeof hosts === 'object' && hosts !== null && !Array.isArray(hosts)) {
    for (const [url, table] of Object.entries(hosts as Record<string, unknown>)) {
      if (typeof table !== 'object' || table === null) continue;
      const entry = entryOf(url, table as Record<string, unknown>);
      if (entry !== undefined) entries.push(entry);
    }
  }
  if (typeof doc['server'] === 'string') {
    const entry = entryOf(doc['server'], doc);
    if (entry !== undefined) entries.push(entry);
  }
  return { dir, entries };
}

/** The directory containerd uses for `host`: HOST_PORT_ first, then HOST:PORT, then _default (config_unix.go). */
async function hostDirectory(root: string, host: string): Promise<string | undefined> {
  const colon = host.lastIndexOf(':');
  const candidates = [...(colon > 0 && !host.endsWith(']') ? [`${host.slice(0, colon)}_${host.slice(colon + 1)}_`] : []), host, '_default'];
  for (const candidate of candidates) {
    try {
      if ((await stat(join(root, candidate))).isDirectory()) return join(root, candidate);
    } catch {
      // Not this one.
    }
  }
  return undefined;
}

async function caProblems(entry: HostEntry, dir: string, wanted: readonly X509Certificate[]): Promise<{ detail: string; problem: string | undefined }> {
  if (entry.skipVerify) return { detail: 'skip_verify = true', problem: 'skip_verify = true: the registry\'s certificate is not checked at all' };
  if (entry.ca.length === 0) {
    return wanted.length > 0
      ? { detail: 'no ca', problem: `it names no ca, so containerd trusts only the system store, which --ca-file ${wanted.length === 1 ? 'was' : 'were'} given for` }
      : { detail: 'no ca: the system trust store', problem: undefined };
  }
  const found: X509Certificate[] = [];
  for (const file of entry.ca) {
    const path = isAbsolute(file) ? file : join(dir, file);
    let pem: string;
    try {
      pem = await readFile(path, 'utf8');
    } catch {
      return { detail: `ca ${file}`, problem: `its ca ${path} does not exist: every pull fails with x509: certificate signed by unknown authority` };
    }
    try {
      found.push(new X509Certificate(pem));
    } catch {
      return { detail: `ca ${file}`, problem: `its ca ${path} is not a PEM certificate` };
    }
  }
  if (wanted.length > 0 && !wanted.some((w) => found.some((f) => f.fingerprint256 === w.fingerprint256))) {
    return { detail: `ca ${entry.ca.join(', ')}`, problem: `its ca (${found.map((f) => f.subject.replaceAll('\n', ', ')).join('; ')}) is not the --ca-file certificate` };
  }
  return { detail: `ca ${entry.ca.join(', ')} (${found.map((f) => f.subject.replaceAll('\n', ', ')).join('; ')})`, problem: undefined };
}

export async function checkContainerdConfig(options: ContainerdCheckOptions): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const section = 'containerd';
  const fixAll = (registry: string): string => `airgap config containerd --registry ${registry} --ca-file CA -o ${options.dir} (MicroK8s: airgap config microk8s)`;
  try {
    if (!(await stat(options.dir)).isDirectory()) throw new Error('not a directory');
  } catch {
    out.push(result(section, 'fail', 'hosts directory', `${options.dir} is not a directory`, 'give the certs.d directory containerd reads (its config_path): /etc/containerd/certs.d, or /var/snap/microk8s/current/args/certs.d'));
    return out;
  }
  if (options.registry === undefined) {
    out.push(result(section, 'skip', 'registry host', 'no --registry given: nothing to look for'));
    return out;
  }
  const { host, prefix } = parseRegistryLocation(options.registry);
  const wanted: X509Certificate[] = [];
  for (const file of options.caFiles ?? []) {
    try {
      wanted.push(new X509Certificate(await readFile(file, 'utf8')));
    } catch {
      // A --ca-file that cannot be read is the registry section's to report.
    }
  }

  const dir = await hostDirectory(options.dir, host);
  const own = dir === undefined ? undefined : await readHostsFile(dir);
  if (own === undefined || 'error' in own) {
    const detail = own !== undefined && 'error' in own ? own.error : `no ${host}/hosts.toml (nor _default/) in ${options.dir}: containerd uses https://${host} with the system trust store`;
    out.push(result(section, wanted.length > 0 || (own !== undefined && 'error' in own) ? 'fail' : 'warn', 'registry host', detail, fixAll(options.registry)));
  } else {
    const entry = own.entries.find((e) => sameHost(e.url, host));
    if (entry === undefined) {
      out.push(result(section, 'fail', 'registry host', `${join(own.dir, 'hosts.toml')} does not name ${host}: it sends pulls to ${own.entries.map((e) => e.url.origin).join(', ') || 'nothing'}`, fixAll(options.registry)));
    } else if (entry.url.protocol !== 'https:') {
      out.push(result(section, 'fail', 'registry host', `${join(own.dir, 'hosts.toml')} reaches ${host} over ${entry.url.protocol.replace(':', '')}, not HTTPS`, fixAll(options.registry)));
    } else {
      out.push(result(section, 'ok', 'registry host', `${join(own.dir, 'hosts.toml')} sends pulls of ${host} to ${entry.url.origin}`));
      const ca = await caProblems(entry, own.dir, wanted);
      out.push(result(section, ca.problem === undefined ? 'ok' : 'fail', 'registry CA', ca.problem === undefined ? ca.detail : `${join(own.dir, 'hosts.toml')}: ${ca.problem}`, ca.problem === undefined ? undefined : fixAll(options.registry)));
    }
  }

  // Other host directories whose hosts.toml sends pulls to the registry: the mirrors.
  const apiRoot = `/v2${prefix === undefined ? '' : `/${prefix}`}`;
  const names = (await readdir(options.dir, { withFileTypes: true })).filter((d) => d.isDirectory() && join(options.dir, d.name) !== dir).map((d) => d.name).sort();
  for (const name of names) {
    const file = await readHostsFile(join(options.dir, name));
    if (file === undefined || 'error' in file) continue;
    const entry = file.entries.find((e) => sameHost(e.url, host));
    if (entry === undefined) continue;
    const path = entry.url.pathname.replace(/\/+$/, '');
    const problems: string[] = [];
    if (!entry.overridePath) problems.push(`no override_path = true: containerd appends /v2 again`);
    if (path !== apiRoot) problems.push(`its path is ${path || '/'}, not ${apiRoot} where airgap load put the images`);
    if (entry.capabilities !== undefined && !(entry.capabilities.includes('pull') && entry.capabilities.includes('resolve'))) problems.push('its capabilities lack pull and resolve');
    const ca = await caProblems(entry, file.dir, wanted);
    if (ca.problem !== undefined) problems.push(ca.problem);
    const detail = `${name}/... is pulled from ${entry.url.origin}${path}`;
    out.push(problems.length === 0
      ? result(section, 'ok', `mirror ${name}`, `${detail}, ${ca.detail}`)
      : result(section, 'fail', `mirror ${name}`, `${detail}: ${problems.join('; ')}`, `airgap config containerd --registry ${options.registry} --mirror-for ${name} --ca-file CA -o ${options.dir}`));
  }
  return out;
}
