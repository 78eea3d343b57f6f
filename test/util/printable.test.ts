import { describe, expect, it } from 'vitest';
import { printable, quoted, terminalSafe } from '../../src/util/printable.ts';

const HOSTILE = 'evil\u001b]0;pwned\u0007\u001b[2J\u0000\r\n\terror: forged\u007f\u009b31m\u202eexe.txt\u2028';

describe('printable', () => {
  it('shows every control character as an escape and leaves the rest of the text as written', () => {
    expect(printable(HOSTILE)).toBe('evil\\u001b]0;pwned\\u0007\\u001b[2J\\u0000\\r\\n\\terror: forged\\u007f\\u009b31m\\u202eexe.txt\\u2028');
    expect(printable('jupyter-web-app:v1.7.0 日本 bäd ✓')).toBe('jupyter-web-app:v1.7.0 日本 bäd ✓');
    expect(quoted('a\nb')).toBe('"a\\nb"');
  });
});

describe('terminalSafe', () => {
  it('keeps the lines, escapes everything else: no line can erase or redraw another', () => {
    expect(terminalSafe(`one\ntwo ${HOSTILE}\n`)).toBe(`one\ntwo ${printable(HOSTILE).replace('\\n', '\n')}\n`);
    expect(terminalSafe('\r\u001b[2Kstatus')).toBe('\\r\\u001b[2Kstatus');
    expect(terminalSafe('\u001b[2Jstatus')).toBe('\\u001b[2Jstatus');
  });

  it('leaves JSON valid and its values unchanged', () => {
    const value = { name: HOSTILE, list: ['\u009b', '\u202e'] };
    const json = JSON.stringify(value, null, 2);
    expect(JSON.parse(terminalSafe(json))).toEqual(value);
  });
});
