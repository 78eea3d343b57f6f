/**
 * The serve part: pulling the whole release from `airgap serve` against pulling the same from docker-registry
 * (the CNCF distribution registry), interleaved round after round.
 *
 * Setup (not timed): the release is in a docker-registry on loopback; `airgap collect` makes images.tar.gz from
 * it; `airgap serve images.tar.gz --store DIR` unpacks it once (that start is timed and reported apart).
 * Each sample pulls every image of the release with `skopeo copy --all --preserve-digests` into fresh `dir:`
 * targets, in two modes: 4 copies at a time (many clients) and one at a time. Both servers are plain HTTP on
 * loopback and serve the same bytes; after each sample every pulled manifest must hash to its digest. CPU
 * seconds and peak RSS of each server come from /proc (per sample for CPU, whole run for the peak).
 *
 * Alone: `node scripts/bench/serve.ts [--size-mb N (200)] [--rounds N (3)] [--no-build]` (generates and pushes
 * the release itself). As a part of `npm run bench`: `benchServe(ctx)`, with the collect part's output if any.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { distinctBytes, pushTestImages, type PushedImage } from '../../test/support/images.ts';
import { onProcessExit } from '../../test/support/process.ts';
import { startRegistry, type RunningRegistry } from '../../test/support/registry.ts';
import { sha256Digest } from '../../test/support/skopeo.ts';
import { makeTempDir } from '../../test/support/tmp.ts';
import { MB, benchRelease } from './release.ts';

/** What the part needs; bench.ts's BenchContext has all of it. */
export interface ServeBenchContext {
  root: string;
  /** The airgap.js to bench. */
  cli: string;
  sizeMb: number;
  rounds: number;
  /** A temp dir removed at the end. */
  work: string;
  /** The docker-registry (plain HTTP) holding the release. */
  source: RunningRegistry;
  images: PushedImage[];
  /** Distinct blob bytes of the release. */
  distinct: number;
  /** One upstream reference a line. */
  listFile: string;
}

const PARALLEL = 4;
const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const fmt = (s: number): string => s.toFixed(2);
const mb = (bytes: number): string => (bytes / MB).toFixed(1);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

function run(file: string, args: readonly string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done() : fail(new Error(`${file} ${args.join(' ')} failed (${code ?? '?'}): ${stderr.trim()}`))));
  });
}

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of a process so far (fields 14 and 15 of /proc/PID/stat). */
async function cpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

async function peakRssMiB(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
}

/** The docker-registry serving `registry`: the process whose command line names its config file. */
async function registryPid(registry: RunningRegistry): Promise<number | undefined> {
  const config = join(dirname(registry.storageDir), 'config.yml');
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('docker-registry') && cmdline.includes(config)) return Number(entry);
  }
  return undefined;
}

interface Server {
  label: string;
  host: string;
  pid: number | undefined;
}

/** Every image pulled once from `server`, `parallel` skopeo copies at a time, into fresh dir: targets. */
async function pullAll(server: Server, images: readonly PushedImage[], target: string, parallel: number): Promise<{ seconds: number; cpu: number | undefined }> {
  await rm(target, { recursive: true, force: true });
  await mkdir(target, { recursive: true });
  const cpuBefore = await cpuSeconds(server.pid);
  const queue = images.map((image, i) => ({ image, dir: join(target, String(i)) }));
  const started = performance.now();
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      await run('skopeo', ['--insecure-policy', 'copy', '--all', '--preserve-digests', '--quiet', '--src-tls-verify=false', '--src-no-creds',
        `docker://${server.host}/${item.image.repository}:${item.image.tag}`, `dir:${item.dir}`]);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = await cpuSeconds(server.pid);
  // Untimed: what arrived is the release, byte for byte.
  for (const [i, image] of images.entries()) {
    const digest = sha256Digest(await readFile(join(target, String(i), 'manifest.json')));
    if (digest !== image.digest) throw new Error(`${server.label}: ${image.reference} arrived as ${digest}, not ${image.digest}`);
  }
  await rm(target, { recursive: true, force: true });
  return { seconds, cpu: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore };
}

/** `airgap serve ARCHIVE --store DIR` as a user runs it, until it says where it listens. */
async function startServe(ctx: ServeBenchContext, archive: string, store: string, log: string): Promise<{ host: string; child: ChildProcess; startSeconds: number; unpacked: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, [ctx.cli, 'serve', archive, '--store', store, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  onProcessExit(() => child.kill('SIGKILL'));
  const out = createWriteStream(log);
  child.stderr.pipe(out);
  let text = '';
  return new Promise((done, fail) => {
    child.stdout.on('data', (d: Buffer) => {
      out.write(d);
      if (text.length > 64 * 1024) return;
      text += d.toString('utf8');
      const match = /^Serving \d+ images at http:\/\/(\S+) /m.exec(text);
      if (match?.[1] !== undefined) {
        text = text.slice(0, match.index);
        done({ host: match[1], child, startSeconds: (performance.now() - started) / 1000, unpacked: /^unpacked .*$/m.exec(text)?.[0] ?? '' });
        text = 'x'.repeat(64 * 1024 + 1);
      }
    });
    child.once('close', (code) => fail(new Error(`airgap serve exited (${code ?? '?'}) before it was ready; see ${log}`)));
  });
}

export async function benchServe(ctx: ServeBenchContext, collected?: { oursDir: string }): Promise<void> {
  say('');
  say(`== serve: pulling the release (${ctx.images.length} images, ${mb(ctx.distinct)} MB) from airgap serve and from docker-registry`);
  let oursDir = collected?.oursDir;
  if (oursDir === undefined || !existsSync(join(oursDir, 'images.tar.gz'))) {
    oursDir = join(ctx.work, 'serve-collect');
    say('  airgap collect (untimed) to make the images.tar.gz airgap serve serves...');
    await run(process.execPath, [ctx.cli, 'collect', ctx.listFile, '-o', oursDir, '--plain-http', ctx.source.host, '--no-cache']);
  }
  const store = join(ctx.work, 'serve-store');
  const log = join(ctx.work, 'serve.log');
  const serve = await startServe(ctx, join(oursDir, 'images.tar.gz'), store, log);
  try {
    say(`  airgap serve images.tar.gz --store: ready in ${fmt(serve.startSeconds)} s (${serve.unpacked || 'unpacked'})`);
    const servers: Server[] = [
      { label: 'airgap serve', host: serve.host, pid: serve.child.pid },
      { label: 'docker-registry', host: ctx.source.host, pid: await registryPid(ctx.source) },
    ];
    const modes = [{ name: `${PARALLEL} at a time`, parallel: PARALLEL }, { name: 'one at a time', parallel: 1 }];
    const results = new Map<string, { seconds: number[]; cpu: number[] }>();
    const key = (server: Server, mode: string): string => `${server.label}\u0000${mode}`;
    // One untimed pull from each first: page cache and connections warm for both alike.
    for (const server of servers) await pullAll(server, ctx.images, join(ctx.work, 'pull'), PARALLEL);
    for (let round = 1; round <= ctx.rounds; round++) {
      const order = round % 2 === 1 ? servers : [...servers].reverse();
      const line: string[] = [];
      for (const mode of modes) {
        for (const server of order) {
          const sample = await pullAll(server, ctx.images, join(ctx.work, 'pull'), mode.parallel);
          const entry = results.get(key(server, mode.name)) ?? { seconds: [], cpu: [] };
          entry.seconds.push(sample.seconds);
          if (sample.cpu !== undefined) entry.cpu.push(sample.cpu);
          results.set(key(server, mode.name), entry);
          line.push(`${server.label} ${mode.name} ${fmt(sample.seconds)} s`);
        }
      }
      say(`  round ${round}/${ctx.rounds}: ${line.join(', ')}`);
    }
    const rows: string[][] = [['', 'mode', 'median s', 'MB/s', 'server CPU s', 'samples']];
    const json: Record<string, unknown>[] = [];
    for (const mode of modes) {
      for (const server of servers) {
        const entry = results.get(key(server, mode.name)) ?? { seconds: [], cpu: [] };
        const m = median(entry.seconds);
        rows.push([server.label, mode.name, fmt(m), (ctx.distinct / MB / m).toFixed(0), entry.cpu.length === 0 ? 'n/a' : fmt(median(entry.cpu)), entry.seconds.map(fmt).join(', ')]);
        json.push({ server: server.label, mode: mode.name, medianSeconds: m, samples: entry.seconds, cpuSeconds: entry.cpu });
      }
    }
    const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
    say('');
    for (const r of rows) say(`  ${r.map((cell, col) => (col < 2 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('  ')}`);
    const ratios: Record<string, number> = {};
    for (const mode of modes) {
      const ours = median(results.get(key(servers[0] as Server, mode.name))?.seconds ?? []);
      const theirs = median(results.get(key(servers[1] as Server, mode.name))?.seconds ?? []);
      ratios[mode.name] = ours / theirs;
      say(`  ratio airgap serve / docker-registry, ${mode.name}: ${(ours / theirs).toFixed(2)} (below 1: airgap serve is faster)`);
    }
    const [oursRss, theirsRss] = [await peakRssMiB(servers[0]?.pid), await peakRssMiB(servers[1]?.pid)];
    say(`  peak RSS over the whole run: airgap serve ${oursRss === undefined ? 'n/a' : `${oursRss.toFixed(0)} MiB`}, docker-registry ${theirsRss === undefined ? 'n/a' : `${theirsRss.toFixed(0)} MiB`}`);
    say(`  (${cpus().length} CPUs; ${execFileSync('skopeo', ['--version'], { encoding: 'utf8' }).trim()}; request log: ${log}, removed with the work dir)`);
    await mkdir(join(ctx.root, '.bench'), { recursive: true });
    const file = join(ctx.root, '.bench', 'serve.json');
    await writeFile(file, `${JSON.stringify({
      date: new Date().toISOString(), sizeMb: ctx.sizeMb, distinctBytes: ctx.distinct, images: ctx.images.length, rounds: ctx.rounds,
      startSeconds: serve.startSeconds, results: json, ratios, peakRssMiB: { airgapServe: oursRss, dockerRegistry: theirsRss }, cpus: cpus().length,
    }, null, 2)}\n`);
    say(`  results: ${file}`);
  } finally {
    serve.child.kill('SIGTERM');
    await new Promise<void>((done) => (serve.child.exitCode !== null ? done() : serve.child.once('close', () => done())));
  }
}

async function standalone(): Promise<void> {
  const root = resolve(import.meta.dirname, '..', '..');
  const { values } = parseArgs({ options: { 'size-mb': { type: 'string' }, rounds: { type: 'string' }, 'no-build': { type: 'boolean', default: false } }, strict: true });
  const sizeMb = Number(values['size-mb'] ?? process.env['BENCH_SIZE_MB'] ?? 200);
  const rounds = Math.max(1, Math.round(Number(values.rounds ?? process.env['BENCH_ROUNDS'] ?? 3)));
  if (!(sizeMb > 0)) throw new Error('--size-mb must be a positive number');
  if (!values['no-build']) {
    say('building the CLI (tsc -p tsconfig.build.json)...');
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  }
  const work = await makeTempDir('airgap-bench-serve-');
  let source: RunningRegistry | undefined;
  try {
    source = await startRegistry();
    const release = benchRelease(sizeMb);
    say(`generating and pushing ${release.images.length} images (~${sizeMb} MB of distinct layers) to docker-registry at ${source.host}...`);
    const images = await pushTestImages(source, release.images);
    const listFile = join(work.path, 'images.txt');
    await writeFile(listFile, images.map((i) => `${i.reference}\n`).join(''));
    await benchServe({ root, cli: join(root, 'bin', 'airgap.js'), sizeMb, rounds, work: work.path, source, images, distinct: distinctBytes(images), listFile });
  } finally {
    await source?.stop();
    await work.remove();
  }
}

if (import.meta.main) {
  standalone().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
