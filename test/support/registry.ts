/**
 * A real CNCF distribution registry (Debian's docker-registry 2.8) on a loopback port, plain HTTP or HTTPS,
 * anonymous or htpasswd basic auth.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, isListeningOn, run, startManagedProcess } from './process.ts';
import { sleep } from '../../src/util/sleep.ts';
import type { ManagedProcess } from './process.ts';
import { makeTempDir } from './tmp.ts';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface RegistryOptions {
  tls?: { certFile: string; keyFile: string };
  htpasswd?: { username: string; password: string };
  /** Where blobs are stored; reuse one to restart a registry over the same content. Default: a temp dir removed by stop(). */
  storageDir?: string;
  /** `auth: token`: the registry wants bearer tokens from `realm`, signed by the key of `rootCertFile`'s certificate. */
  token?: { realm: string; service: string; issuer: string; rootCertFile: string };
  /** The `redirect` storage middleware: blob GETs and HEADs are answered 307 to this base URL + the storage path. */
  redirectBaseUrl?: string;
}

export interface RunningRegistry {
  /** '127.0.0.1:PORT' */
  host: string;
  /** 'http://127.0.0.1:PORT' or 'https://127.0.0.1:PORT' */
  url: string;
  storageDir: string;
  /** Kills the registry and waits for it to exit; removes the temp dirs it made. Safe to call twice. */
  stop(): Promise<void>;
  /** What the registry printed: warnings, errors and its access log (one line per request). */
  logs(): string;
}

/** A bcrypt line for an htpasswd file: docker-registry accepts nothing else. Uses apache2-utils' htpasswd. */
export async function bcryptHtpasswdLine(username: string, password: string): Promise<string> {
  // -i reads the password from stdin, so it never shows in a process listing.
  const { stdout } = await run('htpasswd', ['-niB', '-C', '5', username], { input: `${password}\n` });
  const line = stdout.toString('utf8').trim();
  if (!line.startsWith(`${username}:$2`)) {
    throw new Error(`htpasswd did not give a bcrypt line for ${username}`);
  }
  return line;
}

function configYaml(options: { port: number; rootDir: string; tls?: RegistryOptions['tls']; htpasswdFile?: string; token?: RegistryOptions['token']; redirectBaseUrl?: string }): string {
  // JSON strings are valid YAML scalars: paths with odd characters need no escaping rules of our own.
  const q = (s: string): string => JSON.stringify(s);
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${q(options.rootDir)}`,
    '  delete:',
    '    enabled: true',
    // No background upload purging: nothing should run that a test did not ask for.
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${q(`127.0.0.1:${options.port}`)}`,
    // A fixed secret silences the "No HTTP secret provided" warning, so logs() shows only what matters.
    `  secret: ${q(randomBytes(16).toString('hex'))}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
  ];
  if (options.tls) {
    lines.push('  tls:', `    certificate: ${q(options.tls.certFile)}`, `    key: ${q(options.tls.keyFile)}`);
  }
  if (options.htpasswdFile !== undefined) {
    lines.push('auth:', '  htpasswd:', '    realm: airgap-test', `    path: ${q(options.htpasswdFile)}`);
  }
  if (options.token !== undefined) {
    lines.push('auth:', '  token:', `    realm: ${q(options.token.realm)}`, `    service: ${q(options.token.service)}`,
      `    issuer: ${q(options.token.issuer)}`, `    rootcertbundle: ${q(options.token.rootCertFile)}`);
  }
  if (options.redirectBaseUrl !== undefined) {
    lines.push('middleware:', '  storage:', '    - name: redirect', '      options:', `        baseurl: ${q(options.redirectBaseUrl)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Status of GET /v2/, or undefined while nothing answers. The certificate is not checked: only liveness is. */
function probe(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(`${url}/v2/`, { method: 'GET', rejectUnauthorized: false, timeout: 2000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

function childEnv(): NodeJS.ProcessEnv {
  // REGISTRY_* variables override config.yml in distribution; one left in the environment would change the server.
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('REGISTRY_')) env[key] = value;
  }
  return env;
}

const BIND_FAILURE = /address already in use|bind:/i;

export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const work = await makeTempDir('airgap-registry-');
  const ownStorage = options.storageDir === undefined;
  const storageDir = options.storageDir ?? join(work.path, 'storage');
  try {
    await mkdir(storageDir, { recursive: true });
    let htpasswdFile: string | undefined;
    if (options.htpasswd) {
      htpasswdFile = join(work.path, 'htpasswd');
      await writeFile(htpasswdFile, `${await bcryptHtpasswdLine(options.htpasswd.username, options.htpasswd.password)}\n`, { mode: 0o600 });
    }
    const scheme = options.tls ? 'https' : 'http';

    let lastLogs = '';
    for (let attempt = 1; attempt <= 5; attempt++) {
      const port = await freePort();
      const configFile = join(work.path, 'config.yml');
      await writeFile(configFile, configYaml({
        port, rootDir: storageDir, tls: options.tls, ...(htpasswdFile === undefined ? {} : { htpasswdFile }),
        ...(options.token === undefined ? {} : { token: options.token }),
        ...(options.redirectBaseUrl === undefined ? {} : { redirectBaseUrl: options.redirectBaseUrl }),
      }));
      const child = startManagedProcess(REGISTRY_BINARY, ['serve', configFile], { cwd: work.path, env: childEnv(), cleanupDir: work.path });
      const host = `127.0.0.1:${port}`;
      const url = `${scheme}://${host}`;
      const up = await waitUntilUp(child, port, url, 30_000);
      if (up) {
        let stopped: Promise<void> | undefined;
        const stop = (): Promise<void> => {
          stopped ??= (async () => {
            await child.stop(5_000);
            // A caller's storageDir lives outside work.path and outlives the server, so it can be restarted over it.
            await work.remove();
          })();
          return stopped;
        };
        return { host, url, storageDir, stop, logs: () => child.logs() };
      }
      await child.stop(2_000);
      lastLogs = child.logs();
      if (!BIND_FAILURE.test(lastLogs)) break;
    }
    throw new Error(`docker-registry did not start:\n${lastLogs}`);
  } catch (err: unknown) {
    await work.remove();
    throw err;
  }
}

async function waitUntilUp(child: ManagedProcess, port: number, url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.hasExited()) return false;
    const status = await probe(url);
    // 401 is an htpasswd registry that is up and asking for credentials. The answer must come from our
    // process: another server that won the race for the port would answer the probe just as well.
    if ((status === 200 || status === 401) && (await isListeningOn(child.pid, port))) return true;
    await sleep(50);
  }
  return false;
}
