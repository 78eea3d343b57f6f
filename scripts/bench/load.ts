/**
 * The load part: `airgap load` into an empty HTTPS docker-registry against skopeo pushing the same images from
 * an already-unpacked OCI layout (the one skopeo's collect made), interleaved round after round. Every sample
 * gets a fresh, empty registry (same CA), so every sample pushes everything:
 *   ours:    node bin/airgap.js load OUT --registry HOST --ca-file CA --charms-dir TMP
 *   re-run:  the same command again, at once, into the same registry (everything is there: it should push nothing)
 *   peer:    for each image, one after the other: skopeo copy --all --preserve-digests --dest-cert-dir CERTS
 *            oci:LAYOUT:REPO:TAG docker://HOST/REPO:TAG
 *   ref.:    the same skopeo copies, 4 at a time (reading one layout in parallel is safe); not the peer figure
 * After each of our loads, untimed: `skopeo inspect --raw` of two images (the multi-arch index and a Docker
 * media type image) must hash to the upstream digests, so the benchmark cannot pass by pushing nothing.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeCertificateAuthority } from '../../test/support/ca.ts';
import type { CertificateAuthority } from '../../test/support/ca.ts';
import type { PushedImage } from '../../test/support/images.ts';
import { startRegistry } from '../../test/support/registry.ts';
import type { RunningRegistry } from '../../test/support/registry.ts';
import { inspectRaw, sha256Digest } from '../../test/support/skopeo.ts';
import { layoutName } from './collect.ts';
import type { BenchContext, Collected } from './collect.ts';
import { median, rssMethod, timed } from './measure.ts';
import { MB } from './release.ts';
import { checkoutCommit, fmtMB, fmtMiB, fmtS, loadAverageLine, machine, peak, samples, say, table, toolVersion, writeResults } from './report.ts';

/** skopeo copies at once in the reference row. */
const PARALLEL_COPIES = 4;

/** Our summary line: "Loaded N images into HOST (M already there): B blobs uploaded (SIZE), K mounted, P already present". */
interface LoadSummary {
  images: number;
  alreadyThere: number;
  uploadedBlobs: number;
  mountedBlobs: number;
  presentBlobs: number;
}

function parseSummary(stdout: string): LoadSummary | undefined {
  const match = /Loaded (\d+) images into \S+(?: \((\d+) already there\))?: (\d+) blobs uploaded \([^)]*\), (\d+) mounted, (\d+) already present/.exec(stdout);
  if (match === null) return undefined;
  return {
    images: Number(match[1]),
    alreadyThere: Number(match[2] ?? '0'),
    uploadedBlobs: Number(match[3]),
    mountedBlobs: Number(match[4]),
    presentBlobs: Number(match[5]),
  };
}

interface OursSample {
  seconds: number;
  peakRssKiB: number | undefined;
  cpuSeconds: number | undefined;
  registryCpuSeconds: number | undefined;
  summary: LoadSummary | undefined;
  rerunSeconds: number;
  rerunPeakRssKiB: number | undefined;
  rerunCpuSeconds: number | undefined;
  rerunRegistryCpuSeconds: number | undefined;
  rerunSummary: LoadSummary | undefined;
  /** Images checked with skopeo inspect --raw after the first run, with the digest found. */
  verified: { path: string; digest: string }[];
}

interface PeerSample {
  seconds: number;
  peakRssKiB: number | undefined;
  /** Summed over the skopeo processes. */
  cpuSeconds: number | undefined;
  registryCpuSeconds: number | undefined;
}

let clockTicks: number | undefined;

/**
 * CPU seconds used so far by the docker-registry serving `registry` (found by its config file, which
 * test/support/registry.ts writes beside the storage it made), or undefined when it cannot be read.
 */
async function registryCpu(registry: RunningRegistry): Promise<number | undefined> {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    const config = join(dirname(registry.storageDir), 'config.yml');
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (!cmdline.split('\0').includes(config)) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / clockTicks;
    }
  } catch {
    // Not Linux, or the process is gone: the column says n/a.
  }
  return undefined;
}

/** Runs `fn` and returns what it returns with the registry CPU seconds it cost. */
async function withRegistryCpu<T>(registry: RunningRegistry, fn: () => Promise<T>): Promise<[T, number | undefined]> {
  const before = await registryCpu(registry);
  const value = await fn();
  const after = await registryCpu(registry);
  return [value, before === undefined || after === undefined ? undefined : after - before];
}

/** A sum that is unknown when one term is. */
function sum(values: readonly (number | undefined)[]): number | undefined {
  let total = 0;
  for (const v of values) {
    if (v === undefined) return undefined;
    total += v;
  }
  return total;
}

/** A fresh, empty HTTPS registry for one sample, stopped (and its storage removed) whatever `fn` does. */
async function withEmptyRegistry<T>(ca: CertificateAuthority, fn: (registry: RunningRegistry) => Promise<T>): Promise<T> {
  const registry = await startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile } });
  try {
    return await fn(registry);
  } finally {
    await registry.stop();
  }
}

/** The images whose pushed digest is checked: the multi-arch index, and one with Docker media types. */
function imagesToVerify(images: readonly PushedImage[]): PushedImage[] {
  const chosen = [images.find((i) => i.manifests.length > 1), images.find((i) => i.mediaType.startsWith('application/vnd.docker.'))]
    .filter((i): i is PushedImage => i !== undefined);
  const first = images[0];
  return chosen.length > 0 ? [...new Set(chosen)] : first === undefined ? [] : [first];
}

async function verifyPushed(registry: RunningRegistry, ca: CertificateAuthority, images: readonly PushedImage[], oursDir: string): Promise<{ path: string; digest: string }[]> {
  const checked: { path: string; digest: string }[] = [];
  for (const image of imagesToVerify(images)) {
    const path = layoutName(image);
    const digest = sha256Digest(await inspectRaw(`${registry.host}/${path}`, { caFile: ca.caFile }));
    if (digest !== image.digest) {
      throw new Error(`after airgap load, ${registry.host}/${path} is ${digest}, upstream it is ${image.digest}: the load did not keep the digest`);
    }
    checked.push({ path, digest });
  }
  // The map `deploy` reads must name every image too.
  const map = JSON.parse(await readFile(join(oursDir, 'airgap-images.json'), 'utf8')) as { images?: unknown[] };
  if (map.images?.length !== images.length) {
    throw new Error(`airgap-images.json names ${map.images?.length ?? 0} images, expected ${images.length}`);
  }
  return checked;
}

async function runOurs(ctx: BenchContext, ca: CertificateAuthority, oursDir: string): Promise<OursSample> {
  const charmsDir = join(ctx.work, 'load-charms');
  return withEmptyRegistry(ca, async (registry) => {
    const args = [ctx.cli, 'load', oursDir, '--registry', registry.host, '--ca-file', ca.caFile, '--charms-dir', charmsDir];
    await rm(charmsDir, { recursive: true, force: true });
    const [first, firstRegistryCpu] = await withRegistryCpu(registry, () => timed(process.execPath, args, ctx.scratch));
    // At once, into the same registry, before anything else touches it (the check below only reads).
    const [again, againRegistryCpu] = await withRegistryCpu(registry, () => timed(process.execPath, args, ctx.scratch));
    const verified = await verifyPushed(registry, ca, ctx.images, oursDir);
    return {
      seconds: first.seconds,
      peakRssKiB: first.peakRssKiB,
      cpuSeconds: first.cpuSeconds,
      registryCpuSeconds: firstRegistryCpu,
      summary: parseSummary(first.stdout),
      rerunSeconds: again.seconds,
      rerunPeakRssKiB: again.peakRssKiB,
      rerunCpuSeconds: again.cpuSeconds,
      rerunRegistryCpuSeconds: againRegistryCpu,
      rerunSummary: parseSummary(again.stdout),
      verified,
    };
  });
}

/** skopeo pushes every image from the OCI layout, `width` at a time, timed as one figure. */
async function runSkopeo(ctx: BenchContext, ca: CertificateAuthority, layout: string, width: number): Promise<PeerSample> {
  return withEmptyRegistry(ca, async (registry) => {
    let rss: number | undefined;
    const cpu: (number | undefined)[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let image = ctx.images[next++]; image !== undefined; image = ctx.images[next++]) {
        const name = layoutName(image);
        const copied = await timed('skopeo', ['--insecure-policy', 'copy', '--all', '--preserve-digests', '--dest-cert-dir', ca.certDir,
          `oci:${layout}:${name}`, `docker://${registry.host}/${name}`], ctx.scratch);
        rss = peak([rss, copied.peakRssKiB]);
        cpu.push(copied.cpuSeconds);
      }
    };
    const [seconds, registryCpuSeconds] = await withRegistryCpu(registry, async () => {
      const started = performance.now();
      await Promise.all(Array.from({ length: Math.min(width, ctx.images.length) }, worker));
      return (performance.now() - started) / 1000;
    });
    return { seconds, peakRssKiB: rss, cpuSeconds: sum(cpu), registryCpuSeconds };
  });
}

function summaryText(s: LoadSummary | undefined): string {
  if (s === undefined) return 'summary line not found';
  return `${s.uploadedBlobs} blobs uploaded, ${s.mountedBlobs} mounted, ${s.presentBlobs} present, ${s.alreadyThere}/${s.images} images already there`;
}

export async function benchLoad(ctx: BenchContext, collected: Collected): Promise<void> {
  const { distinct, images } = ctx;
  const ca = await makeCertificateAuthority(join(ctx.work, 'load-ca'));
  const loadBefore = loadavg();
  say(`\nload: ${ctx.rounds} rounds, interleaved (ours + its re-run, then peer, then ref., each round), each sample into a fresh, empty HTTPS docker-registry`);
  say(`  ours pushes ${collected.oursDir}/images.tar.gz; skopeo pushes from the OCI layout its collect made, already unpacked`);
  const ours: OursSample[] = [];
  const peer: PeerSample[] = [];
  const parallel: PeerSample[] = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    const a = await runOurs(ctx, ca, collected.oursDir);
    ours.push(a);
    say(`  round ${round}: ours ${fmtS(a.seconds)} s (peak RSS ${fmtMiB(a.peakRssKiB)}; ${summaryText(a.summary)}); ` +
      `re-run ${fmtS(a.rerunSeconds)} s (${summaryText(a.rerunSummary)}); verified ${a.verified.map((v) => v.path).join(', ')}`);
    const b = await runSkopeo(ctx, ca, collected.peerLayout, 1);
    peer.push(b);
    say(`  round ${round}: peer ${fmtS(b.seconds)} s (skopeo copy x ${images.length}, one after the other)`);
    const c = await runSkopeo(ctx, ca, collected.peerLayout, PARALLEL_COPIES);
    parallel.push(c);
    say(`  round ${round}: ref. ${fmtS(c.seconds)} s (skopeo copy x ${images.length}, ${PARALLEL_COPIES} at a time; not the peer figure)`);
  }
  const loadAfter = loadavg();

  const oursMedian = median(ours.map((s) => s.seconds));
  const rerunMedian = median(ours.map((s) => s.rerunSeconds));
  const peerMedian = median(peer.map((s) => s.seconds));
  const parallelMedian = median(parallel.map((s) => s.seconds));
  const ratio = oursMedian / peerMedian;
  const rerunRatio = rerunMedian / oursMedian;
  const throughput = (seconds: number): string => (distinct / MB / seconds).toFixed(1);
  const rerunUploads = ours.map((s) => s.rerunSummary?.uploadedBlobs);
  const fmtCpu = (values: readonly (number | undefined)[]): string => {
    const known = values.filter((v): v is number => v !== undefined);
    return known.length === values.length && known.length > 0 ? fmtS(median(known)) : 'n/a';
  };

  say(`\nairgap load vs skopeo: ${images.length} images, ${fmtMB(distinct)} MB distinct blobs, ${ctx.rounds} rounds, ${cpus().length} CPUs, ` +
    `into an empty HTTPS docker-registry on loopback (MB = 10^6 bytes)`);
  say(table([
    ['', 'median s', 'samples s', 'MB/s', 'client CPU s', 'registry CPU s', 'peak RSS'],
    ['ours   airgap load (-j 4 default), empty registry', fmtS(oursMedian), samples(ours.map((s) => s.seconds)), throughput(oursMedian),
      fmtCpu(ours.map((s) => s.cpuSeconds)), fmtCpu(ours.map((s) => s.registryCpuSeconds)), fmtMiB(peak(ours.map((s) => s.peakRssKiB)))],
    ['ours   re-run, everything already there', fmtS(rerunMedian), samples(ours.map((s) => s.rerunSeconds)), '',
      fmtCpu(ours.map((s) => s.rerunCpuSeconds)), fmtCpu(ours.map((s) => s.rerunRegistryCpuSeconds)), fmtMiB(peak(ours.map((s) => s.rerunPeakRssKiB)))],
    [`peer   skopeo copy --all x ${images.length}, sequential`, fmtS(peerMedian), samples(peer.map((s) => s.seconds)), throughput(peerMedian),
      fmtCpu(peer.map((s) => s.cpuSeconds)), fmtCpu(peer.map((s) => s.registryCpuSeconds)), fmtMiB(peak(peer.map((s) => s.peakRssKiB)))],
    [`ref.   skopeo copy --all x ${images.length}, ${PARALLEL_COPIES} at a time`, fmtS(parallelMedian), samples(parallel.map((s) => s.seconds)), throughput(parallelMedian),
      fmtCpu(parallel.map((s) => s.cpuSeconds)), fmtCpu(parallel.map((s) => s.registryCpuSeconds)), fmtMiB(peak(parallel.map((s) => s.peakRssKiB)))],
  ]));
  say('(client CPU s: user + system of the client processes, by GNU time; registry CPU s: of the docker-registry during the sample, from /proc; medians)');
  say(`ratio ours/peer (median): ${ratio.toFixed(2)}  (target <= 1.0: ${ratio <= 1 ? 'met' : 'NOT met'})`);
  say(`ratio ours/ref. (skopeo ${PARALLEL_COPIES} at a time, not the peer figure): ${(oursMedian / parallelMedian).toFixed(2)}`);
  say(`ratio re-run/first (median): ${rerunRatio.toFixed(2)}  (target <= 0.25: ${rerunRatio <= 0.25 ? 'met' : 'NOT met'}); ` +
    `blobs uploaded by the re-runs: ${rerunUploads.map((n) => (n === undefined ? '?' : String(n))).join(', ')}`);
  say(`ours peak RSS per round: ${ours.map((s) => fmtMiB(s.peakRssKiB)).join(', ')}, for ${fmtMB(distinct)} MB of blobs (${rssMethod()})`);
  say(`verified after every load of ours (skopeo inspect --raw, sha256 = upstream digest): ${imagesToVerify(images).map(layoutName).join(', ')}`);
  say(loadAverageLine(loadBefore, loadAfter));
  say('notes: the peer\'s skopeo copies run one after the other, as a script would; ours reads images.tar.gz as a stream,');
  say('       skopeo reads a layout already unpacked (its unpacking is not timed); skopeo\'s layout holds the Docker-media-type');
  say('       images converted to OCI by its collect copy (same layers); page cache warm for both; every sample is shown.');

  const results = {
    benchmark: 'load',
    date: new Date().toISOString(),
    machine: machine(loadBefore, loadAfter),
    versions: { node: process.version, skopeo: toolVersion('skopeo', ['--version']), registry: toolVersion('/usr/bin/docker-registry', ['--version']) },
    units: {
      seconds: 'wall clock, performance.now() around the child processes', MB: 1_000_000, rss: 'KiB',
      cpuSeconds: 'user + system CPU of the client processes (GNU time)', registryCpuSeconds: 'user + system CPU of docker-registry during the sample (/proc/PID/stat)',
    },
    release: {
      sizeMbRequested: ctx.sizeMb,
      images: images.map((i) => ({ reference: i.reference, mediaType: i.mediaType, platforms: i.manifests.length })),
      distinctBlobBytes: distinct,
    },
    rounds: ctx.rounds,
    order: 'interleaved: ours (then its re-run at once), peer, ref. in every round; each into a fresh, empty HTTPS docker-registry; page cache warm for all',
    ours: {
      command: 'node bin/airgap.js load OUT --registry HOST --ca-file CA --charms-dir TMP',
      cli: ctx.cli,
      commit: checkoutCommit(ctx.root, ctx.cli),
      medianSeconds: oursMedian,
      samplesSeconds: ours.map((s) => s.seconds),
      throughputMBps: distinct / MB / oursMedian,
      peakRssKiB: ours.map((s) => s.peakRssKiB ?? null),
      cpuSeconds: ours.map((s) => s.cpuSeconds ?? null),
      registryCpuSeconds: ours.map((s) => s.registryCpuSeconds ?? null),
      summaries: ours.map((s) => s.summary ?? null),
      verified: ours.map((s) => s.verified),
    },
    rerun: {
      what: 'the same command again, at once, into the same registry',
      medianSeconds: rerunMedian,
      samplesSeconds: ours.map((s) => s.rerunSeconds),
      peakRssKiB: ours.map((s) => s.rerunPeakRssKiB ?? null),
      cpuSeconds: ours.map((s) => s.rerunCpuSeconds ?? null),
      registryCpuSeconds: ours.map((s) => s.rerunRegistryCpuSeconds ?? null),
      summaries: ours.map((s) => s.rerunSummary ?? null),
    },
    peer: {
      command: 'for each image, sequential: skopeo copy --all --preserve-digests --dest-cert-dir CERTS oci:LAYOUT:REPO:TAG docker://HOST/REPO:TAG',
      medianSeconds: peerMedian,
      samplesSeconds: peer.map((s) => s.seconds),
      throughputMBps: distinct / MB / peerMedian,
      peakRssKiB: peer.map((s) => s.peakRssKiB ?? null),
      cpuSeconds: peer.map((s) => s.cpuSeconds ?? null),
      registryCpuSeconds: peer.map((s) => s.registryCpuSeconds ?? null),
    },
    reference: {
      what: `not part of the peer figure: the same skopeo copies, ${PARALLEL_COPIES} at a time`,
      medianSeconds: parallelMedian,
      samplesSeconds: parallel.map((s) => s.seconds),
      throughputMBps: distinct / MB / parallelMedian,
      peakRssKiB: parallel.map((s) => s.peakRssKiB ?? null),
      cpuSeconds: parallel.map((s) => s.cpuSeconds ?? null),
      registryCpuSeconds: parallel.map((s) => s.registryCpuSeconds ?? null),
    },
    ratioOursOverPeer: ratio,
    ratioOursOverReference: oursMedian / parallelMedian,
    ratioRerunOverFirst: rerunRatio,
    rssMethod: rssMethod(),
  };
  say(`\nresults written to ${await writeResults(ctx.root, 'load', results)}`);
}
