import { describe, expect, it } from 'vitest';
import { settleConcurrently } from '../../src/util/concurrency.ts';

/** Let other tasks run: `n` turns of the macrotask queue, so completions interleave without any timer. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('settleConcurrently', () => {
  it.each([
    [1, 10],
    [2, 10],
    [3, 7],
    [4, 3],
    [8, 20],
    [16, 16],
  ])('never runs more than %i at once (%i items), and runs up to that many', async (limit, count) => {
    let inFlight = 0;
    let most = 0;
    const items = Array.from({ length: count }, (_, i) => i);
    // Uneven work, so finishing order differs from starting order.
    const results = await settleConcurrently(items, limit, async (item) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await turns(1 + ((item * 7) % 5));
      inFlight--;
      return item * 10;
    });
    expect(most).toBeLessThanOrEqual(limit);
    expect(most).toBe(Math.min(limit, count));
    expect(results).toEqual(items.map((i) => ({ status: 'fulfilled', value: i * 10 })));
  });

  it('keeps the order of the items, not of completion', async () => {
    const finished: string[] = [];
    const results = await settleConcurrently(['slow', 'medium', 'fast'], 3, async (item, index) => {
      await turns(3 - index);
      finished.push(item);
      return `${item}:${index}`;
    });
    expect(finished).toEqual(['fast', 'medium', 'slow']);
    expect(results).toEqual([
      { status: 'fulfilled', value: 'slow:0' },
      { status: 'fulfilled', value: 'medium:1' },
      { status: 'fulfilled', value: 'fast:2' },
    ]);
  });

  it('records rejections and still runs every other item', async () => {
    const started: number[] = [];
    const failure = new Error('manifest unknown: busybox:0.0');
    const results = await settleConcurrently([0, 1, 2, 3, 4, 5], 2, async (item) => {
      started.push(item);
      await turns(1);
      if (item === 1) throw failure;
      if (item === 4) throw 'not an Error';
      return item;
    });
    expect([...started].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 0 },
      { status: 'rejected', reason: failure },
      { status: 'fulfilled', value: 2 },
      { status: 'fulfilled', value: 3 },
      { status: 'rejected', reason: 'not an Error' },
      { status: 'fulfilled', value: 5 },
    ]);
  });

  it('records a function that throws synchronously', async () => {
    const results = await settleConcurrently([1, 2], 1, (item) => {
      if (item === 1) throw new Error('sync');
      return Promise.resolve(item);
    });
    expect(results[0]?.status).toBe('rejected');
    expect(results[1]).toEqual({ status: 'fulfilled', value: 2 });
  });

  it.each([
    ['no items', [], 4],
    ['a limit of 0 still runs one at a time', [1, 2, 3], 0],
    ['a limit above the item count', [1, 2], 100],
  ])('handles %s', async (_name, items, limit) => {
    let inFlight = 0;
    let most = 0;
    const results = await settleConcurrently(items, limit, async (item) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await turns(1);
      inFlight--;
      return item;
    });
    expect(results).toEqual(items.map((value) => ({ status: 'fulfilled', value })));
    expect(most).toBe(items.length === 0 ? 0 : Math.max(1, Math.min(limit, items.length)));
  });

  it('starts nothing when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled by Ctrl-C'));
    const started: number[] = [];
    await expect(settleConcurrently([1, 2, 3], 2, async (item) => {
      started.push(item);
      return item;
    }, controller.signal)).rejects.toThrow('cancelled by Ctrl-C');
    expect(started).toEqual([]);
  });

  it('starts no new item once the signal aborts', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const promise = settleConcurrently(Array.from({ length: 10 }, (_, i) => i), 2, async (item) => {
      started.push(item);
      if (item === 2) controller.abort();
      await turns(2);
      return item;
    }, controller.signal);
    await expect(promise).rejects.toMatchObject({ name: 'AbortError' });
    await turns(10);
    expect(started).toEqual([0, 1, 2]);
  });
});
