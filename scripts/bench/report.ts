/**
 * What the benchmark parts share to print and record: number formats, a plain-text table, the machine and
 * tool versions, and where the results go.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { MB } from './release.ts';

export const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

export const fmtS = (s: number): string => s.toFixed(2);
export const fmtMB = (bytes: number): string => (bytes / MB).toFixed(1);
export const fmtMiB = (kib: number | undefined): string => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);
export const samples = (values: readonly number[]): string => values.map(fmtS).join(', ');

/** The largest of the measured values, or undefined when none was measured. */
export function peak(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((k): k is number => k !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('  ')).join('\n');
}

export function toolVersion(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8' }).trim().split('\n')[0] ?? '?';
  } catch {
    return '?';
  }
}

/** The commit the CLI was built from, when it is the `root` checkout's (`+dirty` when src/ has uncommitted changes). */
export function checkoutCommit(root: string, cli: string): string | null {
  if (cli !== join(root, 'bin', 'airgap.js')) {
    // Another checkout (a worktree of a clean snapshot, say): its own HEAD, when it is a git checkout.
    const other = join(cli, '..', '..');
    try {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: other, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: other, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
      return dirty ? `${head}+dirty` : head;
    } catch {
      return null;
    }
  }
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return null;
  }
}

export function machine(loadBefore: number[], loadAfter: number[]): Record<string, unknown> {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter };
}

export function loadAverageLine(before: number[], after: number[]): string {
  return `load average (1, 5, 15 min) before: ${before.map((l) => l.toFixed(2)).join(', ')}; after: ${after.map((l) => l.toFixed(2)).join(', ')}` +
    ` (well above 0 means other work shared the ${cpus().length} CPUs: compare samples, not just medians)`;
}

/** Writes `.bench/NAME.json` under `root`; returns the path shown to the user. */
export async function writeResults(root: string, name: string, results: unknown): Promise<string> {
  const benchDir = join(root, '.bench');
  await mkdir(benchDir, { recursive: true });
  await writeFile(join(benchDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  return `.bench/${name}.json`;
}
