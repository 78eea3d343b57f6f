/**
 * How far a collect is, for a person watching a long one: bytes downloaded into the cache and bytes written
 * into the archive against their totals, the rate of each over the last seconds, and the time left for the
 * whole collect. The two run at once (downloads ahead, the archive behind them), and the collect ends when
 * both have, so the time left is the longer of the two.
 */

/** What the meter says at one moment; sent to the CLI as a `progress` event. */
export interface TransferSnapshot {
  /** Bytes to download this run (blobs not in the cache), and how many of them have arrived. */
  downloadTotal: number;
  downloaded: number;
  /** Bytes of blobs the archive gets, and how many are in it. */
  writeTotal: number;
  written: number;
  /** Of `writeTotal`, the bytes the cache already held when the run started. */
  fromCache: number;
  elapsedSeconds: number;
  /** Over the last WINDOW_MS; undefined until there is enough to say. */
  downloadBytesPerSecond: number | undefined;
  writeBytesPerSecond: number | undefined;
  secondsLeft: number | undefined;
}

const WINDOW_MS = 10_000;
// Before this much has happened, a rate is noise: say nothing rather than something wrong.
const MIN_SPAN_MS = 1_000;
const EMIT_EVERY_MS = 250;

interface Sample {
  at: number;
  downloaded: number;
  written: number;
}

export class TransferMeter {
  readonly #startedAt: number;
  readonly #now: () => number;
  readonly #onSnapshot: (snapshot: TransferSnapshot) => void;
  readonly #samples: Sample[] = [];
  #lastEmit = 0;
  downloadTotal: number;
  readonly writeTotal: number;
  readonly fromCache: number;
  downloaded = 0;
  written = 0;

  constructor(totals: { downloadTotal: number; writeTotal: number; fromCache: number }, onSnapshot: (snapshot: TransferSnapshot) => void, now: () => number = Date.now) {
    this.downloadTotal = totals.downloadTotal;
    this.writeTotal = totals.writeTotal;
    this.fromCache = totals.fromCache;
    this.#now = now;
    this.#onSnapshot = onSnapshot;
    this.#startedAt = now();
    this.#samples.push({ at: this.#startedAt, downloaded: 0, written: 0 });
  }

  addDownloaded(bytes: number): void {
    this.downloaded += bytes;
    this.#tick();
  }

  addWritten(bytes: number): void {
    this.written += bytes;
    this.#tick();
  }

  /** A cached blob found damaged is fetched again: more to download than planned. */
  addDownloadTotal(bytes: number): void {
    this.downloadTotal += bytes;
  }

  #tick(): void {
    const now = this.#now();
    if (now - this.#lastEmit < EMIT_EVERY_MS) return;
    this.#lastEmit = now;
    this.#onSnapshot(this.snapshot());
  }

  snapshot(): TransferSnapshot {
    const now = this.#now();
    this.#samples.push({ at: now, downloaded: this.downloaded, written: this.written });
    while (this.#samples.length > 2 && now - (this.#samples[1] as Sample).at >= WINDOW_MS) this.#samples.shift();
    const first = this.#samples[0] as Sample;
    const span = now - first.at;
    const rate = (done: number, before: number): number | undefined => (span < MIN_SPAN_MS ? undefined : ((done - before) * 1000) / span);
    const downloadRate = rate(this.downloaded, first.downloaded);
    const writeRate = rate(this.written, first.written);
    const left = (remaining: number, perSecond: number | undefined): number | undefined => {
      if (remaining <= 0) return 0;
      return perSecond === undefined || perSecond <= 0 ? undefined : remaining / perSecond;
    };
    const downloadLeft = left(this.downloadTotal - this.downloaded, downloadRate);
    const writeLeft = left(this.writeTotal - this.written, writeRate);
    return {
      downloadTotal: this.downloadTotal,
      downloaded: this.downloaded,
      writeTotal: this.writeTotal,
      written: this.written,
      fromCache: this.fromCache,
      elapsedSeconds: (now - this.#startedAt) / 1000,
      downloadBytesPerSecond: downloadRate,
      writeBytesPerSecond: writeRate,
      secondsLeft: downloadLeft === undefined || writeLeft === undefined ? undefined : Math.max(downloadLeft, writeLeft),
    };
  }
}
