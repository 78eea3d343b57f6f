import { AirgapError, CancelledError, UsageError } from '../errors.ts';
import { printable, terminalSafe } from '../util/printable.ts';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_CANCELLED = 130;

/**
 * One line for the operator: what failed and what to do. The stack only with --debug. Messages carry
 * names from outside (archive members, files, images): escaped, they cannot act on the terminal or
 * break the one line.
 */
export function formatFailure(err: unknown, debug: boolean): string {
  if (debug && err instanceof Error) {
    const causes: string[] = [];
    let cause: unknown = err.cause;
    while (cause instanceof Error && causes.length < 5) {
      causes.push(`caused by: ${cause.stack ?? cause.message}`);
      cause = cause.cause;
    }
    return terminalSafe([err.stack ?? err.message, ...causes].join('\n'));
  }
  if (err instanceof AirgapError) {
    return `error: ${printable(err.message)}${err.hint === undefined ? '' : ` (${printable(err.hint)})`}`;
  }
  // Anything else is a bug or an unexpected system error: still one line, with the way to see more.
  const message = err instanceof Error ? err.message : String(err);
  return `error: ${printable(message)} (re-run with --debug for details)`;
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof CancelledError) return EXIT_CANCELLED;
  if (err instanceof UsageError) return EXIT_USAGE;
  return EXIT_FAILURE;
}
