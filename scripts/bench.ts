/**
 * `npm run bench [-- --size-mb N --rounds N --only collect|load|serve|wan|cache|memory --memory-mb N --no-build --cli PATH]`: `airgap collect` and
 * `airgap load` against their peer, skopeo, and `airgap serve` against docker-registry, on a Charmed-Kubeflow-shaped
 * release served by a real docker-registry on loopback.
 *
 * Setup (not timed): build the CLI, generate the release (random, incompressible layers, shared bases, one
 * multi-arch index), push it with skopeo, write the image list. Then two parts, each interleaved round after
 * round (scripts/bench/collect.ts, scripts/bench/load.ts say what each side runs):
 *   collect: airgap collect against skopeo copy x N into an OCI layout + tar | gzip -1;
 *   load:    airgap load of that images.tar.gz (and its re-run) against skopeo copy x N from that OCI layout,
 *            each sample into a fresh, empty HTTPS docker-registry;
 *   serve:   skopeo copy --all of every image out of `airgap serve images.tar.gz` against out of docker-registry
 *            (scripts/bench/serve.ts), 4 at a time and one at a time;
 *   wan:     the load part over a 40 ms round trip (a delay proxy on loopback; scripts/bench/wan.ts): run it on
 *            the 40 MB release, `npm run bench -- --only wan --size-mb 40`;
 *   cache:   collect with an empty and with a filled blob cache, a collect killed half-way then run again, and
 *            --since the release against the next one (scripts/bench/cache.ts);
 *   memory:  peak RSS of collect and load at the bench release and at one of --memory-mb (default 2000 MB) of the
 *            same shape (scripts/bench/memory.ts).
 * Each part prints the medians, every sample, throughput, ratios and our peak RSS, and writes
 * .bench/<part>.json. Environment: BENCH_SIZE_MB, BENCH_ROUNDS, BENCH_MEMORY_MB.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { distinctBytes, pushTestImages } from '../test/support/images.ts';
import { startRegistry } from '../test/support/registry.ts';
import type { RunningRegistry } from '../test/support/registry.ts';
import { makeTempDir } from '../test/support/tmp.ts';
import type { TempDir } from '../test/support/tmp.ts';
import { benchCollect, collectOnce } from './bench/collect.ts';
import type { BenchContext } from './bench/collect.ts';
import { benchLoad } from './bench/load.ts';
import { benchServe } from './bench/serve.ts';
import { benchWan } from './bench/wan.ts';
import { benchCache } from './bench/cache.ts';
import { benchMemory } from './bench/memory.ts';
import { killChildrenOnExit } from './bench/measure.ts';
import { benchRelease } from './bench/release.ts';
import { fmtMB, fmtS, say } from './bench/report.ts';

const ROOT = resolve(import.meta.dirname, '..');

const PARTS = ['collect', 'load', 'serve', 'wan', 'cache', 'memory'] as const;
type Part = (typeof PARTS)[number];

interface Config {
  sizeMb: number;
  rounds: number;
  build: boolean;
  /** The airgap.js to bench. */
  cli: string;
  parts: readonly Part[];
  /** The large release of the memory part. */
  memoryMb: number;
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${text}"`);
  return value;
}

function isPart(text: string): text is Part {
  return (PARTS as readonly string[]).includes(text);
}

function config(): Config {
  const { values } = parseArgs({
    options: {
      'size-mb': { type: 'string' },
      'memory-mb': { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      cli: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench [-- --size-mb N (default 200) --rounds N (default 3) --only collect|load|serve|wan|cache|memory --memory-mb N (default 2000) --no-build --cli PATH]\n' +
      '       --only: run one part (default all six; load, serve or wan alone first makes its inputs with one untimed collect of each side)\n' +
      '       --cli: bench another build\'s bin/airgap.js (e.g. of another checkout), not built here\n' +
      '       (or BENCH_SIZE_MB, BENCH_ROUNDS in the environment)\n');
    process.exit(0);
  }
  const sizeMb = positive('--size-mb', values['size-mb'] ?? process.env['BENCH_SIZE_MB'], 200);
  const rounds = Math.round(positive('--rounds', values.rounds ?? process.env['BENCH_ROUNDS'], 3));
  const cli = values.cli === undefined ? join(ROOT, 'bin', 'airgap.js') : resolve(values.cli);
  let parts: readonly Part[] = PARTS;
  if (values.only !== undefined) {
    if (!isPart(values.only)) throw new Error(`--only takes ${PARTS.join(' or ')}, got "${values.only}"`);
    parts = [values.only];
  }
  const memoryMb = positive('--memory-mb', values['memory-mb'] ?? process.env['BENCH_MEMORY_MB'], 2000);
  return { sizeMb, rounds, build: !values['no-build'] && values.cli === undefined, cli, parts, memoryMb };
}

async function main(): Promise<void> {
  const cfg = config();
  // First: exit hooks run in order, and running children must die before their directories go.
  killChildrenOnExit();
  if (cfg.build) {
    say('building the CLI (tsc -p tsconfig.build.json)...');
    try {
      execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    } catch {
      throw new Error('the CLI does not build (errors above): fix them, or pass --no-build to bench the dist/ already there');
    }
  }

  let work: TempDir | undefined;
  let source: RunningRegistry | undefined;
  try {
    work = await makeTempDir('airgap-bench-');
    const scratch = join(work.path, 'scratch');
    await mkdir(scratch);
    source = await startRegistry();
    const release = benchRelease(cfg.sizeMb);
    say(`generating and pushing ${release.images.length} images (~${cfg.sizeMb} MB of distinct layers) to docker-registry at ${source.host}...`);
    const setupStart = performance.now();
    const images = await pushTestImages(source, release.images);
    const distinct = distinctBytes(images);
    say(`  done in ${fmtS((performance.now() - setupStart) / 1000)} s: ${images.length} images, ${fmtMB(distinct)} MB of distinct blobs (layers, configs, manifests)`);

    const listFile = join(work.path, 'images.txt');
    await writeFile(listFile, images.map((i) => `${i.reference}\n`).join(''));
    const ctx: BenchContext = { root: ROOT, cli: cfg.cli, sizeMb: cfg.sizeMb, rounds: cfg.rounds, work: work.path, scratch, source, images, distinct, listFile };

    // The collect part leaves what the load part pushes; alone, the load part makes it once, untimed.
    const needsCollected = cfg.parts.some((p) => p === 'load' || p === 'serve' || p === 'wan');
    const collected = cfg.parts.includes('collect') ? await benchCollect(ctx) : needsCollected ? await collectOnce(ctx) : undefined;
    if (collected !== undefined && cfg.parts.includes('load')) await benchLoad(ctx, collected);
    if (collected !== undefined && cfg.parts.includes('serve')) await benchServe(ctx, collected);
    if (collected !== undefined && cfg.parts.includes('wan')) await benchWan(ctx, collected);
    if (cfg.parts.includes('cache')) await benchCache(ctx);
    if (cfg.parts.includes('memory')) await benchMemory(ctx, cfg.memoryMb);
  } finally {
    await source?.stop();
    await work?.remove();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
