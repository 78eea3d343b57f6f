import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/errors.ts';
import { sleep } from '../../src/util/sleep.ts';

describe('sleep', () => {
  it('resolves when the time is up', async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });

  it('rejects with the reason of a signal that aborts while it waits, not a generic AbortError', async () => {
    const controller = new AbortController();
    const waiting = sleep(600_000, controller.signal);
    const reason = new CancelledError('interrupted');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });

  it('rejects at once with the reason of a signal already aborted', async () => {
    const reason = new CancelledError('interrupted');
    await expect(sleep(600_000, AbortSignal.abort(reason))).rejects.toBe(reason);
  });
});
