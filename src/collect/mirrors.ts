/**
 * Where each image is pulled from on the online side. Companies reach docker.io, gcr.io, ghcr.io... through a
 * pull-through cache (Artifactory, Nexus, Harbor): `--mirror REGISTRY=MIRROR[/PREFIX]` and the mirrors of
 * containers-registries.conf(5) map an upstream reference to the places it is fetched from, in order. The lock
 * still records the upstream reference and the digest: a mirror changes the route, never the image.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { AirgapError, UsageError, messageOf } from '../errors.ts';
import { parseReference, parseRegistryLocation } from '../reference.ts';

export const DEFAULT_REGISTRIES_CONF = '/etc/containers/registries.conf';
/** containers-registries.conf.d(5): drop-in files read after the main one, in alphanumeric order. */
export const DEFAULT_REGISTRIES_CONF_DIR = '/etc/containers/registries.conf.d';

export interface PullSource {
  /** Registry host to speak the distribution API to. */
  registry: string;
  repository: string;
  /** What this source is, for messages: `mirror 127.0.0.1:5001 (--mirror docker.io)`. */
  via: string | undefined;
}

interface MirrorLocation {
  location: string;
  /** containers' pull-from-mirror: which references may be pulled from this mirror. */
  pull: 'all' | 'digest-only' | 'tag-only';
}

export interface MirrorRule {
  /** `docker.io`, `docker.io/library`, `*.example.com` */
  prefix: string;
  mirrors: MirrorLocation[];
  /** Where the prefix itself is pulled from when no mirror serves it; undefined when blocked. */
  location: string | undefined;
  /** Where the rule was written, for messages. */
  origin: string;
  /** A --mirror flag: explicit, so it wins over registries.conf. */
  fromFlag: boolean;
}

export interface MirrorMap {
  rules: MirrorRule[];
  /** Hosts that registries.conf marks insecure: spoken to in plain HTTP. */
  insecureHosts: string[];
}

const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io']);

function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  const [host = '', ...rest] = trimmed.split('/');
  return [DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host, ...rest].join('/');
}

/** `--mirror REGISTRY=MIRROR[/PREFIX]`: the image is pulled from the mirror only (a pull-through cache serves everything). */
export function parseMirrorFlag(text: string): MirrorRule {
  const eq = text.indexOf('=');
  const bad = (why: string): UsageError => new UsageError(`--mirror ${text}: ${why}`, { hint: 'write it as REGISTRY=MIRROR[/PREFIX], e.g. --mirror docker.io=artifactory.example.com/dockerhub' });
  if (eq <= 0 || eq === text.length - 1) throw bad('expected REGISTRY=MIRROR[/PREFIX]');
  const prefix = text.slice(0, eq);
  const location = text.slice(eq + 1);
  for (const value of [prefix, location]) {
    try {
      parseRegistryLocation(value);
    } catch (err: unknown) {
      throw bad(messageOf(err));
    }
  }
  return { prefix: normalisePrefix(prefix), mirrors: [{ location: location.replace(/\/+$/, ''), pull: 'all' }], location: undefined, origin: `--mirror ${prefix}`, fromFlag: true };
}

function fieldOf(table: Record<string, unknown>, key: string, file: string, where: string): string | undefined {
  const value = table[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new AirgapError(`${file}: ${where} ${key} must be a string`, { hint: 'see containers-registries.conf(5)' });
  return value;
}

/**
 * The `[[registry]]` tables of a registries.conf (version 2): each `prefix` (or `location`) with its
 * `[[registry.mirror]]` locations; `location` other than the prefix redirects it; `blocked` stops the fallback.
 * A missing file is no mirrors; a file that is not TOML is an error naming the line.
 */
export async function readRegistriesConf(file: string): Promise<MirrorMap> {
  return flatten(await readRegistryTables(file));
}

/** A rule of a registries.conf with the hosts it marks insecure: a later drop-in replaces both. */
interface RegistryTable {
  rule: MirrorRule;
  insecureHosts: string[];
}

function flatten(tables: readonly RegistryTable[]): MirrorMap {
  return { rules: tables.map((t) => t.rule), insecureHosts: [...new Set(tables.flatMap((t) => t.insecureHosts))] };
}

async function readRegistryTables(file: string): Promise<RegistryTable[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'ENOENT') return [];
    throw new AirgapError(`cannot read ${file}: ${messageOf(err)}`, { cause: err, hint: 'fix its permissions, or point CONTAINERS_REGISTRIES_CONF at another file' });
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (err: unknown) {
    const line = err instanceof TomlError ? `:${err.line}` : '';
    throw new AirgapError(`${file}${line}: not valid TOML: ${messageOf(err).split('\n')[0] ?? ''}`, { cause: err, hint: 'fix the file (see containers-registries.conf(5)), or point CONTAINERS_REGISTRIES_CONF at another file' });
  }
  const tables: RegistryTable[] = [];
  const registries = doc['registry'];
  if (registries === undefined) return tables;
  if (!Array.isArray(registries)) throw new AirgapError(`${file}: registry must be an array of tables ([[registry]])`, { hint: 'see containers-registries.conf(5), version 2' });
  registries.forEach((entry: unknown, index) => {
    const where = `[[registry]] #${index + 1}`;
    if (typeof entry !== 'object' || entry === null) throw new AirgapError(`${file}: ${where} must be a table`);
    const table = entry as Record<string, unknown>;
    const location = fieldOf(table, 'location', file, where);
    const prefix = fieldOf(table, 'prefix', file, where) ?? location;
    if (prefix === undefined) throw new AirgapError(`${file}: ${where} has neither prefix nor location`, { hint: 'see containers-registries.conf(5)' });
    const digestOnly = table['mirror-by-digest-only'] === true;
    const mirrors: MirrorLocation[] = [];
    const insecureHosts: string[] = [];
    const list = table['mirror'];
    if (list !== undefined && !Array.isArray(list)) throw new AirgapError(`${file}: ${where} mirror must be an array of tables ([[registry.mirror]])`);
    for (const [mirrorIndex, raw] of (Array.isArray(list) ? list : []).entries()) {
      if (typeof raw !== 'object' || raw === null) throw new AirgapError(`${file}: ${where} mirror #${mirrorIndex + 1} must be a table`);
      const mirror = raw as Record<string, unknown>;
      const mirrorLocation = fieldOf(mirror, 'location', file, `${where} mirror #${mirrorIndex + 1}`);
      if (mirrorLocation === undefined) throw new AirgapError(`${file}: ${where} mirror #${mirrorIndex + 1} has no location`);
      const pull = fieldOf(mirror, 'pull-from-mirror', file, `${where} mirror #${mirrorIndex + 1}`) ?? (digestOnly ? 'digest-only' : 'all');
      if (pull !== 'all' && pull !== 'digest-only' && pull !== 'tag-only') throw new AirgapError(`${file}: ${where} pull-from-mirror must be all, digest-only or tag-only`);
      mirrors.push({ location: mirrorLocation.replace(/\/+$/, ''), pull });
      if (mirror['insecure'] === true) insecureHosts.push(mirrorLocation.split('/')[0] ?? mirrorLocation);
    }
    if (table['insecure'] === true) insecureHosts.push((location ?? prefix).split('/')[0] ?? prefix);
    const blocked = table['blocked'] === true;
    tables.push({ rule: { prefix: normalisePrefix(prefix), mirrors, location: blocked ? undefined : (location ?? prefix).replace(/\/+$/, ''), origin: `${file} ${where}`, fromFlag: false }, insecureHosts });
  });
  return tables;
}

/** Where one scope (the machine's, or the user's) keeps its registries.conf and its drop-in directory. */
export interface RegistriesConfLocation {
  file: string;
  dropInDir: string;
}

/**
 * The user's own configuration, as containers/image finds it: under $XDG_CONFIG_HOME (when absolute), else
 * ~/.config, in containers/.
 */
export function userRegistriesConf(env: NodeJS.ProcessEnv = process.env): RegistriesConfLocation {
  const xdg = env['XDG_CONFIG_HOME'];
  const config = xdg !== undefined && xdg.startsWith('/') ? xdg : join(env['HOME'] ?? homedir(), '.config');
  return { file: join(config, 'containers', 'registries.conf'), dropInDir: join(config, 'containers', 'registries.conf.d') };
}

/**
 * The registries configuration as podman and skopeo read it (containers-registries.conf.d(5)): `file` given (the
 * plan's registriesConf, or CONTAINERS_REGISTRIES_CONF) is read alone, as containers/image reads a configuration
 * it is pointed at. Otherwise the user's ~/.config/containers/registries.conf when it exists, then the user's
 * drop-ins; else /etc/containers/registries.conf, its drop-ins, then the user's drop-ins. Drop-ins are the
 * `*.conf` files of a registries.conf.d, in alphanumeric order, a `[[registry]]` of a later file replacing the
 * one of the same prefix before it.
 */
export async function readSystemRegistriesConf(
  file: string | undefined,
  locations: { system: RegistriesConfLocation; user: RegistriesConfLocation } = { system: { file: DEFAULT_REGISTRIES_CONF, dropInDir: DEFAULT_REGISTRIES_CONF_DIR }, user: userRegistriesConf() },
): Promise<MirrorMap> {
  if (file !== undefined) return readRegistriesConf(file);
  const { system, user } = locations;
  const userFile = await exists(user.file);
  let merged = await readRegistryTables(userFile ? user.file : system.file);
  for (const dir of userFile ? [user.dropInDir] : [system.dropInDir, user.dropInDir]) {
    for (const name of await dropIns(dir)) {
      const dropIn = await readRegistryTables(join(dir, name));
      const replaced = new Set(dropIn.map((t) => t.rule.prefix));
      merged = [...merged.filter((t) => !replaced.has(t.rule.prefix)), ...dropIn];
    }
  }
  return flatten(merged);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err: unknown) {
    if (typeof err === 'object' && err !== null && 'code' in err && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return false;
    throw new AirgapError(`cannot read ${path}: ${messageOf(err)}`, { cause: err, hint: 'fix its permissions, or point CONTAINERS_REGISTRIES_CONF at one file' });
  }
}

/** The drop-in files of a registries.conf.d, in the order they are read; none when it is not there. */
async function dropIns(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => name.endsWith('.conf')).sort();
  } catch (err: unknown) {
    if (typeof err === 'object' && err !== null && 'code' in err && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return [];
    throw new AirgapError(`cannot read ${dir}: ${messageOf(err)}`, { cause: err, hint: 'fix its permissions, or point CONTAINERS_REGISTRIES_CONF at one file' });
  }
}

function matches(prefix: string, name: string): boolean {
  if (prefix.startsWith('*.')) {
    const host = name.split('/')[0] ?? '';
    return host.endsWith(prefix.slice(1));
  }
  return name === prefix || name.startsWith(`${prefix}/`);
}

function located(location: string, rest: string): { registry: string; repository: string } {
  const { host, prefix } = parseRegistryLocation(location);
  const repository = [prefix, rest].filter((part) => part !== undefined && part !== '').join('/');
  return { registry: DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host, repository };
}

/**
 * The places `upstream` (a full reference as collect pulls it) is fetched from, in order. A `--mirror` rule
 * wins over registries.conf; within each, the longest prefix. No rule: the upstream registry itself.
 */
export function pullSources(upstream: string, map: MirrorMap): PullSource[] {
  const ref = parseReference(upstream);
  const name = `${ref.registry}/${ref.repository}`;
  const flagRules = map.rules.filter((r) => r.fromFlag);
  const confRules = map.rules.filter((r) => !r.fromFlag);
  const best = (rules: MirrorRule[]): MirrorRule | undefined =>
    rules.filter((r) => matches(r.prefix, name)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
  const rule = best(flagRules) ?? best(confRules);
  if (rule === undefined) return [{ registry: ref.registry, repository: ref.repository, via: undefined }];
  const rest = rule.prefix.startsWith('*.') ? name.slice(name.indexOf('/') + 1) : name.slice(rule.prefix.length).replace(/^\//, '');
  const byDigest = ref.digest !== undefined;
  const sources: PullSource[] = rule.mirrors
    .filter((m) => m.pull === 'all' || (m.pull === 'digest-only' ? byDigest : !byDigest))
    .map((m) => ({ ...located(m.location, rest), via: `mirror ${m.location} (${rule.origin})` }));
  if (rule.location !== undefined) {
    const primary = rule.prefix.startsWith('*.') ? { registry: ref.registry, repository: ref.repository } : located(rule.location, rest);
    sources.push({ ...primary, via: primary.registry === ref.registry && primary.repository === ref.repository ? undefined : `${rule.location} (${rule.origin})` });
  }
  if (sources.length === 0) {
    throw new AirgapError(`${upstream}: ${rule.origin} blocks ${rule.prefix} and offers no mirror for this reference`, { hint: 'add a mirror for it, or unblock the registry' });
  }
  return sources;
}
