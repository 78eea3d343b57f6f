import { describe, expect, it } from 'vitest';
import { plainCollectRenderer } from '../../src/cli/collect-progress.ts';
import { plainLoadRenderer } from '../../src/cli/load-progress.ts';

const MEMBER = 'blobs/sha256/x\u001b]0;pwned\u0007\u001b[2J\u0000\nerror: forged line';
// Nothing that acts on a terminal: C0 (newline included), DEL, C1, bidirectional controls.
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('the plain progress printers', () => {
  it('print each event on one line, names escaped', () => {
    const lines: string[] = [];
    const collect = plainCollectRenderer((line) => lines.push(line));
    collect.onEvent({ type: 'charm', file: MEMBER, size: 1 });
    collect.onEvent({ type: 'warning', message: `look at ${MEMBER}` });
    const load = plainLoadRenderer((line) => lines.push(line));
    load.onEvent({ type: 'charm', file: MEMBER, size: 1 });
    load.onEvent({ type: 'warning', message: MEMBER });
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line).not.toMatch(RAW_CONTROL);
      expect(line).toContain('x\\u001b]0;pwned\\u0007\\u001b[2J\\u0000\\nerror: forged line');
    }
  });
});
