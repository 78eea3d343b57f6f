/**
 * Long synchronous work (parsing and scanning a large YAML file) starves the event loop, and with it the
 * SIGINT/SIGTERM handlers: Ctrl-C would wait until the work is done. A checkpoint, called often from such
 * work, lets the event loop turn every few milliseconds and stops the work once the signal has fired.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Work between two turns of the event loop: short enough for Ctrl-C to feel instant, long enough to cost nothing. */
const SLICE_MS = 10;

export type Checkpoint = () => Promise<void>;

/** A checkpoint for one piece of work: awaits a turn of the event loop when a slice has passed, then throws the signal's reason if it fired. */
export function checkpoint(signal?: AbortSignal): Checkpoint {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart < SLICE_MS) {
      signal?.throwIfAborted();
      return;
    }
    // setImmediate runs after the poll phase, where signal handlers and I/O callbacks get their turn.
    await nextTurn();
    sliceStart = performance.now();
    signal?.throwIfAborted();
  };
}
