/**
 * The collect part: `airgap collect` against skopeo, interleaved round after round:
 *   ours: node bin/airgap.js collect LIST -o OUT --plain-http HOST --cache EMPTY-DIR (a cold cache)
 *   peer: skopeo copy --all per image, one after the other, into one shared OCI layout (skopeo skips blobs the
 *         layout already holds), then tar -cf - -C LAYOUT . | gzip -1 > images.tar.gz
 * What the last round leaves (our images.tar.gz and lock, skopeo's OCI layout) is what the load part pushes.
 */
import { loadavg, cpus } from 'node:os';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PushedImage } from '../../test/support/images.ts';
import type { RunningRegistry } from '../../test/support/registry.ts';
import { median, rssMethod, timed } from './measure.ts';
import { MB } from './release.ts';
import { checkoutCommit, fmtMB, fmtMiB, fmtS, loadAverageLine, machine, peak, samples, say, table, toolVersion, writeResults } from './report.ts';

/** What both parts of the benchmark work on: a release served by a docker-registry on loopback. */
export interface BenchContext {
  root: string;
  /** The airgap.js to bench. */
  cli: string;
  sizeMb: number;
  rounds: number;
  /** A temp dir removed at the end. */
  work: string;
  /** For GNU time's reports. */
  scratch: string;
  /** The upstream registry (plain HTTP) holding the release. */
  source: RunningRegistry;
  images: PushedImage[];
  /** Distinct blob bytes of the release (layers, configs, manifests). */
  distinct: number;
  /** One upstream reference a line. */
  listFile: string;
}

/** What the collect part leaves for the load part. */
export interface Collected {
  /** Our collect's output directory: images.tar.gz, airgap-lock.json. */
  oursDir: string;
  /** skopeo's OCI layout, every image named REPOSITORY:TAG. */
  peerLayout: string;
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

/** The name of an image inside skopeo's OCI layout, and its path (docs/architecture.md, "What crosses the air gap") in any registry. */
export const layoutName = (image: PushedImage): string => `${image.repository}:${image.tag}`;

/** Our collect with an empty blob cache (`cold`): every layer downloaded into it, the archive written from it. */
async function runOurs(ctx: BenchContext, outDir: string): Promise<OursSample> {
  await rm(outDir, { recursive: true, force: true });
  const cache = `${outDir}-cache`;
  await rm(cache, { recursive: true, force: true });
  const result = await timed(process.execPath, [ctx.cli, 'collect', ctx.listFile, '-o', outDir, '--plain-http', ctx.source.host, '--cache', cache], ctx.scratch);
  const archive = await stat(join(outDir, 'images.tar.gz'));
  return { seconds: result.seconds, peakRssKiB: result.peakRssKiB, archiveBytes: archive.size };
}

/**
 * skopeo copies every image, one after the other, into one OCI layout (made afresh). Sequential on purpose:
 * parallel copies into one OCI layout race on its index.json. Returns the largest peak RSS of the copies.
 */
async function copyIntoLayout(ctx: BenchContext, layoutDir: string): Promise<number | undefined> {
  await rm(layoutDir, { recursive: true, force: true });
  let rss: number | undefined;
  for (const image of ctx.images) {
    const copied = await timed('skopeo', ['--insecure-policy', 'copy', '--all', '--src-tls-verify=false', `docker://${image.reference}`, `oci:${layoutDir}:${layoutName(image)}`], ctx.scratch);
    rss = peak([rss, copied.peakRssKiB]);
  }
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests?: unknown[] };
  if (index.manifests?.length !== ctx.images.length) {
    throw new Error(`skopeo's layout names ${index.manifests?.length ?? 0} images, expected ${ctx.images.length}`);
  }
  return rss;
}

async function runPeer(ctx: BenchContext, layoutDir: string, outDir: string): Promise<PeerSample> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const archivePath = join(outDir, 'images.tar.gz');
  const started = performance.now();
  const copyRss = await copyIntoLayout(ctx, layoutDir);
  const copySeconds = (performance.now() - started) / 1000;
  const packed = await timed('bash', ['-c', 'set -o pipefail; tar -cf - -C "$1" . | gzip -1 > "$2"', 'bash', layoutDir, archivePath], ctx.scratch);
  const seconds = (performance.now() - started) / 1000;
  const archive = await stat(archivePath);
  // After the timed pipeline: what the peer would cost with an uncompressed tar, to show what gzip costs it.
  const plainPath = join(outDir, 'images.tar');
  const plain = await timed('tar', ['-cf', plainPath, '-C', layoutDir, '.'], ctx.scratch);
  const plainTarBytes = (await stat(plainPath)).size;
  await rm(plainPath, { force: true });
  return {
    seconds, copySeconds, packSeconds: packed.seconds, peakRssKiB: peak([copyRss, packed.peakRssKiB]), archiveBytes: archive.size,
    plainTarSeconds: plain.seconds, plainTarBytes,
  };
}

function paths(ctx: BenchContext): Collected & { peerOut: string } {
  return { oursDir: join(ctx.work, 'ours'), peerLayout: join(ctx.work, 'peer-layout'), peerOut: join(ctx.work, 'peer') };
}

/** For `--only load`: one collect of each side, untimed, to make what the load part pushes. */
export async function collectOnce(ctx: BenchContext): Promise<Collected> {
  const { oursDir, peerLayout } = paths(ctx);
  say('making the inputs of the load part (untimed): airgap collect, and skopeo copy into an OCI layout...');
  const started = performance.now();
  await runOurs(ctx, oursDir);
  await copyIntoLayout(ctx, peerLayout);
  say(`  done in ${fmtS((performance.now() - started) / 1000)} s`);
  return { oursDir, peerLayout };
}

export async function benchCollect(ctx: BenchContext): Promise<Collected> {
  const { oursDir, peerLayout, peerOut } = paths(ctx);
  const { distinct, images } = ctx;
  const loadBefore = loadavg();
  say(`\ncollect: ${ctx.rounds} rounds, interleaved (ours, then peer, each round); page cache warm for both (caches cannot be dropped here)`);
  const ours: OursSample[] = [];
  const peer: PeerSample[] = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    const a = await runOurs(ctx, oursDir);
    ours.push(a);
    say(`  round ${round}: ours ${fmtS(a.seconds)} s (peak RSS ${fmtMiB(a.peakRssKiB)})`);
    const b = await runPeer(ctx, peerLayout, peerOut);
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
  const oursPeakRss = peak(ours.map((s) => s.peakRssKiB));
  const peerPeakRss = peak(peer.map((s) => s.peakRssKiB));
  const throughput = (seconds: number): string => (distinct / MB / seconds).toFixed(1);

  say(`\nairgap collect vs skopeo: ${images.length} images, ${fmtMB(distinct)} MB distinct blobs, ${ctx.rounds} rounds, ${cpus().length} CPUs (MB = 10^6 bytes)`);
  say(table([
    ['', 'median s', 'samples s', 'MB/s', 'archive MB', 'archive/distinct', 'peak RSS'],
    ['ours   airgap collect, cold cache (-j 4)', fmtS(oursMedian), samples(ours.map((s) => s.seconds)), throughput(oursMedian), fmtMB(oursArchive), (oursArchive / distinct).toFixed(4), fmtMiB(oursPeakRss)],
    ['peer   skopeo copy x N + tar|gzip -1', fmtS(peerMedian), samples(peer.map((s) => s.seconds)), throughput(peerMedian), fmtMB(peerArchive), (peerArchive / distinct).toFixed(4), fmtMiB(peerPeakRss)],
    ['         skopeo copy --all, sequential', fmtS(copyMedian), samples(peer.map((s) => s.copySeconds)), throughput(copyMedian), '', '', ''],
    ['         tar -cf - | gzip -1', fmtS(packMedian), samples(peer.map((s) => s.packSeconds)), throughput(packMedian), '', '', ''],
    ['ref.   skopeo copy x N + tar -cf (no gzip)', fmtS(plainMedian), samples(plainSamples), throughput(plainMedian), fmtMB(plainBytes), (plainBytes / distinct).toFixed(4), ''],
  ]));
  say(`ratio ours/peer (median): ${ratio.toFixed(2)}  (target <= 1.0: ${ratio <= 1 ? 'met' : 'NOT met'})`);
  const ratioRef = oursMedian / plainMedian;
  say(`ratio ours (cold cache)/ref. (skopeo copy + tar, uncompressed): ${ratioRef.toFixed(2)}  (target <= 1.0: ${ratioRef <= 1 ? 'met' : 'NOT met'})`);
  say(`ours archive / distinct blob bytes: ${(oursArchive / distinct).toFixed(4)}  (target <= 1.01: ${oursArchive / distinct <= 1.01 ? 'met' : 'NOT met'})`);
  say(`ours peak RSS per round: ${ours.map((s) => fmtMiB(s.peakRssKiB)).join(', ')}, for ${fmtMB(distinct)} MB of blobs (${rssMethod()})`);
  say(loadAverageLine(loadBefore, loadAfter));
  say('notes: skopeo copies run one after the other (parallel copies into one OCI layout race on index.json),');
  say('       as the guide\'s script runs them; page cache warm for both; every sample is shown, none dropped.');

  const results = {
    benchmark: 'collect',
    date: new Date().toISOString(),
    machine: machine(loadBefore, loadAfter),
    versions: { node: process.version, skopeo: toolVersion('skopeo', ['--version']), gzip: toolVersion('gzip', ['--version']) },
    units: { seconds: 'wall clock, performance.now() around the child processes', MB: 1_000_000, rss: 'KiB' },
    release: {
      sizeMbRequested: ctx.sizeMb,
      images: images.map((i) => ({ reference: i.reference, mediaType: i.mediaType, platforms: i.manifests.length })),
      distinctBlobBytes: distinct,
    },
    rounds: ctx.rounds,
    order: 'interleaved: ours then peer in every round; page cache warm for both',
    ours: {
      command: 'node bin/airgap.js collect LIST -o OUT --plain-http HOST --cache EMPTY-DIR (cold cache)',
      cli: ctx.cli,
      commit: checkoutCommit(ctx.root, ctx.cli),
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
  say(`\nresults written to ${await writeResults(ctx.root, 'collect', results)}`);
  return { oursDir, peerLayout };
}
