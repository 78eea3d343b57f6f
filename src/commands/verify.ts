import { formatVerifyReport } from '../cli/verify-report.ts';
import { AirgapError } from '../errors.ts';
import { verify } from '../verify/verify.ts';
import type { CommandIo } from './io.ts';

export interface VerifyCommandOptions {
  json: boolean;
}

/** `airgap verify [DIR]`: the report on stdout; exit 1 when anything is damaged or missing. */
export async function verifyCommand(source: string | undefined, options: VerifyCommandOptions, io: CommandIo): Promise<void> {
  let lastShown = 0;
  const report = await verify({
    source: source ?? '.',
    signal: io.signal,
    onEvent: (event) => {
      if (options.json) return;
      if (event.type === 'verify-start') io.stdout(`verify ${event.release}: ${event.files.length} file(s) against ${event.lock}\n`);
      // A long check says how far it is, every tenth of the way.
      if (event.type === 'progress' && event.secondsLeft !== undefined && event.read / event.total >= lastShown + 0.1 && event.read < event.total) {
        lastShown = Math.floor((event.read / event.total) * 10) / 10;
        io.stderr(`  ${Math.round(lastShown * 100)}% read${event.secondsLeft === undefined ? '' : `, about ${Math.ceil(event.secondsLeft)} s left`}\n`);
      }
    },
  });
  io.stdout(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatVerifyReport(report));
  if (!report.ok) {
    const bad = report.files.filter((f) => f.status !== 'ok').length;
    throw new AirgapError(`${report.dir} does not hold what ${report.lock} records: ${bad} file(s) and ${report.problems.length} blob(s) or charm(s) damaged or missing`, {
      hint: 'copy the files named above across again, then run airgap verify again',
    });
  }
}
