/**
 * What the tty forms share of listr2: the task type, and a gate a task waits on until an event settles it
 * (listr2 runs tasks; here the library does the work and the tasks only mirror its steps).
 */
import { Listr, type DefaultRenderer, type ListrDefaultRenderer, type ListrSimpleRenderer, type ListrTask, type ListrTaskWrapper, type SimpleRenderer } from 'listr2';

export type Task = ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>;
export type TaskSpec = ListrTask<unknown, typeof DefaultRenderer, typeof SimpleRenderer>;
export type ListrOptions = ConstructorParameters<typeof Listr<unknown, ListrDefaultRenderer, ListrSimpleRenderer>>[1];

/** A promise an event settles: the task awaiting it turns green (resolve) or red (reject). */
export class Gate {
  readonly promise: Promise<void>;
  #resolve!: () => void;
  #reject!: (err: unknown) => void;
  #settled = false;
  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // The failure itself is reported by the library's own promise: an unwatched gate must not crash the process.
    this.promise.catch(() => {});
  }
  get settled(): boolean {
    return this.#settled;
  }
  resolve(): void {
    this.#settled = true;
    this.#resolve();
  }
  reject(err: unknown): void {
    this.#settled = true;
    this.#reject(err);
  }
}

/** Settles every gate not yet settled: all green when the work succeeded, red with its error when it failed. */
export function settleAll(gates: Iterable<Gate>, err?: unknown): void {
  for (const gate of gates) {
    if (gate.settled) continue;
    if (err === undefined) gate.resolve();
    else gate.reject(err);
  }
}

/**
 * Starts a listr2 display of `tasks`; the promise ends when the display has drawn its last frame. Failures
 * are not listr's to report: the library's error is the one line the operator reads.
 */
export function runListr(tasks: TaskSpec[], options: ListrOptions = {}): Promise<void> {
  const list = new Listr<unknown, ListrDefaultRenderer, ListrSimpleRenderer>(tasks, {
    exitOnError: false,
    ...options,
    rendererOptions: { showErrorMessage: false, collapseErrors: false, ...options.rendererOptions },
  });
  return list.run().then(
    () => {},
    () => {},
  );
}
