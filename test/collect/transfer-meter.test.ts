import { describe, expect, it } from 'vitest';
import { TransferMeter, type TransferSnapshot } from '../../src/collect/transfer-meter.ts';
import { formatDuration, formatTransfer } from '../../src/cli/transfer-progress.ts';

/** A meter on a clock the test moves: no test here waits for real time. */
function meterAt(totals: { downloadTotal: number; writeTotal: number; fromCache: number }): { meter: TransferMeter; advance: (ms: number) => void; sent: TransferSnapshot[] } {
  let now = 1_000_000;
  const sent: TransferSnapshot[] = [];
  const meter = new TransferMeter(totals, (s) => sent.push(s), () => now);
  return { meter, advance: (ms) => (now += ms), sent };
}

describe('TransferMeter', () => {
  it('says nothing of rates before a second has passed', () => {
    const { meter, advance } = meterAt({ downloadTotal: 100, writeTotal: 200, fromCache: 100 });
    advance(500);
    meter.addDownloaded(10);
    const s = meter.snapshot();
    expect(s.downloadBytesPerSecond).toBeUndefined();
    expect(s.secondsLeft).toBeUndefined();
    expect(s).toMatchObject({ downloaded: 10, downloadTotal: 100, written: 0, writeTotal: 200, fromCache: 100 });
  });

  it('gives rates over its window, and the time left as the longer of downloading and writing', () => {
    const { meter, advance } = meterAt({ downloadTotal: 1000, writeTotal: 2000, fromCache: 1000 });
    for (let i = 0; i < 4; i++) {
      advance(1000);
      meter.addDownloaded(100);
      meter.addWritten(300);
    }
    const s = meter.snapshot();
    expect(s.downloadBytesPerSecond).toBe(100);
    expect(s.writeBytesPerSecond).toBe(300);
    // 600 left to download at 100/s, 800 left to write at 300/s: downloading decides.
    expect(s.secondsLeft).toBe(6);
    expect(s.elapsedSeconds).toBe(4);
  });

  it('forgets what is older than its window, so a rate follows the link as it changes', () => {
    const { meter, advance } = meterAt({ downloadTotal: 10_000, writeTotal: 10_000, fromCache: 0 });
    for (let i = 0; i < 20; i++) {
      advance(1000);
      meter.addDownloaded(i < 10 ? 10 : 500);
      meter.snapshot();
    }
    expect(meter.snapshot().downloadBytesPerSecond).toBe(500);
  });

  it('sends a snapshot at most four times a second', () => {
    const { meter, advance, sent } = meterAt({ downloadTotal: 10_000, writeTotal: 0, fromCache: 0 });
    for (let i = 0; i < 100; i++) {
      advance(10);
      meter.addDownloaded(1);
    }
    expect(sent.length).toBeLessThanOrEqual(4);
    expect(sent.length).toBeGreaterThan(0);
  });
});

describe('progress words', () => {
  it('say durations as a person reads them', () => {
    expect(formatDuration(45.4)).toBe('45 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(7620)).toBe('2 h 07 min');
  });

  it('say the whole collect in one line: written, rate, time left, downloads, cache', () => {
    expect(formatTransfer({
      downloadTotal: 120e6, downloaded: 40e6, writeTotal: 200e6, written: 120e6, fromCache: 80e6, elapsedSeconds: 3,
      downloadBytesPerSecond: 30e6, writeBytesPerSecond: 45e6, secondsLeft: 2.6,
    })).toBe('120.0 MB / 200.0 MB written, 45.0 MB/s, about 3 s left; downloaded 40.0 MB of 120.0 MB, 30.0 MB/s; 80.0 MB from the cache');
    expect(formatTransfer({
      downloadTotal: 0, downloaded: 0, writeTotal: 1e6, written: 0, fromCache: 1e6, elapsedSeconds: 0,
      downloadBytesPerSecond: undefined, writeBytesPerSecond: undefined, secondsLeft: undefined,
    })).toBe('0 B / 1.0 MB written; 1.0 MB from the cache');
  });
});
