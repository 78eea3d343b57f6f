import type { VerifyCommandOptions } from '../cli/command-line.ts';
import { reporterFor, reporting } from '../cli/reporter.ts';
import { verifyReporters } from '../cli/verify-report.ts';
import { AirgapError } from '../errors.ts';
import { verify } from '../verify/verify.ts';
import type { CommandIo } from './io.ts';

/** `airgap verify [DIR]`: the report on stdout; exit 1 when anything is damaged or missing. */
export async function verifyCommand(source: string, options: VerifyCommandOptions, io: CommandIo): Promise<void> {
  const reporter = reporterFor(verifyReporters, io, options.json);
  const report = await reporting(reporter, async () => {
    const done = await verify({ source, signal: io.signal, onEvent: (event) => reporter.onEvent(event) });
    reporter.onEvent({ type: 'verified', report: done });
    return done;
  });
  if (!report.ok) {
    const bad = report.files.filter((f) => f.status !== 'ok').length;
    throw new AirgapError(`${report.dir} does not hold what ${report.lock} records: ${bad} file(s) and ${report.problems.length} blob(s) or charm(s) damaged or missing`, {
      hint: 'copy the files named above across again, then run airgap verify again',
    });
  }
}
