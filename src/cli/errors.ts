import { AirgapError, CancelledError, UsageError } from '../errors.ts';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_CANCELLED = 130;

/** One line for the operator: what failed and what to do. The stack only with --debug. */
export function formatFailure(err: unknown, debug: boolean): string {
  if (debug && err instanceof Error) {
    const causes: string[] = [];
    let cause: unknown = err.cause;
    while (cause instanceof Error && causes.length < 5) {
      causes.push(`caused by: ${cause.stack ?? cause.message}`);
      cause = cause.cause;
    }
    return [err.stack ?? err.message, ...causes].join('\n');
  }
  if (err instanceof AirgapError) {
    return `error: ${err.message}${err.hint === undefined ? '' : ` (${err.hint})`}`;
  }
  // Anything else is a bug or an unexpected system error: still one line, with the way to see more.
  const message = err instanceof Error ? err.message : String(err);
  return `error: ${message} (re-run with --debug for details)`;
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof CancelledError) return EXIT_CANCELLED;
  if (err instanceof UsageError) return EXIT_USAGE;
  return EXIT_FAILURE;
}
