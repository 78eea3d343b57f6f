import { describe, expect, it } from 'vitest';
import { collectReporters } from '../../src/cli/collect-report.ts';
import { loadReporters } from '../../src/cli/load-report.ts';
import { reporterFor } from '../../src/cli/reporter.ts';
import type { CommandIo } from '../../src/commands/io.ts';

const MEMBER = 'blobs/sha256/x\u001b]0;pwned\u0007\u001b[2J\u0000\nerror: forged line';
// Nothing that acts on a terminal: C0 (newline included), DEL, C1, bidirectional controls.
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('the plain progress printers', () => {
  it('print each event on one line, names escaped, warnings on stderr', () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CommandIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), readStdin: async () => '', isTty: false, signal: new AbortController().signal };
    const collect = reporterFor(collectReporters, io, false);
    collect.onEvent({ type: 'charm', file: MEMBER, size: 1 });
    collect.onEvent({ type: 'warning', message: `look at ${MEMBER}` });
    const load = reporterFor(loadReporters, io, false);
    load.onEvent({ type: 'charm', file: MEMBER, size: 1 });
    load.onEvent({ type: 'warning', message: MEMBER });
    expect(out).toHaveLength(2);
    expect(err).toHaveLength(2);
    expect(err.every((line) => line.startsWith('warning: '))).toBe(true);
    for (const line of [...out, ...err]) {
      expect(line.slice(0, -1)).not.toMatch(RAW_CONTROL);
      expect(line).toContain('x\\u001b]0;pwned\\u0007\\u001b[2J\\u0000\\nerror: forged line');
    }
  });
});
