import type { CollectEvent } from '../collect/events.ts';
import type { TransferSnapshot } from '../collect/transfer-meter.ts';
import { formatBytes } from '../util/format-bytes.ts';

/** `45 s`, `3 min 05 s`, `2 h 07 min`: a time left as a person reads it. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * The whole collect in one line: `120.4 MB / 200.2 MB written, 45.1 MB/s, about 2 s left; downloaded 40.2 MB
 * of 120.0 MB at 30.3 MB/s, 80.2 MB from the cache`.
 */
export function formatTransfer(s: TransferSnapshot): string {
  const rate = (perSecond: number | undefined): string => (perSecond === undefined ? '' : `, ${formatBytes(perSecond)}/s`);
  const done = s.written >= s.writeTotal && s.downloaded >= s.downloadTotal;
  const left = done ? ` in ${formatDuration(s.elapsedSeconds)}` : s.secondsLeft === undefined ? '' : `, about ${formatDuration(s.secondsLeft)} left`;
  const download = s.downloadTotal === 0 ? '' : `; downloaded ${formatBytes(s.downloaded)} of ${formatBytes(s.downloadTotal)}${rate(s.downloadBytesPerSecond)}`;
  const cached = s.fromCache === 0 ? '' : `; ${formatBytes(s.fromCache)} from the cache`;
  return `${formatBytes(s.written)} / ${formatBytes(s.writeTotal)} written${rate(s.writeBytesPerSecond)}${left}${download}${cached}`;
}

/** Where the layers come from, said once before the first byte. */
export function formatTransferPlan(e: Extract<CollectEvent, { type: 'transfer-plan' }>): string {
  if (e.cache === undefined) return `layers: ${e.layers} (${formatBytes(e.bytes)}), streamed from the registry (--no-cache)`;
  const resumed = e.resumeBytes === 0 ? '' : `, ${formatBytes(e.resumeBytes)} of it already there from an interrupted run`;
  return `layers: ${e.layers} (${formatBytes(e.bytes)}): ${e.cachedLayers} in the cache ${e.cache} (${formatBytes(e.cachedBytes)}), ${e.downloadLayers} to download (${formatBytes(e.downloadBytes)}${resumed})`;
}
