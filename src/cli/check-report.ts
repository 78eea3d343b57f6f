/** How `airgap check` reports: one line per check, ok / warn / fail / skip with the fix, then the count. */
import type { CheckEvent, CheckPart, CheckReport } from '../check/check.ts';
import type { CheckResult } from '../check/types.ts';
import { printable } from '../util/printable.ts';
import { Gate, runListr, settleAll } from './listr.ts';
import { jsonReporter, linesOf, type Lines, type Reporter, type ReporterForms } from './reporter.ts';

/** The command's last event: every result, for the count or the JSON document. */
export type CheckReportEvent = CheckEvent | { type: 'report'; report: CheckReport };

/** `ok    registry    certificate trusted   issued by ...; fix: ...`: columns for the eye, one line for grep. */
export function formatCheckLine(r: CheckResult): string {
  // The detail quotes registries, clusters and Juju: escaped, it stays one line.
  return printable(`${r.status.padEnd(4)}  ${r.section.padEnd(10)}  ${r.what.padEnd(20)}  ${r.detail}${r.fix === undefined ? '' : `; fix: ${r.fix}`}`);
}

function countLine(report: CheckReport): string {
  const count = (status: CheckResult['status']): number => report.results.filter((r) => r.status === status).length;
  return `${report.failed} failed, ${report.warned} warning(s), ${count('ok')} ok, ${count('skip')} skipped`;
}

const PART_TITLES: Readonly<Record<CheckPart, string>> = {
  registry: 'Check the registry',
  juju: 'Check Juju',
  kubernetes: 'Check Kubernetes and its CoreDNS',
  containerd: 'Check containerd\'s hosts.toml',
};

/** Off a terminal: each part's lines as soon as it is done (in a fixed order), then the count. */
function plainCheckReporter(lines: Lines): Reporter<CheckReportEvent> {
  return {
    onEvent(event) {
      if (event.type === 'checked') for (const r of event.results) lines.out(formatCheckLine(r));
      if (event.type === 'report') lines.out(countLine(event.report));
    },
    async finish() {},
  };
}

/** On a terminal: a spinner per part while they run at once, then the same lines and count. */
function ttyCheckReporter(lines: Lines): Reporter<CheckReportEvent> {
  const gates = new Map<CheckPart, { gate: Gate; results: CheckResult[] }>();
  let running: Promise<void> | undefined;
  let report: CheckReport | undefined;
  return {
    onEvent(event) {
      switch (event.type) {
        case 'checking':
          for (const part of event.parts) gates.set(part, { gate: new Gate(), results: [] });
          running = runListr(
            event.parts.map((part) => ({
              title: PART_TITLES[part],
              task: async (_ctx, task) => {
                const entry = gates.get(part);
                await entry?.gate.promise;
                const results = entry?.results ?? [];
                const tally = (['fail', 'warn', 'ok', 'skip'] as const).map((s) => [s, results.filter((r) => r.status === s).length] as const).filter(([, n]) => n > 0);
                task.title = `${PART_TITLES[part]}: ${tally.map(([s, n]) => `${n} ${s}`).join(', ')}`;
                // Red when a check failed: the lines below say which and what to do.
                if (results.some((r) => r.status === 'fail')) throw new Error(task.title);
              },
            })),
            { concurrent: true },
          );
          break;
        case 'checked': {
          const entry = gates.get(event.part);
          if (entry !== undefined) {
            entry.results = event.results;
            entry.gate.resolve();
          }
          break;
        }
        case 'report':
          report = event.report;
          break;
      }
    },
    async finish(err?: unknown) {
      settleAll([...gates.values()].map((e) => e.gate), err);
      await running;
      if (report === undefined) return;
      for (const r of report.results) lines.out(formatCheckLine(r));
      lines.out(countLine(report));
    },
  };
}

export const checkReporters: ReporterForms<CheckReportEvent> = {
  tty: (io) => ttyCheckReporter(linesOf(io)),
  plain: (io) => plainCheckReporter(linesOf(io)),
  json: (io) => jsonReporter<CheckReportEvent>(io, (event) => (event.type === 'report' ? event.report : undefined)),
};
