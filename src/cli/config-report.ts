/**
 * How `airgap config` and `airgap init` report. Both render files in an instant: there is nothing to watch,
 * so on a terminal they print what they print elsewhere (the tty form is the plain one).
 */
import type { ConfigKind } from '../config/kinds.ts';
import type { Rendering, WrittenFile } from '../config/rendered.ts';
import type { Skeleton } from '../config/release-skeleton.ts';
import { jsonReporter, linesOf, type Lines, type Reporter, type ReporterForms } from './reporter.ts';

/** `airgap config`'s one event: the files rendered, and where each was written when -o was given. */
export interface ConfigRenderedEvent {
  type: 'rendered';
  kind: ConfigKind;
  rendering: Rendering;
  /** Empty without -o: the files are printed. */
  written: WrittenFile[];
}

function plainConfigReporter(lines: Lines, toStdout: boolean): Reporter<ConfigRenderedEvent> {
  return {
    onEvent({ rendering, written }) {
      if (toStdout) {
        const several = rendering.files.length > 1;
        for (const file of rendering.files) {
          if (several) lines.out(`# ---- ${file.installPath} ----`);
          lines.text(file.content);
        }
      } else {
        for (const [i, w] of written.entries()) lines.out(`${w.outcome === 'written' ? 'wrote' : 'unchanged'} ${w.path}  (belongs at ${rendering.files[i]?.installPath ?? w.path})`);
      }
      for (const note of rendering.notes) lines.note(note);
    },
    async finish() {},
  };
}

/** With or without -o: printed files, or the lines saying where they went. */
export function configReporters(toStdout: boolean): ReporterForms<ConfigRenderedEvent> {
  return {
    tty: (io) => plainConfigReporter(linesOf(io), toStdout),
    plain: (io) => plainConfigReporter(linesOf(io), toStdout),
    json: (io) =>
      jsonReporter<ConfigRenderedEvent>(io, ({ kind, rendering, written }) => ({
        kind,
        files: rendering.files.map((f, i) => ({ ...f, ...(written[i] === undefined ? {} : { writtenTo: written[i].path, outcome: written[i].outcome }) })),
        notes: rendering.notes,
      })),
  };
}

/** `airgap init`'s one event: the manifest written (or found unchanged) and what it holds. */
export interface InitWrittenEvent {
  type: 'written';
  skeleton: Skeleton;
  written: WrittenFile | undefined;
}

/** What --json prints, and what the line says. */
function initSummary({ skeleton, written }: InitWrittenEvent) {
  return {
    output: skeleton.output,
    outcome: written?.outcome ?? 'written',
    kind: skeleton.kind,
    placeholder: skeleton.placeholder ?? null,
    images: skeleton.images,
    undecided: skeleton.undecided,
    ignored: skeleton.ignored,
  };
}

function plainInitReporter(lines: Lines): Reporter<InitWrittenEvent> {
  return {
    onEvent(event) {
      const summary = initSummary(event);
      lines.out(
        `${summary.outcome === 'written' ? 'wrote' : 'unchanged'} ${summary.output}: a ${summary.kind} release, ${summary.images} image(s) to collect` +
          `${summary.placeholder === null ? ', no placeholder host found' : `, placeholder ${summary.placeholder}`}` +
          `${summary.undecided > 0 ? `, ${summary.undecided} reference(s) left commented` : ''}${summary.ignored > 0 ? `, ${summary.ignored} ignored` : ''}`,
      );
      lines.out(`  read the lines marked "check:", then: airgap collect ${summary.output}`);
    },
    async finish() {},
  };
}

export const initReporters: ReporterForms<InitWrittenEvent> = {
  tty: (io) => plainInitReporter(linesOf(io)),
  plain: (io) => plainInitReporter(linesOf(io)),
  json: (io) => jsonReporter<InitWrittenEvent>(io, initSummary),
};
