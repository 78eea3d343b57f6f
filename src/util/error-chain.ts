/** One error of a chain, reduced to what tells causes apart: its code and message. */
export interface ErrorLink {
  code: string | undefined;
  message: string;
}

/**
 * Every error in the `cause` chain, breadth first, with AggregateError members (undici tries each
 * address of a host and reports them together). Bounded, and safe against cycles.
 */
export function errorChain(err: unknown): ErrorLink[] {
  const links: ErrorLink[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0 && links.length < 32) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    const fields = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    links.push({ code: typeof fields.code === 'string' ? fields.code : undefined, message: typeof fields.message === 'string' ? fields.message : '' });
    queue.push(fields.cause);
    if (Array.isArray(fields.errors)) queue.push(...(fields.errors as unknown[]));
  }
  return links;
}
