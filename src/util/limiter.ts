/**
 * At most `limit` tasks at once, and the ones started in the background tracked, so that the first failure
 * is kept and a caller can wait for all of them. Work is queued in the order it is asked for.
 */
export class Limiter {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #background = new Set<Promise<unknown>>();
  #failure: { error: unknown } | undefined;

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** The first failure of a background task, if any: the caller stops feeding work when there is one. */
  get failure(): { error: unknown } | undefined {
    return this.#failure;
  }

  /** Wait for a slot; the returned function gives it back (once). */
  async acquire(): Promise<() => void> {
    if (this.#running >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      this.#waiting.shift()?.();
    };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }

  /** Track `promise` until it settles; its failure is kept for failure() and drain(). */
  track(promise: Promise<unknown>): void {
    const tracked = promise.then(
      () => undefined,
      (error: unknown) => {
        this.#failure ??= { error };
      },
    );
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }

  /** Start `task` in the background, in a slot of its own. */
  background(task: () => Promise<unknown>): void {
    this.track(this.run(task));
  }

  /** Wait until every tracked task has settled (including ones they start), then throw the first failure. */
  async drain(): Promise<void> {
    while (this.#background.size > 0) await Promise.all([...this.#background]);
    if (this.#failure !== undefined) throw this.#failure.error;
  }
}
