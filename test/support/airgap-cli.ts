import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The built CLI, run as a user runs it: `npm test` builds dist/ before the suites start. */
export const AIRGAP_BIN = resolve(import.meta.dirname, '../../bin/airgap.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  input?: string;
  /** Called with everything printed on stderr so far, each time more arrives: to act while it runs. */
  onStderr?: (stderr: string) => void;
}

/** Run a program to its end with exactly `env`, collecting what it prints. */
export function runCommand(file: string, args: readonly string[], options: RunOptions & { env: NodeJS.ProcessEnv }): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      options.onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * The built CLI on the project's Node, with the test's environment plus `env`. A collect gets a blob cache
 * of its own (removed after), unless the test names one: what one test downloaded must not change another.
 */
export async function runAirgap(args: readonly string[], options: RunOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const namesCache = args.some((a) => a === '--cache' || a.startsWith('--cache=') || a === '--no-cache') || options.env?.['XDG_CACHE_HOME'] !== undefined;
  const ownCache = args[0] === 'collect' && !namesCache ? await mkdtemp(join(tmpdir(), 'airgap-test-cache-')) : undefined;
  try {
    return await runCommand(process.execPath, [AIRGAP_BIN, ...args], {
      ...options,
      env: { ...process.env, ...(ownCache === undefined ? {} : { XDG_CACHE_HOME: ownCache }), ...options.env },
    });
  } finally {
    if (ownCache !== undefined) await rm(ownCache, { recursive: true, force: true });
  }
}
