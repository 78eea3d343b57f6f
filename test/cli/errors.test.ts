import { describe, expect, it } from 'vitest';
import { formatFailure } from '../../src/cli/errors.ts';
import { ArchiveError } from '../../src/errors.ts';

const MEMBER = 'blobs/sha256/x\u001b]0;pwned\u0007\u001b[2J\u0000\nerror: forged line';
// Nothing that acts on a terminal: C0 (newline included), DEL, C1, bidirectional controls.
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('formatFailure', () => {
  it('prints a name from outside escaped, on the one line', () => {
    const line = formatFailure(new ArchiveError(`images.tar.gz is truncated (while reading ${MEMBER})`, { hint: `member ${MEMBER}` }), false);
    expect(line).not.toMatch(RAW_CONTROL);
    expect(line).toBe('error: images.tar.gz is truncated (while reading blobs/sha256/x\\u001b]0;pwned\\u0007\\u001b[2J\\u0000\\nerror: forged line) (member blobs/sha256/x\\u001b]0;pwned\\u0007\\u001b[2J\\u0000\\nerror: forged line)');
    expect(formatFailure(new Error(`EISDIR ${MEMBER}`), false)).not.toMatch(RAW_CONTROL);
  });

  it('keeps the lines of a --debug stack, and escapes the rest', () => {
    const text = formatFailure(new ArchiveError(`bad ${MEMBER}`), true);
    expect(text.split('\n').length).toBeGreaterThan(2);
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u0000');
  });
});
