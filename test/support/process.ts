/**
 * Child processes for the test environment: one-shot commands (openssl, skopeo, docker) and long-running
 * servers (docker-registry, dockerd) that must never outlive the test process, even when a worker is killed.
 *
 * Kept free of vitest imports: scripts/bench.ts runs these helpers directly on Node.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/** Thrown when a command exits non-zero; carries what it printed so the failing assertion explains itself. */
export class CommandError extends Error {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  constructor(command: string, exitCode: number | null, stdout: string, stderr: string, cause?: unknown) {
    super(`${command} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || stdout.trim()}`, { cause });
    this.name = 'CommandError';
    this.command = command;
    this.exitCode = exitCode;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

/** Runs a command with an argv array (no shell) and returns stdout as bytes: skopeo --raw output is hashed. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const shown = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        encoding: 'buffer',
        maxBuffer: 256 * 1024 * 1024,
        timeout: options.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof err.code === 'number' ? err.code : null;
          reject(new CommandError(shown, code, stdout.toString('utf8'), stderr.toString('utf8'), err));
          return;
        }
        resolve({ stdout, stderr: stderr.toString('utf8') });
      },
    );
    // A command that exits without reading its input must not crash us with EPIPE: its exit code tells.
    child.stdin?.on('error', () => undefined);
    if (options.input !== undefined) {
      child.stdin?.end(options.input);
    } else {
      child.stdin?.end();
    }
  });
}

/** A port that was free a moment ago. Servers started on it must retry on a bind failure (another may take it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('listening on port 0 gave no port'));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Whether process `pid` holds a TCP socket listening on `port` (Linux /proc). Lets a readiness probe tell our
 * server from another one that took the same free port in between.
 */
export async function isListeningOn(pid: number, port: number): Promise<boolean> {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      // State 0A is LISTEN; field 9 is the socket inode.
      if (local?.endsWith(`:${portHex}`) && fields[3] === '0A' && fields[9] !== undefined) inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      const target = await readlink(`/proc/${pid}/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match?.[1] !== undefined && inodes.has(match[1])) return true;
    } catch {
      // The fd closed while we looked.
    }
  }
  return false;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly pid: number;
  /** Everything the process printed on stdout and stderr (the last 2 MiB). */
  logs(): string;
  /** Settles when the process has exited; never rejects. */
  readonly exited: Promise<ExitStatus>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Safe to call twice. */
  stop(graceMs?: number): Promise<ExitStatus>;
}

const exitHooks: (() => void)[] = [];
let exitHandlersInstalled = false;

function runExitHooks(): void {
  for (const hook of exitHooks.splice(0)) {
    try {
      hook();
    } catch {
      // Best effort while exiting: nothing left to report to.
    }
  }
}

function onTerminationSignal(signal: NodeJS.Signals): void {
  runExitHooks();
  // Alone, we replaced the default action (die): do it now. With other listeners, they own the exit.
  if (process.listenerCount(signal) === 1) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
}

/**
 * Registers synchronous cleanup for when this process ends: a normal exit, or SIGTERM/SIGINT/SIGHUP (vitest
 * ends its fork workers with SIGTERM, which skips 'exit' handlers).
 */
export function onProcessExit(hook: () => void): void {
  exitHooks.push(hook);
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  process.on('exit', runExitHooks);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, onTerminationSignal);
}

const LOG_LIMIT = 2 * 1024 * 1024;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // An exit (even after a failed test whose afterAll never ran) asks the servers to stop. SIGTERM, not
  // SIGKILL: dockerd then unmounts what it mounted; the watchdog escalates and removes directories after us.
  onProcessExit(() => {
    for (const child of live) {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    }
  });
}

// Runs once our end of its stdin closes, i.e. once this process is gone, however it went. POSIX sh only.
const WATCHDOG = `
read _ignored
kill -TERM "-$AIRGAP_PGID" 2>/dev/null
i=0
while kill -0 "-$AIRGAP_PGID" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
kill -KILL "-$AIRGAP_PGID" 2>/dev/null
if [ -n "$AIRGAP_CLEANUP_DIR" ]; then
  sleep 0.5
  awk -v d="$AIRGAP_CLEANUP_DIR" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf -- "$AIRGAP_CLEANUP_DIR"
fi
exit 0
`;

export interface ManagedProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * A directory the watchdog unmounts and removes if this process dies without stopping the server
   * (dockerd's vfs data root can be large, and holds a bind mount rm cannot cross).
   */
  cleanupDir?: string;
}

/**
 * Starts a long-running server in its own process group, watched by a small `sh` that holds a pipe from us:
 * when this process dies in any way (a killed vitest worker, Ctrl-C), the pipe closes and the watchdog
 * takes the server's whole process group down, so no registry or dockerd is left behind.
 */
export function startManagedProcess(file: string, args: readonly string[], options: ManagedProcessOptions = {}): ManagedProcess {
  installExitHook();
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: the watchdog and stop() signal the whole group, and a terminal's Ctrl-C reaches
    // us (whose exit hooks stop it) rather than killing it half-way through a write.
    detached: true,
  });
  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > LOG_LIMIT) log = log.slice(log.length - LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  let exitStatus: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('error', (err: Error) => {
      append(Buffer.from(`\n[spawn error] ${err.message}\n`));
      exitStatus = { code: null, signal: null };
      live.delete(child);
      resolve(exitStatus);
    });
    child.once('exit', (code, signal) => {
      exitStatus = { code, signal };
      live.delete(child);
      resolve(exitStatus);
    });
  });

  const pid = child.pid;
  let watchdog: ChildProcess | undefined;
  if (pid !== undefined) {
    live.add(child);
    watchdog = spawn('sh', ['-c', WATCHDOG], {
      stdio: ['pipe', 'ignore', 'ignore'],
      // Detached: Ctrl-C on the terminal's process group must not take the watchdog down with us.
      detached: true,
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', AIRGAP_PGID: String(pid), AIRGAP_CLEANUP_DIR: options.cleanupDir ?? '' },
    });
    watchdog.on('error', () => {
      // Without a watchdog the exit hook and stop() still apply.
    });
    watchdog.unref();
    // The pipe must not keep the event loop alive: only its closing matters. A child's stdio pipe is a
    // net.Socket at run time, though typed as a plain Writable.
    const stdin = watchdog.stdin as Socket | null;
    stdin?.on('error', () => undefined);
    stdin?.unref();
  }

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  };

  const stop = async (graceMs = 10_000): Promise<ExitStatus> => {
    if (exitStatus === undefined) {
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    // Children that ignored the group signal while their leader exited cleanly.
    signalGroup('SIGKILL');
    if (watchdog?.pid !== undefined && watchdog.exitCode === null) {
      try {
        process.kill(watchdog.pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    return exitStatus ?? (await exited);
  };

  return {
    pid: pid ?? -1,
    logs: () => log,
    exited,
    hasExited: () => exitStatus !== undefined,
    stop,
  };
}
