/**
 * `npm run bench [-- --size-mb N --rounds N --no-build]`: `airgap collect` against its peer, skopeo, on a
 * Charmed-Kubeflow-shaped release served by a real docker-registry on loopback.
 *
 * Setup (not timed): build the CLI, generate the release (random, incompressible layers, shared bases, one
 * multi-arch index), push it with skopeo, write the image list. Then, interleaved, round after round:
 *   ours: node bin/airgap.js collect LIST -o OUT --plain-http HOST
 *   peer: skopeo copy --all per image, one after the other, into one shared OCI layout (skopeo skips blobs the
 *         layout already holds), then tar -cf - -C LAYOUT . | gzip -1 > images.tar.gz
 * and prints the medians, every sample, throughput, archive sizes and our peak RSS; the results also go to
 * .bench/collect.json. Environment: BENCH_SIZE_MB, BENCH_ROUNDS.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { distinctBytes, pushTestImages } from '../test/support/images.ts';
import type { PushedImage } from '../test/support/images.ts';
import { startRegistry } from '../test/support/registry.ts';
import type { RunningRegistry } from '../test/support/registry.ts';
import { makeTempDir } from '../test/support/tmp.ts';
import type { TempDir } from '../test/support/tmp.ts';
import { killChildrenOnExit, median, rssMethod, timed } from './bench/measure.ts';
import { benchRelease, MB } from './bench/release.ts';

const ROOT = resolve(import.meta.dirname, '..');

interface Config {
  sizeMb: number;
  rounds: number;
  build: boolean;
  /** The airgap.js to bench. */
  cli: string;
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${text}"`);
  return value;
}

function config(): Config {
  const { values } = parseArgs({
    options: {
      'size-mb': { type: 'string' },
      rounds: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      cli: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench [-- --size-mb N (default 200) --rounds N (default 3) --no-build --cli PATH]\n' +
      '       --cli: bench another build\'s bin/airgap.js (e.g. of another checkout), not built here\n' +
      '       (or BENCH_SIZE_MB, BENCH_ROUNDS in the environment)\n');
    process.exit(0);
  }
  const sizeMb = positive('--size-mb', values['size-mb'] ?? process.env['BENCH_SIZE_MB'], 200);
  const rounds = Math.round(positive('--rounds', values.rounds ?? process.env['BENCH_ROUNDS'], 3));
  const cli = values.cli === undefined ? join(ROOT, 'bin', 'airgap.js') : resolve(values.cli);
  return { sizeMb, rounds, build: !values['no-build'] && values.cli === undefined, cli };
}

const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

const fmtS = (s: number): string => s.toFixed(2);
const fmtMB = (bytes: number): string => (bytes / MB).toFixed(1);
const fmtMiB = (kib: number | undefined): string => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);

/** The commit the CLI was built from, when it is this checkout's (`+dirty` when src/ has uncommitted changes). */
function checkoutCommit(cli: string): string | null {
  if (cli !== join(ROOT, 'bin', 'airgap.js')) return null;
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return null;
  }
}

function toolVersion(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8' }).trim().split('\n')[0] ?? '?';
  } catch {
    return '?';
  }
}

interface OursSample {
  seconds: number;
  peakRssKiB: number | undefined;
  archiveBytes: number;
}

interface PeerSample {
  seconds: number;
  copySeconds: number;
  packSeconds: number;
  /** The largest of the skopeo copies' and the tar|gzip pipeline's peak RSS. */
  peakRssKiB: number | undefined;
  archiveBytes: number;
  /** Reference only, not part of the peer's figure: the same layout packed by `tar -cf` without compression. */
  plainTarSeconds: number;
  plainTarBytes: number;
}

async function runOurs(cli: string, listFile: string, outDir: string, registry: RunningRegistry, scratch: string): Promise<OursSample> {
  await rm(outDir, { recursive: true, force: true });
  const result = await timed(process.execPath, [cli, 'collect', listFile, '-o', outDir, '--plain-http', registry.host], scratch);
  const archive = await stat(join(outDir, 'images.tar.gz'));
  return { seconds: result.seconds, peakRssKiB: result.peakRssKiB, archiveBytes: archive.size };
}

async function runPeer(images: readonly PushedImage[], layoutDir: string, outDir: string, scratch: string): Promise<PeerSample> {
  await rm(layoutDir, { recursive: true, force: true });
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const archivePath = join(outDir, 'images.tar.gz');
  let peak: number | undefined;
  const note = (kib: number | undefined): void => {
    if (kib !== undefined) peak = Math.max(peak ?? 0, kib);
  };
  const started = performance.now();
  // Sequential on purpose: parallel copies into one OCI layout race on its index.json.
  for (const image of images) {
    const name = `${image.repository}:${image.tag}`;
    const copied = await timed('skopeo', ['--insecure-policy', 'copy', '--all', '--src-tls-verify=false', `docker://${image.reference}`, `oci:${layoutDir}:${name}`], scratch);
    note(copied.peakRssKiB);
  }
  const copySeconds = (performance.now() - started) / 1000;
  const packed = await timed('bash', ['-c', 'set -o pipefail; tar -cf - -C "$1" . | gzip -1 > "$2"', 'bash', layoutDir, archivePath], scratch);
  note(packed.peakRssKiB);
  const seconds = (performance.now() - started) / 1000;
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests?: unknown[] };
  if (index.manifests?.length !== images.length) {
    throw new Error(`skopeo's layout names ${index.manifests?.length ?? 0} images, expected ${images.length}`);
  }
  const archive = await stat(archivePath);
  // After the timed pipeline: what the peer would cost with an uncompressed tar, to show what gzip costs it.
  const plainPath = join(outDir, 'images.tar');
  const plain = await timed('tar', ['-cf', plainPath, '-C', layoutDir, '.'], scratch);
  const plainTarBytes = (await stat(plainPath)).size;
  await rm(plainPath, { force: true });
  return { seconds, copySeconds, packSeconds: packed.seconds, peakRssKiB: peak, archiveBytes: archive.size, plainTarSeconds: plain.seconds, plainTarBytes };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('  ')).join('\n');
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
  let registry: RunningRegistry | undefined;
  try {
    work = await makeTempDir('airgap-bench-');
    const scratch = join(work.path, 'scratch');
    await mkdir(scratch);
    registry = await startRegistry();
    const release = benchRelease(cfg.sizeMb);
    say(`generating and pushing ${release.images.length} images (~${cfg.sizeMb} MB of distinct layers) to docker-registry at ${registry.host}...`);
    const setupStart = performance.now();
    const images = await pushTestImages(registry, release.images);
    const distinct = distinctBytes(images);
    say(`  done in ${fmtS((performance.now() - setupStart) / 1000)} s: ${images.length} images, ${fmtMB(distinct)} MB of distinct blobs (layers, configs, manifests)`);

    const listFile = join(work.path, 'images.txt');
    await writeFile(listFile, images.map((i) => `${i.reference}\n`).join(''));
    const oursOut = join(work.path, 'ours');
    const peerLayout = join(work.path, 'peer-layout');
    const peerOut = join(work.path, 'peer');

    const loadBefore = loadavg();
    say(`\n${cfg.rounds} rounds, interleaved (ours, then peer, each round); page cache warm for both (caches cannot be dropped here)`);
    const ours: OursSample[] = [];
    const peer: PeerSample[] = [];
    for (let round = 1; round <= cfg.rounds; round++) {
      const a = await runOurs(cfg.cli, listFile, oursOut, registry, scratch);
      ours.push(a);
      say(`  round ${round}: ours ${fmtS(a.seconds)} s (peak RSS ${fmtMiB(a.peakRssKiB)})`);
      const b = await runPeer(images, peerLayout, peerOut, scratch);
      peer.push(b);
      say(`  round ${round}: peer ${fmtS(b.seconds)} s = skopeo copies ${fmtS(b.copySeconds)} s + tar|gzip -1 ${fmtS(b.packSeconds)} s` +
        `  (reference, untimed in the peer figure: tar -cf without gzip ${fmtS(b.plainTarSeconds)} s)`);
    }

    const loadAfter = loadavg();
    const oursMedian = median(ours.map((s) => s.seconds));
    const peerMedian = median(peer.map((s) => s.seconds));
    const copyMedian = median(peer.map((s) => s.copySeconds));
    const packMedian = median(peer.map((s) => s.packSeconds));
    const ratio = oursMedian / peerMedian;
    const plainSamples = peer.map((s) => s.copySeconds + s.plainTarSeconds);
    const plainMedian = median(plainSamples);
    const plainBytes = peer[peer.length - 1]?.plainTarBytes ?? 0;
    const oursArchive = ours[ours.length - 1]?.archiveBytes ?? 0;
    const peerArchive = peer[peer.length - 1]?.archiveBytes ?? 0;
    const oursRss = ours.map((s) => s.peakRssKiB).filter((k): k is number => k !== undefined);
    const oursPeakRss = oursRss.length === 0 ? undefined : Math.max(...oursRss);
    const peerRss = peer.map((s) => s.peakRssKiB).filter((k): k is number => k !== undefined);
    const peerPeakRss = peerRss.length === 0 ? undefined : Math.max(...peerRss);
    const samples = (values: number[]): string => values.map(fmtS).join(', ');
    const throughput = (seconds: number): string => (distinct / MB / seconds).toFixed(1);

    say(`\nairgap collect vs skopeo: ${images.length} images, ${fmtMB(distinct)} MB distinct blobs, ${cfg.rounds} rounds, ${cpus().length} CPUs (MB = 10^6 bytes)`);
    say(table([
      ['', 'median s', 'samples s', 'MB/s', 'archive MB', 'archive/distinct', 'peak RSS'],
      ['ours   airgap collect (-j 4 default)', fmtS(oursMedian), samples(ours.map((s) => s.seconds)), throughput(oursMedian), fmtMB(oursArchive), (oursArchive / distinct).toFixed(4), fmtMiB(oursPeakRss)],
      ['peer   skopeo copy x N + tar|gzip -1', fmtS(peerMedian), samples(peer.map((s) => s.seconds)), throughput(peerMedian), fmtMB(peerArchive), (peerArchive / distinct).toFixed(4), fmtMiB(peerPeakRss)],
      ['         skopeo copy --all, sequential', fmtS(copyMedian), samples(peer.map((s) => s.copySeconds)), throughput(copyMedian), '', '', ''],
      ['         tar -cf - | gzip -1', fmtS(packMedian), samples(peer.map((s) => s.packSeconds)), throughput(packMedian), '', '', ''],
      ['ref.   skopeo copy x N + tar -cf (no gzip)', fmtS(plainMedian), samples(plainSamples), throughput(plainMedian), fmtMB(plainBytes), (plainBytes / distinct).toFixed(4), ''],
    ]));
    say(`ratio ours/peer (median): ${ratio.toFixed(2)}  (target <= 1.0: ${ratio <= 1 ? 'met' : 'NOT met'})`);
    say(`ratio ours/ref. (skopeo + uncompressed tar, not the peer figure): ${(oursMedian / plainMedian).toFixed(2)}`);
    say(`ours archive / distinct blob bytes: ${(oursArchive / distinct).toFixed(4)}  (target <= 1.01: ${oursArchive / distinct <= 1.01 ? 'met' : 'NOT met'})`);
    say(`ours peak RSS per round: ${ours.map((s) => fmtMiB(s.peakRssKiB)).join(', ')}, for ${fmtMB(distinct)} MB of blobs (${rssMethod()})`);
    say(`load average (1, 5, 15 min) before: ${loadBefore.map((l) => l.toFixed(2)).join(', ')}; after: ${loadAfter.map((l) => l.toFixed(2)).join(', ')}` +
      ` (well above 0 means other work shared the ${cpus().length} CPUs: compare samples, not just medians)`);
    say('notes: skopeo copies run one after the other (parallel copies into one OCI layout race on index.json),');
    say('       as the guide\'s script runs them; page cache warm for both; every sample is shown, none dropped.');

    const results = {
      benchmark: 'collect',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
      versions: { node: process.version, skopeo: toolVersion('skopeo', ['--version']), gzip: toolVersion('gzip', ['--version']) },
      units: { seconds: 'wall clock, performance.now() around the child processes', MB: 1_000_000, rss: 'KiB' },
      release: {
        sizeMbRequested: cfg.sizeMb,
        images: images.map((i) => ({ reference: i.reference, mediaType: i.mediaType, platforms: i.manifests.length })),
        distinctBlobBytes: distinct,
      },
      rounds: cfg.rounds,
      order: 'interleaved: ours then peer in every round; page cache warm for both',
      ours: {
        command: 'node bin/airgap.js collect LIST -o OUT --plain-http HOST',
        cli: cfg.cli,
        commit: checkoutCommit(cfg.cli),
        medianSeconds: oursMedian,
        samplesSeconds: ours.map((s) => s.seconds),
        throughputMBps: distinct / MB / oursMedian,
        archiveBytes: oursArchive,
        archiveOverDistinct: oursArchive / distinct,
        peakRssKiB: ours.map((s) => s.peakRssKiB ?? null),
      },
      peer: {
        command: 'for each image: skopeo copy --all --src-tls-verify=false docker://HOST/REPO:TAG oci:LAYOUT:REPO:TAG (sequential); then tar -cf - -C LAYOUT . | gzip -1 > images.tar.gz',
        medianSeconds: peerMedian,
        samplesSeconds: peer.map((s) => s.seconds),
        copyMedianSeconds: copyMedian,
        copySamplesSeconds: peer.map((s) => s.copySeconds),
        packMedianSeconds: packMedian,
        packSamplesSeconds: peer.map((s) => s.packSeconds),
        throughputMBps: distinct / MB / peerMedian,
        archiveBytes: peerArchive,
        archiveOverDistinct: peerArchive / distinct,
        peakRssKiB: peer.map((s) => s.peakRssKiB ?? null),
      },
      reference: {
        what: 'not part of the peer figure: the same skopeo copies, then tar -cf LAYOUT without compression (timed after the peer pipeline)',
        medianSeconds: plainMedian,
        samplesSeconds: plainSamples,
        tarSamplesSeconds: peer.map((s) => s.plainTarSeconds),
        archiveBytes: plainBytes,
      },
      ratioOursOverPeer: ratio,
      ratioOursOverReference: oursMedian / plainMedian,
      rssMethod: rssMethod(),
    };
    const benchDir = join(ROOT, '.bench');
    await mkdir(benchDir, { recursive: true });
    await writeFile(join(benchDir, 'collect.json'), `${JSON.stringify(results, null, 2)}\n`);
    say(`\nresults written to .bench/collect.json`);
  } finally {
    await registry?.stop();
    await work?.remove();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
