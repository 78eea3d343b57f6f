/** How `airgap verify` reports: the files it reads, how far it is on a long check, then one line per finding. */
import { basename } from 'node:path';
import { formatBytes } from '../util/format-bytes.ts';
import type { VerifyEvent, VerifyReport } from '../verify/verify.ts';
import { Gate, runListr, settleAll, type Task } from './listr.ts';
import { jsonReporter, linesOf, type Lines, type Reporter, type ReporterForms } from './reporter.ts';
import { formatDuration } from './transfer-progress.ts';

/** The command's last event: the whole report. */
export interface VerifiedEvent {
  type: 'verified';
  report: VerifyReport;
}

export type VerifyReportEvent = VerifyEvent | VerifiedEvent;

// A missing part leaves every later blob unread: the first ones say enough, --json has them all.
const MAX_PROBLEM_LINES = 20;

/** The verify report for a person: one line per file, one per problem, the images that need them. */
export function writeVerifyReport(report: VerifyReport, lines: Lines): void {
  for (const f of report.files) {
    const name = `${basename(f.file)}${f.joined === true ? ' (its parts joined)' : ''}`;
    lines.out(`${f.status.padEnd(8)} ${name}  ${f.status === 'ok' ? formatBytes(f.size ?? 0) : (f.detail ?? '')}`);
  }
  for (const b of report.breaks) lines.out(`broken   ${b.archive}: ${b.detail}`);
  for (const p of report.problems.slice(0, MAX_PROBLEM_LINES)) {
    const size = p.size === undefined ? '' : ` (${formatBytes(p.size)})`;
    const users = p.images.length === 0 ? '' : `, needed by ${p.images.join(', ')}`;
    lines.out(`${p.status.padEnd(8)} ${p.kind} ${p.name}${size}${users}: ${p.detail}`);
  }
  if (report.problems.length > MAX_PROBLEM_LINES) lines.out(`         ... and ${report.problems.length - MAX_PROBLEM_LINES} more (--json lists every one)`);
  if (report.images.length > 0) lines.out(`images that need what is damaged or missing: ${report.images.join(', ')}`);
  lines.out(`checked ${report.blobs.checked} of ${report.blobs.expected} blobs and ${report.charms.checked} of ${report.charms.expected} charms`);
  if (report.base !== undefined) lines.out(`a differential archive: its ${report.base.leftOut} left-out layers are in ${report.base.release}, checked when it was carried`);
  if (report.ok) lines.out(`ok: everything in ${report.dir} is as ${basename(report.lock)} records`);
}

function progressText(event: Extract<VerifyEvent, { type: 'progress' }>): string {
  const rate = event.bytesPerSecond === undefined ? '' : `, ${formatBytes(event.bytesPerSecond)}/s`;
  const left = event.secondsLeft === undefined ? '' : `, about ${formatDuration(event.secondsLeft)} left`;
  return `${formatBytes(event.read)} / ${formatBytes(event.total)} read${rate}${left}`;
}

/** Off a terminal: the files to read, a progress line every tenth of the way, then the report. */
function plainVerifyReporter(lines: Lines): Reporter<VerifyReportEvent> {
  let shownTenths = 0;
  return {
    onEvent(event) {
      switch (event.type) {
        case 'verify-start':
          lines.out(`verify ${event.release}: ${event.files.length} file(s), ${formatBytes(event.bytes)}, against ${event.lock}`);
          break;
        case 'progress': {
          const tenths = Math.floor((event.read / Math.max(1, event.total)) * 10);
          if (tenths > shownTenths && event.read < event.total) {
            shownTenths = tenths;
            lines.out(`progress: ${progressText(event)}`);
          }
          break;
        }
        case 'verified':
          writeVerifyReport(event.report, lines);
          break;
        default:
          break;
      }
    },
    async finish() {},
  };
}

/** On a terminal: one task whose title counts the bytes read and the time left, then the report. */
function ttyVerifyReporter(lines: Lines): Reporter<VerifyReportEvent> {
  const done = new Gate();
  let task: Task | undefined;
  let title = 'Verify the carried files';
  let report: VerifyReport | undefined;
  const running = runListr([{
    title,
    task: async (_ctx, t) => {
      task = t;
      t.title = title;
      await done.promise;
      if (report !== undefined && !report.ok) throw new Error(`${title}: damaged or missing files`);
    },
  }]);
  return {
    onEvent(event) {
      switch (event.type) {
        case 'verify-start':
          title = `Verify ${event.release}: ${event.files.length} file(s), ${formatBytes(event.bytes)}`;
          if (task !== undefined) task.title = title;
          break;
        case 'progress':
          if (task !== undefined) task.output = progressText(event);
          break;
        case 'file-checked':
          if (task !== undefined) task.output = `${basename(event.result.file)}: ${event.result.status}`;
          break;
        case 'verified':
          report = event.report;
          break;
        default:
          break;
      }
    },
    async finish(err?: unknown) {
      settleAll([done], err);
      await running;
      if (report !== undefined) writeVerifyReport(report, lines);
    },
  };
}

export const verifyReporters: ReporterForms<VerifyReportEvent> = {
  tty: (io) => ttyVerifyReporter(linesOf(io)),
  plain: (io) => plainVerifyReporter(linesOf(io)),
  json: (io) => jsonReporter<VerifyReportEvent>(io, (event) => (event.type === 'verified' ? event.report : undefined)),
};
