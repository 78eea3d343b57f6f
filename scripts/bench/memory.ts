/**
 * The memory part: peak RSS of `airgap collect` (cold cache) and `airgap load` on the bench release and on one
 * ten times its size (--memory-mb, default 2000), same shape, served by a registry of its own. Memory must not
 * grow with the release: bar: the large release's peak within 10% of the small one's. Each command runs
 * `rounds` times at each size; the medians of the peaks are compared (one round the machine's other work
 * slowed down can peak higher: every round is shown, and the highest too).
 */
import { rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { distinctBytes, pushTestImages } from '../../test/support/images.ts';
import { startRegistry, type RunningRegistry } from '../../test/support/registry.ts';
import type { BenchContext } from './collect.ts';
import { median, rssMethod, timed } from './measure.ts';
import { benchRelease } from './release.ts';
import { checkoutCommit, fmtMB, fmtMiB, fmtS, loadAverageLine, machine, peak, say, table, writeResults } from './report.ts';

interface Size {
  label: string;
  source: RunningRegistry;
  list: string;
  distinct: number;
}

interface Peaks {
  collect: (number | undefined)[];
  load: (number | undefined)[];
  collectSeconds: number[];
  loadSeconds: number[];
}

async function measure(ctx: BenchContext, size: Size): Promise<Peaks> {
  const peaks: Peaks = { collect: [], load: [], collectSeconds: [], loadSeconds: [] };
  const out = join(ctx.work, `memory-${size.label}`);
  for (let round = 1; round <= ctx.rounds; round++) {
    await rm(out, { recursive: true, force: true });
    await rm(`${out}-cache`, { recursive: true, force: true });
    const collected = await timed(process.execPath, [ctx.cli, 'collect', size.list, '-o', out, '--plain-http', size.source.host, '--cache', `${out}-cache`], ctx.scratch);
    peaks.collect.push(collected.peakRssKiB);
    peaks.collectSeconds.push(collected.seconds);
    // A fresh, empty registry for every load, so that every load pushes everything.
    const target = await startRegistry();
    try {
      const loaded = await timed(process.execPath, [ctx.cli, 'load', out, '--registry', target.host, '--plain-http', target.host, '--charms-dir', join(ctx.work, 'memory-charms')], ctx.scratch);
      peaks.load.push(loaded.peakRssKiB);
      peaks.loadSeconds.push(loaded.seconds);
    } finally {
      await target.stop();
    }
    await rm(`${out}-cache`, { recursive: true, force: true });
    say(`  ${size.label} round ${round}: collect ${fmtS(collected.seconds)} s, peak RSS ${fmtMiB(collected.peakRssKiB)}; load ${fmtS(peaks.loadSeconds.at(-1) ?? 0)} s, peak RSS ${fmtMiB(peaks.load.at(-1))}`);
  }
  await rm(out, { recursive: true, force: true });
  return peaks;
}

export async function benchMemory(ctx: BenchContext, largeMb: number): Promise<void> {
  const loadBefore = loadavg();
  say(`\nmemory: peak RSS of collect (cold cache) and load, at the ${fmtMB(ctx.distinct)} MB bench release and at a ${largeMb} MB one of the same shape`);
  const small: Size = { label: `${Math.round(ctx.distinct / 1e6)}MB`, source: ctx.source, list: ctx.listFile, distinct: ctx.distinct };
  const registry = await startRegistry();
  try {
    say(`  generating and pushing the ${largeMb} MB release (untimed)...`);
    const started = performance.now();
    const images = await pushTestImages(registry, benchRelease(largeMb).images);
    const list = join(ctx.work, 'images-large.txt');
    await writeFile(list, images.map((i) => `${i.reference}\n`).join(''));
    const large: Size = { label: `${Math.round(distinctBytes(images) / 1e6)}MB`, source: registry, list, distinct: distinctBytes(images) };
    say(`  done in ${fmtS((performance.now() - started) / 1000)} s: ${fmtMB(large.distinct)} MB of distinct blobs`);
    const smallPeaks = await measure(ctx, small);
    const largePeaks = await measure(ctx, large);
    const loadAfter = loadavg();
    const middle = (peaks: (number | undefined)[]): number => median(peaks.filter((p): p is number => p !== undefined));
    const row = (what: string, size: Size, peaks: (number | undefined)[]): string[] => [what, size.label, peaks.map(fmtMiB).join(', '), fmtMiB(middle(peaks)), fmtMiB(peak(peaks))];
    say('');
    say(table([
      ['', 'release', 'peak RSS per round', 'median', 'highest'],
      row('airgap collect', small, smallPeaks.collect),
      row('airgap collect', large, largePeaks.collect),
      row('airgap load', small, smallPeaks.load),
      row('airgap load', large, largePeaks.load),
    ]));
    const growth = (a: (number | undefined)[], b: (number | undefined)[]): number => (middle(b) - middle(a)) / middle(a);
    const collectGrowth = growth(smallPeaks.collect, largePeaks.collect);
    const loadGrowth = growth(smallPeaks.load, largePeaks.load);
    const verdict = (g: number): string => (Math.abs(g) <= 0.1 ? 'met' : 'NOT met');
    say(`collect: ${large.label} peak / ${small.label} peak (medians) = ${(1 + collectGrowth).toFixed(3)}  (target within 10%: ${verdict(collectGrowth)})`);
    say(`load:    ${large.label} peak / ${small.label} peak (medians) = ${(1 + loadGrowth).toFixed(3)}  (target within 10%: ${verdict(loadGrowth)})`);
    say(`peak RSS by ${rssMethod()}`);
    say(loadAverageLine(loadBefore, loadAfter));
    const results = {
      benchmark: 'memory',
      date: new Date().toISOString(),
      machine: machine(loadBefore, loadAfter),
      commit: checkoutCommit(ctx.root, ctx.cli),
      sizes: { small: small.distinct, large: large.distinct },
      small: smallPeaks,
      large: largePeaks,
      collectGrowth,
      loadGrowth,
      rssMethod: rssMethod(),
    };
    say(`\nresults written to ${await writeResults(ctx.root, 'memory', results)}`);
  } finally {
    await registry.stop();
  }
}
