import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/util/format-bytes.ts';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [999, '999 B'],
    [1000, '1.0 KB'],
    [1024, '1.0 KB'],
    [1500, '1.5 KB'],
    [64 * 1024, '65.5 KB'],
    [1_000_000, '1.0 MB'],
    [2_818_413, '2.8 MB'],
    [1_000_000_000, '1.0 GB'],
    [3_400_000_000, '3.4 GB'],
    [1e12, '1.0 TB'],
    [2.5e15, '2500.0 TB'],
    // Rounding must not show a four-digit figure of the smaller unit.
    [999_999, '1.0 MB'],
    [999_960_000, '1.0 GB'],
  ])('%d -> %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
