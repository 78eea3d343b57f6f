/**
 * The one way every command reports: the library's events (and, last, the command's own summary event) go
 * to a Reporter, which shows them in one of three forms chosen once per run —
 *   tty    a live listr2 display on a terminal, the lines that must stay printed after it;
 *   plain  one line per event that matters, for CI logs and files (nothing redrawn);
 *   json   nothing while the work runs, then one JSON document on stdout (serve: one object per line).
 * A `warning` event, and only that, goes to stderr (with the failure line cli.ts prints); everything else a
 * command prints goes to stdout. Text from outside is escaped here, at the output boundary.
 */
import type { CommandIo } from '../commands/io.ts';
import { printable } from '../util/printable.ts';

export interface Reporter<Event> {
  onEvent(event: Event): void;
  /** No more events: the work ended (`err` when it failed). Resolves once the last frame and lines are out. */
  finish(err?: unknown): Promise<void>;
}

/** What every command's events share: a warning is the operator's business, on stderr, whatever the form. */
export interface WarningEvent {
  type: 'warning';
  message: string;
}

export type ReportForm = 'tty' | 'plain' | 'json';

/** --json wins; then a terminal on stderr (where the failure line goes) gets the live display. */
export function reportForm(io: Pick<CommandIo, 'isTty'>, json: boolean): ReportForm {
  if (json) return 'json';
  return io.isTty ? 'tty' : 'plain';
}

/** The three forms of one command's reporter; a command with nothing to watch may give plain for tty. */
export type ReporterForms<Event> = Readonly<Record<ReportForm, (io: CommandIo) => Reporter<Event>>>;

export function reporterFor<Event>(forms: ReporterForms<Event>, io: CommandIo, json: boolean): Reporter<Event> {
  return forms[reportForm(io, json)](io);
}

/** Runs the work, then lets the reporter end (well or badly) before anything else is printed. */
export async function reporting<T>(reporter: Pick<Reporter<unknown>, 'finish'>, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (err: unknown) {
    await reporter.finish(err);
    throw err;
  }
  await reporter.finish();
  return result;
}

/** Lines as the plain form (and the tty form, after its display) prints them: each escaped, one line each. */
export interface Lines {
  /** A line of progress or of the result, on stdout. */
  out(text: string): void;
  /** `warning: MESSAGE` on stderr. */
  warning(message: string): void;
  /** `note: MESSAGE` on stderr: advice that is not a problem (airgap config). */
  note(message: string): void;
  /** Text laid out by the command (a rendered file), on stdout as it is, but for control characters. */
  text(text: string): void;
}

export function linesOf(io: Pick<CommandIo, 'stdout' | 'stderr'>): Lines {
  return {
    out: (text) => io.stdout(`${printable(text)}\n`),
    warning: (message) => io.stderr(`warning: ${printable(message)}\n`),
    note: (message) => io.stderr(`note: ${printable(message)}\n`),
    text: (text) => io.stdout(text.endsWith('\n') ? text : `${text}\n`),
  };
}

/** A JSON document on stdout, as every --json prints it. */
export function printJson(io: Pick<CommandIo, 'stdout'>, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

function isWarning(event: { type: string }): event is WarningEvent {
  return event.type === 'warning' && 'message' in event && typeof event.message === 'string';
}

/**
 * The json form of most commands: the warnings are kept (`warningOf` names other events that are warnings
 * in the plain form), and the command's summary event becomes the one document, `toJson` deciding its shape
 * (usually with a `warnings` list). Events it gives undefined for print nothing.
 */
export function jsonReporter<Event extends { type: string }>(
  io: Pick<CommandIo, 'stdout'>,
  toJson: (event: Event, warnings: readonly string[]) => unknown,
  warningOf: (event: Event) => string | undefined = (event) => (isWarning(event) ? event.message : undefined),
): Reporter<Event> {
  const warnings: string[] = [];
  return {
    onEvent(event) {
      const warning = warningOf(event);
      if (warning !== undefined) warnings.push(warning);
      const document = toJson(event, warnings);
      if (document !== undefined) printJson(io, document);
    },
    async finish() {},
  };
}
