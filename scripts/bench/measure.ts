/**
 * Timed child processes for the benchmark: wall time by performance.now() around the whole child, peak RSS
 * from GNU time (`/usr/bin/time -v`) or, without it, by polling /proc/PID/status VmHWM. Every child runs in
 * its own process group, and an exit hook kills the groups still running, so Ctrl-C leaves nothing behind.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { onProcessExit } from '../../test/support/process.ts';

const GNU_TIME = '/usr/bin/time';
const running = new Set<number>();
let hookInstalled = false;

/**
 * Call before any temp dir or server is made: exit hooks run in registration order, and the children must
 * be gone before their directories are removed.
 */
export function killChildrenOnExit(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  onProcessExit(() => {
    for (const pgid of running) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

export interface Timed {
  seconds: number;
  /** Peak resident set size in KiB, or undefined when it could not be measured. */
  peakRssKiB: number | undefined;
  /** User + system CPU seconds of the child (and its children), from GNU time; undefined without it. */
  cpuSeconds: number | undefined;
  stdout: string;
  stderr: string;
}

export function rssMethod(): string {
  return existsSync(GNU_TIME) ? `${GNU_TIME} -v (Maximum resident set size)` : '/proc/PID/status VmHWM, polled every 20 ms';
}

const OUTPUT_LIMIT = 1024 * 1024;

/**
 * Runs `file args` to completion and times it. `scratch` is a directory for GNU time's report. Fails with
 * the child's output when it exits non-zero.
 */
export async function timed(file: string, args: readonly string[], scratch: string, options: { cwd?: string } = {}): Promise<Timed> {
  const gnuTime = existsSync(GNU_TIME);
  const report = join(scratch, `time-${process.pid}-${Math.random().toString(16).slice(2)}.txt`);
  const [command, argv] = gnuTime ? [GNU_TIME, ['-v', '-o', report, file, ...args]] : [file, [...args]];
  let stdout = '';
  let stderr = '';
  let polledHwm: number | undefined;
  const started = performance.now();
  const child = spawn(command, argv, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (child.pid !== undefined) running.add(child.pid);
  child.stdout.on('data', (chunk: Buffer) => {
    if (stdout.length < OUTPUT_LIMIT) stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < OUTPUT_LIMIT) stderr += chunk.toString('utf8');
  });
  let poller: NodeJS.Timeout | undefined;
  if (!gnuTime && child.pid !== undefined) {
    const pid = child.pid;
    poller = setInterval(() => {
      readFile(`/proc/${pid}/status`, 'utf8').then(
        (status) => {
          const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
          if (match?.[1] !== undefined) polledHwm = Math.max(polledHwm ?? 0, Number(match[1]));
        },
        () => undefined,
      );
    }, 20);
  }
  const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => {
    if (child.pid !== undefined) running.delete(child.pid);
    if (poller !== undefined) clearInterval(poller);
  });
  const seconds = (performance.now() - started) / 1000;

  let peakRssKiB = polledHwm;
  let cpuSeconds: number | undefined;
  if (gnuTime) {
    const text = await readFile(report, 'utf8').catch(() => '');
    await rm(report, { force: true });
    const match = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
    peakRssKiB = match?.[1] === undefined ? undefined : Number(match[1]);
    const user = /User time \(seconds\): ([\d.]+)/.exec(text)?.[1];
    const system = /System time \(seconds\): ([\d.]+)/.exec(text)?.[1];
    cpuSeconds = user === undefined || system === undefined ? undefined : Number(user) + Number(system);
    // GNU time reports the child's failure in its own words first.
    const failed = /Command (exited with non-zero status \d+|terminated by signal \d+)/.exec(text);
    if (failed !== null && status.code === 0) status.code = 1;
    if (failed !== null) stderr += `\n(${failed[0]})`;
  }
  if (status.code !== 0) {
    const shown = [file, ...args].join(' ');
    throw new Error(`${shown} failed (exit ${status.code ?? status.signal ?? '?'}):\n${stderr.trim() || stdout.trim()}`);
  }
  return { seconds, peakRssKiB, cpuSeconds, stdout, stderr };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid];
  if (upper === undefined) return Number.NaN;
  if (sorted.length % 2 === 1) return upper;
  return ((sorted[mid - 1] ?? upper) + upper) / 2;
}
