/**
 * Registry credentials from the files `docker login` and `podman login` write, so an operator who has
 * logged in once needs no flags.
 *
 * Order, as docker/cli's `ConfigFile.GetCredentialsStore` does it: a per-registry `credHelpers` entry, else
 * the `credsStore` helper, else the `auths` entry of the file. Docker stops at the helper; we fall through to
 * `auths` when a helper is not installed or has nothing for the host, because a config.json copied from a
 * Docker Desktop machine names `desktop` as its store and still carries usable `auths` entries.
 * Then podman/skopeo's auth.json, same format, as the last resort.
 */

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AirgapError, AuthenticationError } from '../../errors.ts';

export type Credentials = { username: string; password: string } | { identityToken: string; username?: string };

export interface LookupOptions {
  /** docker's config.json; default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  configPath?: string;
  /** The environment to read `DOCKER_CONFIG`, `REGISTRY_AUTH_FILE`, `XDG_*`, `HOME` and `PATH` from. */
  env?: NodeJS.ProcessEnv;
}

/** docker.io is stored under the v1 index URL by `docker login`, and helpers are asked for that URL. */
const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
/** Helpers normally answer at once; some ask a keyring or a pinentry first, so leave time for a human. */
const HELPER_TIMEOUT_MS = 60_000;

/** The part of config.json (or auth.json) read here; everything else in it is ignored. */
interface AuthFile {
  path: string;
  auths: Record<string, AuthEntry>;
  credHelpers: Record<string, string>;
  credsStore: string | undefined;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

export async function lookupCredentials(registryHost: string, options: LookupOptions = {}): Promise<Credentials | undefined> {
  const env = options.env ?? process.env;
  const host = registryHost.toLowerCase();
  for (const path of candidateFiles(options, env)) {
    const file = await readAuthFile(path);
    if (file === undefined) continue;
    const found = await fromFile(file, host, env);
    if (found !== undefined) return found;
  }
  return undefined;
}

function candidateFiles(options: LookupOptions, env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? homedir();
  const files: string[] = [];
  if (options.configPath !== undefined) files.push(options.configPath);
  else if (env.DOCKER_CONFIG) files.push(join(env.DOCKER_CONFIG, 'config.json'));
  else files.push(join(home, '.docker', 'config.json'));
  // containers-auth.json(5): REGISTRY_AUTH_FILE replaces the default; the runtime file is the default, and
  // $XDG_CONFIG_HOME/containers/auth.json is read after it.
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  else {
    if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
    files.push(join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'containers', 'auth.json'));
  }
  return files;
}

async function fromFile(file: AuthFile, host: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const hub = DOCKER_HUB_HOSTS.has(host);
  const serverUrl = hub ? DOCKER_HUB_SERVER : host;

  const helper = hub
    ? (file.credHelpers[DOCKER_HUB_SERVER] ?? firstOf(file.credHelpers, DOCKER_HUB_HOSTS))
    : file.credHelpers[host];
  if (helper !== undefined) {
    const found = await runHelper(helper, serverUrl, env);
    if (found !== undefined) return found;
  }
  if (file.credsStore !== undefined) {
    const found = await runHelper(file.credsStore, serverUrl, env);
    if (found !== undefined) return found;
  }

  const entry = findEntry(file.auths, host, hub);
  if (entry === undefined) return undefined;
  return fromEntry(entry.value, file.path, entry.key);
}

function firstOf(record: Record<string, string>, keys: Set<string>): string | undefined {
  for (const key of keys) {
    const value = record[key];
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * The `auths` entry for a host. docker's file store tries the exact key, then every key reduced to its host
 * (`https://host`, `http://host/v1/`). Keys with a repository path (`quay.io/org/app`, podman's per-repository
 * credentials) are not for the whole host and are skipped.
 */
function findEntry(auths: Record<string, AuthEntry>, host: string, hub: boolean): { key: string; value: AuthEntry } | undefined {
  const exact = hub ? DOCKER_HUB_SERVER : host;
  const direct = auths[exact];
  if (direct !== undefined) return { key: exact, value: direct };
  for (const [key, value] of Object.entries(auths)) {
    const keyHost = hostOfKey(key);
    if (keyHost === undefined) continue;
    if (hub ? DOCKER_HUB_HOSTS.has(keyHost) : keyHost === host) return { key, value };
  }
  return undefined;
}

function hostOfKey(key: string): string | undefined {
  const withoutScheme = key.replace(/^https?:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  if (slash < 0) return withoutScheme.toLowerCase();
  const path = withoutScheme.slice(slash + 1).replace(/\/+$/, '');
  if (path === '' || path === 'v1' || path === 'v2') return withoutScheme.slice(0, slash).toLowerCase();
  return undefined;
}

function fromEntry(entry: AuthEntry, path: string, key: string): Credentials | undefined {
  let username = entry.username;
  let password = entry.password;
  if (entry.auth !== undefined && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new AirgapError(`${path}: auths["${key}"].auth is not base64 of "user:password"`, {
        hint: `run docker login ${key} again, or remove that entry from ${path}`,
      });
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (entry.identitytoken !== undefined && entry.identitytoken !== '') {
    return username ? { identityToken: entry.identitytoken, username } : { identityToken: entry.identitytoken };
  }
  // `docker login` with a credsStore leaves an empty `{}` here: nothing to use.
  if (!username && !password) return undefined;
  return { username: username ?? '', password: password ?? '' };
}

async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new AirgapError(`cannot read ${path}: ${code ?? 'unknown error'}`, {
      hint: `check the permissions of ${path}`,
    });
  }
  if (text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err: unknown) {
    // The engine's message can quote the text around the error, which may be a password: keep only where.
    const where = err instanceof Error ? /\(line \d+ column \d+\)|at position \d+/.exec(err.message)?.[0] : undefined;
    throw new AirgapError(`${path} is not valid JSON${where === undefined ? '' : ` ${where}`}`, {
      hint: `fix or remove ${path}, then run docker login again`,
    });
  }
  return shapeOf(parsed, path);
}

function shapeOf(parsed: unknown, path: string): AuthFile {
  const bad = (what: string): AirgapError =>
    new AirgapError(`${path}: ${what}`, { hint: `fix or remove ${path}, then run docker login again` });
  if (!isRecord(parsed)) throw bad('is not a JSON object');

  const auths: Record<string, AuthEntry> = {};
  if (parsed.auths !== undefined && parsed.auths !== null) {
    if (!isRecord(parsed.auths)) throw bad('"auths" is not an object');
    for (const [key, value] of Object.entries(parsed.auths)) {
      if (!isRecord(value)) throw bad(`auths["${key}"] is not an object`);
      const entry: AuthEntry = {};
      for (const field of ['auth', 'username', 'password', 'identitytoken'] as const) {
        const v = value[field];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'string') throw bad(`auths["${key}"].${field} is not a string`);
        entry[field] = v;
      }
      auths[key] = entry;
    }
  }

  const credHelpers: Record<string, string> = {};
  if (parsed.credHelpers !== undefined && parsed.credHelpers !== null) {
    if (!isRecord(parsed.credHelpers)) throw bad('"credHelpers" is not an object');
    for (const [key, value] of Object.entries(parsed.credHelpers)) {
      if (typeof value !== 'string') throw bad(`credHelpers["${key}"] is not a string`);
      credHelpers[key.toLowerCase()] = value;
    }
  }

  let credsStore: string | undefined;
  if (parsed.credsStore !== undefined && parsed.credsStore !== null && parsed.credsStore !== '') {
    if (typeof parsed.credsStore !== 'string') throw bad('"credsStore" is not a string');
    credsStore = parsed.credsStore;
  }
  return { path, auths, credHelpers, credsStore };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The docker-credential-helpers protocol: `docker-credential-NAME get`, the server URL on stdin,
 * `{"ServerURL","Username","Secret"}` on stdout, or a non-zero exit with a message on stdout.
 * A helper that is not installed or has nothing for the server gives undefined, so the lookup goes on.
 */
async function runHelper(name: string, serverUrl: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  const result = await execHelper(program, serverUrl, env);
  if (result.kind === 'missing') return undefined;
  if (result.kind === 'timeout') {
    throw new AuthenticationError(`credential helper ${program} did not answer within ${HELPER_TIMEOUT_MS / 1000}s`, {
      hint: `check that ${program} works: echo ${serverUrl} | ${program} get`,
    });
  }
  if (result.code !== 0) {
    // On failure a helper prints an error message, never the secret: safe to quote, one short line.
    const said = oneLine(result.stdout || result.stderr);
    if (/credentials not found/i.test(said)) return undefined;
    throw new AuthenticationError(`credential helper ${program} failed for ${serverUrl}${said ? `: ${said}` : ''}`, {
      hint: `check that ${program} works (echo ${serverUrl} | ${program} get), or pass --username and --password-stdin`,
    });
  }
  let answer: unknown;
  try {
    answer = JSON.parse(result.stdout);
  } catch {
    // stdout of a successful helper holds the secret: it is not quoted.
    throw new AuthenticationError(`credential helper ${program} answered with something that is not JSON`, {
      hint: `check that ${program} works: echo ${serverUrl} | ${program} get`,
    });
  }
  if (!isRecord(answer)) {
    throw new AuthenticationError(`credential helper ${program} answered with something that is not a JSON object`, {
      hint: `check that ${program} works: echo ${serverUrl} | ${program} get`,
    });
  }
  const username = typeof answer.Username === 'string' ? answer.Username : '';
  const secret = typeof answer.Secret === 'string' ? answer.Secret : '';
  if (secret === '' && username === '') return undefined;
  // Helpers store an identity (refresh) token under this literal user name.
  if (username === '<token>') return { identityToken: secret };
  return { username, password: secret };
}

type HelperResult = { kind: 'missing' } | { kind: 'timeout' } | { kind: 'exited'; code: number; stdout: string; stderr: string };

function execHelper(program: string, input: string, env: NodeJS.ProcessEnv): Promise<HelperResult> {
  return new Promise((resolve) => {
    const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, HELPER_TIMEOUT_MS);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err: NodeJS.ErrnoException) => {
      // ENOENT: not on PATH; EACCES: on PATH but not executable. Either way there is no helper to ask.
      // Any other spawn failure is reported like a failing helper.
      clearTimeout(timer);
      if (err.code === 'ENOENT' || err.code === 'EACCES') resolve({ kind: 'missing' });
      else resolve({ kind: 'exited', code: 1, stdout: '', stderr: err.code ?? 'cannot start' });
    });
    // A helper that exits without reading stdin makes the write fail with EPIPE: its exit status tells.
    child.stdin.on('error', () => {});
    // Exactly what docker writes: the URL, no newline (helpers trim, but some compare the raw input).
    child.stdin.end(input);
    child.on('close', (code) => {
      clearTimeout(timer);
      // After an 'error' this resolve is a no-op: the first settlement stands.
      if (timedOut) resolve({ kind: 'timeout' });
      else {
        resolve({
          kind: 'exited',
          code: code ?? 1,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        });
      }
    });
  });
}

function oneLine(text: string): string {
  const line = text.trim().split('\n')[0]?.trim() ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}
