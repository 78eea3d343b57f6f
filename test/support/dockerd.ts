/**
 * A real Docker Engine (Debian's docker.io 20.10) on a private socket and data root, for `docker load` and the
 * dockerode path. vfs storage and no networking set-up: it needs root but no overlayfs, bridge or iptables.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { run, startManagedProcess } from './process.ts';
import { sleep } from '../../src/util/sleep.ts';
import type { RunOptions, RunResult } from './process.ts';
import { makeTempDir, removeDir } from './tmp.ts';

export const DOCKERD_BINARY = '/usr/sbin/dockerd';
/**
 * The docker.io client. A machine may have another `docker` earlier on PATH (here /usr/local/bin/docker 28):
 * the tests use the one that ships with the daemon they start, when it is there.
 */
export const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export interface RunningDockerd {
  /** The daemon's unix socket: `new Docker({ socketPath })` for dockerode. */
  socketPath: string;
  /** 'unix:///…/docker.sock', for DOCKER_HOST or `docker -H`. */
  host: string;
  /** The directory holding socket, data root and exec root (removed by stop()). */
  dir: string;
  /**
   * Runs the docker CLI against this daemon, with its own client config dir (so `docker login` here writes
   * nowhere else).
   */
  docker(args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Environment for other docker clients: DOCKER_HOST and DOCKER_CONFIG of this daemon. */
  env: { DOCKER_HOST: string; DOCKER_CONFIG: string };
  logs(): string;
  /** Terminates the daemon (and the containerd it started), waits for it, then removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

export interface DockerdOptions {
  /** Extra daemon flags, e.g. ['--insecure-registry=127.0.0.1:5000'] (loopback registries are already insecure-allowed). */
  extraArgs?: string[];
  /** How long to wait for the daemon to answer /_ping. Default 60 s. */
  timeoutMs?: number;
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Lists mount points under `dir` (deepest first): vfs and containerd can leave some, and rm cannot cross them. */
async function mountsUnder(dir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points: string[] = [];
  for (const line of text.split('\n')) {
    const point = line.split(' ')[4];
    // mountinfo escapes spaces and such as octal; our temp paths have none.
    if (point !== undefined && (point === dir || point.startsWith(`${dir}/`))) points.push(point);
  }
  return points.sort((a, b) => b.length - a.length);
}

/**
 * Starts dockerd in `dir` (created if missing). dockerd starts its own containerd under the exec root, so
 * nothing outside `dir` is used but /etc/docker/certs.d (read per push/pull for a registry's CA).
 */
export async function startDockerd(dir: string, options: DockerdOptions = {}): Promise<RunningDockerd> {
  await mkdir(dir, { recursive: true });
  const socketPath = join(dir, 'docker.sock');
  if (Buffer.byteLength(socketPath) > 100) {
    throw new Error(`${socketPath}: too long for a unix socket; start dockerd in a shorter directory`);
  }
  const configFile = join(dir, 'daemon.json');
  // An empty daemon config of our own: the machine's /etc/docker/daemon.json could set hosts or a data root.
  await writeFile(configFile, '{}\n');
  const clientConfig = join(dir, 'client');
  await mkdir(clientConfig, { recursive: true });
  await writeFile(join(clientConfig, 'config.json'), '{}\n');

  const args = [
    `--config-file=${configFile}`,
    '--storage-driver=vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-masq=false',
    '--bridge=none',
    `--host=unix://${socketPath}`,
    `--data-root=${join(dir, 'data')}`,
    `--exec-root=${join(dir, 'exec')}`,
    `--pidfile=${join(dir, 'docker.pid')}`,
    ...(options.extraArgs ?? []),
  ];
  // DOCKER_* in the environment would point the daemon's own client code elsewhere.
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('DOCKER_')) env[key] = value;
  }
  const child = startManagedProcess(DOCKERD_BINARY, args, { cwd: dir, env, cleanupDir: dir });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      // dockerd stops its containerd on SIGTERM; give it time before the group is killed.
      await child.stop(20_000);
      for (const point of await mountsUnder(dir)) {
        await run('umount', ['-l', point]).catch(() => undefined);
      }
      await removeDir(dir);
    })();
    return stopped;
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  try {
    for (;;) {
      if (child.hasExited()) throw new Error(`dockerd exited before it answered:\n${child.logs()}`);
      if (await ping(socketPath)) break;
      if (Date.now() > deadline) throw new Error(`dockerd did not answer /_ping in time:\n${child.logs()}`);
      await sleep(100);
    }
  } catch (err: unknown) {
    await stop();
    throw err;
  }

  const host = `unix://${socketPath}`;
  const clientEnv = { DOCKER_HOST: host, DOCKER_CONFIG: clientConfig };
  const docker = (dockerArgs: readonly string[], runOptions: RunOptions = {}): Promise<RunResult> => {
    const base: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(runOptions.env ?? process.env)) {
      if (!key.startsWith('DOCKER_')) base[key] = value;
    }
    return run(DOCKER_CLI, ['-H', host, ...dockerArgs], { ...runOptions, env: { ...base, ...clientEnv } });
  };
  return { socketPath, host, dir, docker, env: clientEnv, logs: () => child.logs(), stop };
}

let availability: Promise<string | undefined> | undefined;

/**
 * Why dockerd cannot run here, or undefined when it can: found by really starting one (once per process).
 * A suite may skip with this reason locally; CI installs docker.io and runs as root, so there it must be undefined.
 */
export function dockerAvailable(): Promise<string | undefined> {
  availability ??= (async () => {
    if (!existsSync(DOCKERD_BINARY)) return `${DOCKERD_BINARY} is not installed (Debian package docker.io)`;
    if (process.getuid?.() !== 0) return 'dockerd needs root, and the tests do not run as root';
    const tmp = await makeTempDir('airgap-dockerd-');
    try {
      const daemon = await startDockerd(tmp.path, { timeoutMs: 30_000 });
      await daemon.stop();
      return undefined;
    } catch (err: unknown) {
      const message = err instanceof Error ? err.message : String(err);
      return `dockerd does not start here: ${message.split('\n').slice(0, 6).join(' | ')}`;
    } finally {
      await tmp.remove();
    }
  })();
  return availability;
}

/**
 * Makes every Docker Engine on this machine trust `caFile` for registry `host` (HOST:PORT), the way a site
 * would: /etc/docker/certs.d/HOST/ca.crt, read by dockerd at each push and pull. Returns the undo.
 * Writes outside the test's directories, so only for the CI machine (root); the random port keeps it unique.
 */
export async function trustRegistryInDocker(host: string, caFile: string): Promise<() => Promise<void>> {
  const dir = join('/etc/docker/certs.d', host);
  await mkdir(dir, { recursive: true });
  await copyFile(caFile, join(dir, 'ca.crt'));
  return () => removeDir(dir);
}
