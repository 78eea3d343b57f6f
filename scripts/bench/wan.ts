/**
 * The WAN part: the load part again, but with a round trip of RTT ms between the client and the registry
 * (test/support/delay-proxy.ts: every byte held RTT/2 each way, every connection opened after one RTT), where
 * round trips, not bytes, decide. Each sample goes into a fresh, empty HTTPS docker-registry behind its own
 * delay proxy:
 *   ours: node bin/airgap.js load OUT --registry PROXY --ca-file CA (default -j 4)
 *   peer: for each image, one after the other: skopeo copy --all --preserve-digests oci:LAYOUT:REPO:TAG docker://PROXY/REPO:TAG
 * The bar: ours <= 0.2x skopeo over a 40 ms round trip, on the 40 MB release (--size-mb 40).
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeCertificateAuthority, type CertificateAuthority } from '../../test/support/ca.ts';
import { startDelayProxy } from '../../test/support/delay-proxy.ts';
import { startRegistry } from '../../test/support/registry.ts';
import { inspectRaw, sha256Digest } from '../../test/support/skopeo.ts';
import { layoutName, type BenchContext, type Collected } from './collect.ts';
import { median, timed } from './measure.ts';
import { checkoutCommit, fmtMB, fmtMiB, fmtS, loadAverageLine, machine, samples, say, table, writeResults } from './report.ts';

export const WAN_RTT_MS = 40;

/** A fresh, empty HTTPS registry behind a delay proxy, for one sample. */
async function behindWan<T>(ca: CertificateAuthority, rttMs: number, fn: (host: string, verify: (path: string) => Promise<string>) => Promise<T>): Promise<T> {
  const registry = await startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile } });
  const proxy = await startDelayProxy(registry.host, rttMs);
  try {
    return await fn(proxy.host, async (path) => sha256Digest(await inspectRaw(`${registry.host}/${path}`, { caFile: ca.caFile })));
  } finally {
    await proxy.stop();
    await registry.stop();
  }
}

export async function benchWan(ctx: BenchContext, collected: Collected, rttMs = WAN_RTT_MS): Promise<void> {
  const ca = await makeCertificateAuthority(join(ctx.work, 'wan-ca'));
  const loadBefore = loadavg();
  say(`\nwan: ${ctx.rounds} rounds, a ${rttMs} ms round trip between client and registry (delay proxy on loopback), each sample into a fresh, empty HTTPS docker-registry`);
  const ours: { seconds: number; rss: number | undefined }[] = [];
  const peer: number[] = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    const a = await behindWan(ca, rttMs, async (host, verify) => {
      const run = await timed(process.execPath, [ctx.cli, 'load', collected.oursDir, '--registry', host, '--ca-file', ca.caFile, '--charms-dir', join(ctx.work, 'wan-charms')], ctx.scratch);
      // The benchmark cannot pass by pushing nothing: every image must be served with its upstream digest.
      for (const image of ctx.images) {
        const digest = await verify(layoutName(image));
        if (digest !== image.digest) throw new Error(`after airgap load over the WAN, ${layoutName(image)} is ${digest}, upstream ${image.digest}`);
      }
      return { seconds: run.seconds, rss: run.peakRssKiB };
    });
    ours.push(a);
    const b = await behindWan(ca, rttMs, async (host) => {
      const started = performance.now();
      for (const image of ctx.images) {
        const name = layoutName(image);
        await timed('skopeo', ['--insecure-policy', 'copy', '--all', '--preserve-digests', '--dest-cert-dir', ca.certDir, `oci:${collected.peerLayout}:${name}`, `docker://${host}/${name}`], ctx.scratch);
      }
      return (performance.now() - started) / 1000;
    });
    peer.push(b);
    say(`  round ${round}: ours ${fmtS(a.seconds)} s (peak RSS ${fmtMiB(a.rss)}), peer ${fmtS(b)} s (skopeo copy x ${ctx.images.length}, one after the other)`);
  }
  const loadAfter = loadavg();
  const oursMedian = median(ours.map((s) => s.seconds));
  const peerMedian = median(peer);
  const ratio = oursMedian / peerMedian;
  say(`\nairgap load vs skopeo over a ${rttMs} ms round trip: ${ctx.images.length} images, ${fmtMB(ctx.distinct)} MB distinct blobs, ${ctx.rounds} rounds, ${cpus().length} CPUs`);
  say(table([
    ['', 'median s', 'samples s'],
    ['ours   airgap load (-j 4 default)', fmtS(oursMedian), samples(ours.map((s) => s.seconds))],
    [`peer   skopeo copy --all x ${ctx.images.length}, sequential`, fmtS(peerMedian), samples(peer)],
  ]));
  say(`ratio ours/peer over the WAN (median): ${ratio.toFixed(2)}  (target <= 0.2: ${ratio <= 0.2 ? 'met' : 'NOT met'})`);
  say(loadAverageLine(loadBefore, loadAfter));
  const results = {
    benchmark: 'wan',
    date: new Date().toISOString(),
    machine: machine(loadBefore, loadAfter),
    rttMs,
    delay: 'test/support/delay-proxy.ts: a TCP proxy on loopback holding every chunk rtt/2 in each direction and opening each connection after one rtt',
    release: { sizeMbRequested: ctx.sizeMb, images: ctx.images.length, distinctBlobBytes: ctx.distinct },
    ours: { command: 'node bin/airgap.js load OUT --registry PROXY --ca-file CA', commit: checkoutCommit(ctx.root, ctx.cli), medianSeconds: oursMedian, samplesSeconds: ours.map((s) => s.seconds), peakRssKiB: ours.map((s) => s.rss ?? null) },
    peer: { command: 'for each image, sequential: skopeo copy --all --preserve-digests oci:LAYOUT:REPO:TAG docker://PROXY/REPO:TAG', medianSeconds: peerMedian, samplesSeconds: peer },
    ratioOursOverPeer: ratio,
  };
  say(`\nresults written to ${await writeResults(ctx.root, 'wan', results)}`);
}
