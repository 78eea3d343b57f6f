import { AirgapError, messageOf } from '../errors.ts';

/**
 * Run `fn` over `items` with at most `limit` running at once. Every item is tried, even after a failure,
 * so the caller can report every broken image in one go instead of one per run.
 */
export async function settleConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const index = next++;
      const item = items[index] as T;
      try {
        results[index] = { status: 'fulfilled', value: await fn(item, index) };
      } catch (err: unknown) {
        results[index] = { status: 'rejected', reason: err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * The values of settled work, or one error: the only failure as it is, or every failure in one message
 * (`${n} of ${total} ${what}:` and one line each), with the first one's hint, else `hint`.
 */
export function fulfilledOrThrow<R>(settled: readonly PromiseSettledResult<R>[], what: string, hint: string): R[] {
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    const first = failures[0];
    // One line, as every failure is: the terminal shows a newline inside a message escaped.
    throw new AirgapError(`${failures.length} of ${settled.length} ${what}: ${failures.map(messageOf).join('; ')}`, {
      cause: first,
      hint: (first instanceof AirgapError ? first.hint : undefined) ?? hint,
    });
  }
  return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
}
