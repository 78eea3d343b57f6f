/**
 * The cache part: what the blob cache and differential archives buy, on the bench release.
 *   cold/warm: airgap collect with an empty cache, then again with the cache it filled, interleaved round after
 *              round; bar: warm <= 0.5x cold (median). Measured twice: against the registry on loopback, where
 *              a download costs about what reading the cache back does (the worst case for a cache), and
 *              through a proxy pacing each blob body to 25 MB/s (4 connections: a 1 Gbit/s internet line).
 *   kill:      a collect through a counting proxy (test/support/fault-proxy.ts) that sends half the release's
 *              bytes and then hangs, killed with SIGKILL once its cache stops growing, then run again: bar: the
 *              re-run downloads <= 0.55 of the
 *              release's bytes (blob bodies counted at the proxy), and its archive is byte for byte the one a
 *              run straight through the same proxy writes.
 *   since:     the next release (every image retagged, own layers rebuilt until about 10% of the layer bytes
 *              differ; scripts/bench/release.ts) collected whole and with --since the first one's lock; bar:
 *              the differential archive <= 0.15x the whole one.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startFaultProxy } from '../../test/support/fault-proxy.ts';
import { pushTestImages } from '../../test/support/images.ts';
import type { BenchContext } from './collect.ts';
import { median, timed } from './measure.ts';
import { nextBenchRelease } from './release.ts';
import { checkoutCommit, fmtMB, fmtMiB, fmtS, loadAverageLine, machine, samples, say, table, writeResults } from './report.ts';

// The paced link: 25 MB/s per blob download, 4 at once: 100 MB/s, what a 1 Gbit/s internet line gives.
const LINK_BYTES_PER_SECOND = 25e6;
const LINK_CONNECTIONS = 4;

/** Bytes a cache holds: blobs under their digest, and downloads in partial files. */
async function bytesIn(cache: string): Promise<number> {
  let total = 0;
  for (const dir of [join(cache, 'blobs', 'sha256'), join(cache, 'tmp')]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) total += (await stat(join(dir, name)).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Run a collect and SIGKILL its process group when `kill` resolves; resolves when it is gone. */
async function collectKilled(ctx: BenchContext, args: readonly string[], kill: Promise<void>): Promise<NodeJS.Signals | null> {
  const child = spawn(process.execPath, [ctx.cli, 'collect', ...args], { stdio: 'ignore', detached: true });
  const closed = new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, signal) => resolve(signal)));
  void kill.then(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  });
  return closed;
}

interface Sample {
  seconds: number;
  rss: number | undefined;
}

/** The bench's image list with its registry replaced by `host` (a proxy in front of it), written as `name`. */
async function listVia(ctx: BenchContext, host: string, name: string): Promise<string> {
  const list = join(ctx.work, name);
  await writeFile(list, (await readFile(ctx.listFile, 'utf8')).replaceAll(ctx.source.host, host));
  return list;
}

/**
 * `ctx.rounds` rounds of a collect of `list` with an empty cache, then with the cache it filled; the two archives
 * must be byte for byte the same.
 */
async function coldWarmRounds(ctx: BenchContext, run: { list: string; host: string; name: string; extra: readonly string[] }): Promise<{ cold: Sample[]; warm: Sample[] }> {
  const cache = join(ctx.work, `cache-${run.name}`);
  const cold: Sample[] = [];
  const warm: Sample[] = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    const out = { cold: join(ctx.work, `${run.name}-cold`), warm: join(ctx.work, `${run.name}-warm`) };
    for (const dir of [cache, out.cold, out.warm]) await rm(dir, { recursive: true, force: true });
    const collect = (dir: string) => timed(process.execPath, [ctx.cli, 'collect', run.list, '-o', dir, '--plain-http', run.host, ...run.extra, '--cache', cache], ctx.scratch);
    const a = await collect(out.cold);
    const b = await collect(out.warm);
    cold.push({ seconds: a.seconds, rss: a.peakRssKiB });
    warm.push({ seconds: b.seconds, rss: b.peakRssKiB });
    if ((await sha256Of(join(out.warm, 'images.tar.gz'))) !== (await sha256Of(join(out.cold, 'images.tar.gz')))) throw new Error('the warm collect wrote another archive than the cold one');
    say(`  round ${round}: cold ${fmtS(a.seconds)} s (peak RSS ${fmtMiB(a.peakRssKiB)}), warm ${fmtS(b.seconds)} s (peak RSS ${fmtMiB(b.peakRssKiB)})`);
  }
  return { cold, warm };
}

export async function benchCache(ctx: BenchContext): Promise<void> {
  const loadBefore = loadavg();
  const collect = (args: readonly string[]) => timed(process.execPath, [ctx.cli, 'collect', ...args], ctx.scratch);

  // --- cold and warm
  say(`\ncache: ${ctx.rounds} rounds of a collect with an empty cache (cold) then with the cache it filled (warm), interleaved`);
  const { cold, warm } = await coldWarmRounds(ctx, { list: ctx.listFile, host: ctx.source.host, name: 'loopback', extra: [] });
  const warmRatio = median(warm.map((s) => s.seconds)) / median(cold.map((s) => s.seconds));

  // --- the same over a link with an internet's bandwidth
  say(`\ncache: the same over a paced link: each blob body at ${fmtMB(LINK_BYTES_PER_SECOND)} MB/s (${fmtMB(LINK_BYTES_PER_SECOND * LINK_CONNECTIONS)} MB/s over collect's ${LINK_CONNECTIONS} connections, a 1 Gbit/s line), manifests unpaced`);
  const paced = await startFaultProxy(ctx.source.host, { blobBytesPerSecond: LINK_BYTES_PER_SECOND });
  let link: { cold: Sample[]; warm: Sample[] };
  try {
    link = await coldWarmRounds(ctx, { list: await listVia(ctx, paced.host, 'images-via-link.txt'), host: paced.host, name: 'link', extra: ['-j', String(LINK_CONNECTIONS)] });
  } finally {
    await paced.stop();
  }
  const linkCold = link.cold.map((s) => s.seconds);
  const linkWarm = link.warm.map((s) => s.seconds);
  const linkRatio = median(linkWarm) / median(linkCold);

  // --- killed half-way, then run again
  say('\ncache: a collect killed with SIGKILL half-way through a counting proxy, then run again');
  const proxy = await startFaultProxy(ctx.source.host, {});
  let kill: { rerunBytes: number; cachedAtKill: number; sentAtKill: number; identical: boolean; rerunSeconds: number };
  try {
    const list = await listVia(ctx, proxy.host, 'images-via-proxy.txt');
    const straightOut = join(ctx.work, 'kill-straight');
    await collect([list, '-o', straightOut, '--plain-http', proxy.host, '--cache', join(ctx.work, 'kill-straight-cache')]);
    const straight = await sha256Of(join(straightOut, 'images.tar.gz'));
    const killCache = join(ctx.work, 'kill-cache');
    const out = join(ctx.work, 'kill-out');
    const start = proxy.blobBytes;
    // The proxy sends half the release's bytes and no more (its answers hang there); once the collect has
    // written what reached it (its cache stops growing), it is killed: a kill at half, as both sides see it.
    proxy.plan.stallBlobsAt = start + Math.floor(ctx.distinct / 2);
    let atKill = { cached: 0, sent: 0 };
    let stop = false;
    const half = (async (): Promise<void> => {
      let last = -1;
      let steadySince = performance.now();
      while (!stop) {
        const cached = await bytesIn(killCache);
        if (cached !== last) {
          last = cached;
          steadySince = performance.now();
        } else if (proxy.blobBytes >= (proxy.plan.stallBlobsAt ?? 0) && performance.now() - steadySince > 1000) {
          atKill = { cached, sent: proxy.blobBytes - start };
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const signal = await collectKilled(ctx, [list, '-o', out, '--plain-http', proxy.host, '--cache', killCache], half);
    stop = true;
    if (signal !== 'SIGKILL') throw new Error(`the collect to kill ended on its own (${signal ?? 'exit'}) before half the bytes went through`);
    proxy.plan.stallBlobsAt = undefined;
    const before = proxy.blobBytes;
    const rerun = await collect([list, '-o', out, '--plain-http', proxy.host, '--cache', killCache]);
    const identical = (await sha256Of(join(out, 'images.tar.gz'))) === straight;
    kill = { rerunBytes: proxy.blobBytes - before, cachedAtKill: atKill.cached, sentAtKill: atKill.sent, identical, rerunSeconds: rerun.seconds };
  } finally {
    await proxy.stop();
  }
  const rerunShare = kill.rerunBytes / ctx.distinct;
  say(`  killed with ${fmtMB(kill.cachedAtKill)} MB of ${fmtMB(ctx.distinct)} MB in its cache (the proxy had sent ${fmtMB(kill.sentAtKill)} MB); the re-run downloaded ${fmtMB(kill.rerunBytes)} MB in ${fmtS(kill.rerunSeconds)} s; archive byte-identical to a run straight through: ${kill.identical ? 'yes' : 'NO'}`);

  // --- differential
  say('\ncache: the next release (about 10% of its layer bytes new), whole and with --since the first one\'s lock');
  const next = nextBenchRelease(ctx.sizeMb, 0.1);
  const pushed = await pushTestImages(ctx.source, next.images);
  const nextList = join(ctx.work, 'images-next.txt');
  await writeFile(nextList, pushed.map((i) => `${i.reference}\n`).join(''));
  const nextWhole = join(ctx.work, 'next-whole');
  const nextDiff = join(ctx.work, 'next-diff');
  // The cache the loopback rounds filled, and the lock of their last cold collect: the release before this one.
  const cache = join(ctx.work, 'cache-loopback');
  await collect([nextList, '-o', nextWhole, '--plain-http', ctx.source.host, '--cache', cache]);
  const diffRun = await collect([nextList, '-o', nextDiff, '--plain-http', ctx.source.host, '--cache', cache, '--since', join(ctx.work, 'loopback-cold', 'airgap-lock.json')]);
  const wholeBytes = (await stat(join(nextWhole, 'images.tar.gz'))).size;
  const diffBytes = (await stat(join(nextDiff, 'images.tar.gz'))).size;
  const sinceRatio = diffBytes / wholeBytes;
  say(`  ${fmtMB(next.changedLayerBytes)} MB of ${fmtMB(next.layerBytes)} MB of layer content rebuilt (${((1 - next.changedLayerBytes / next.layerBytes) * 100).toFixed(1)}% shared); whole archive ${fmtMB(wholeBytes)} MB, --since ${fmtMB(diffBytes)} MB (${fmtS(diffRun.seconds)} s)`);

  const loadAfter = loadavg();
  say('');
  say(table([
    ['', 'median s', 'samples s', 'peak RSS'],
    ['cold cache   airgap collect --cache EMPTY', fmtS(median(cold.map((s) => s.seconds))), samples(cold.map((s) => s.seconds)), fmtMiB(Math.max(...cold.map((s) => s.rss ?? 0)))],
    ['warm cache   airgap collect --cache FILLED', fmtS(median(warm.map((s) => s.seconds))), samples(warm.map((s) => s.seconds)), fmtMiB(Math.max(...warm.map((s) => s.rss ?? 0)))],
  ]));
  say(`ratio warm/cold (median): ${warmRatio.toFixed(2)}  (target <= 0.5: ${warmRatio <= 0.5 ? 'met' : 'NOT met'}; on loopback a download costs about what reading the cache does)`);
  say(`ratio warm/cold over the paced link (median): ${linkRatio.toFixed(2)}  (cold ${fmtS(median(linkCold))} s, warm ${fmtS(median(linkWarm))} s; target <= 0.5: ${linkRatio <= 0.5 ? 'met' : 'NOT met'})`);
  say(`re-run after SIGKILL at half: downloaded ${rerunShare.toFixed(2)} of the release's bytes (target <= 0.55: ${rerunShare <= 0.55 ? 'met' : 'NOT met'}); archive byte-identical: ${kill.identical ? 'yes' : 'NO'}`);
  say(`--since archive / whole archive: ${sinceRatio.toFixed(3)}  (target <= 0.15: ${sinceRatio <= 0.15 ? 'met' : 'NOT met'})`);
  say(loadAverageLine(loadBefore, loadAfter));
  const results = {
    benchmark: 'cache',
    date: new Date().toISOString(),
    machine: machine(loadBefore, loadAfter),
    commit: checkoutCommit(ctx.root, ctx.cli),
    release: { distinctBlobBytes: ctx.distinct, images: ctx.images.length },
    pacedLink: { blobBytesPerSecondPerConnection: LINK_BYTES_PER_SECOND, connections: LINK_CONNECTIONS, coldSeconds: linkCold, warmSeconds: linkWarm, ratioWarmOverCold: linkRatio },
    coldWarm: { coldSeconds: cold.map((s) => s.seconds), warmSeconds: warm.map((s) => s.seconds), coldPeakRssKiB: cold.map((s) => s.rss ?? null), warmPeakRssKiB: warm.map((s) => s.rss ?? null), ratioWarmOverCold: warmRatio },
    kill: { ...kill, releaseBytes: ctx.distinct, rerunShare },
    since: { layerBytes: next.layerBytes, changedLayerBytes: next.changedLayerBytes, wholeArchiveBytes: wholeBytes, differentialArchiveBytes: diffBytes, ratio: sinceRatio },
  };
  say(`\nresults written to ${await writeResults(ctx.root, 'cache', results)}`);
}
