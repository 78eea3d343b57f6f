/** HTTP byte ranges for blob GETs (RFC 9110), and the Content-Range of chunked uploads (distribution spec). */

export type RangeAnswer = { kind: 'whole' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * One `bytes=` range against a blob of `size` bytes. Anything we do not understand (several ranges, other
 * units, garbage) is ignored and the whole blob sent, as RFC 9110 allows; a range past the end, or one that ends
 * before it starts (`500-0`: RFC 9110 lets a server reject it, and the conformance suite expects that), is 416.
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'whole' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (match === null) return { kind: 'whole' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // A suffix: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    return size === 0 ? { kind: 'unsatisfiable' } : { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}

/**
 * An upload chunk's Content-Range: `<start>-<end>` by the spec; `bytes=` and `bytes ` prefixes and a
 * `/total` suffix are tolerated because clients in the wild send them.
 */
export function parseContentRange(header: string | undefined): { start: number; end: number } | undefined | 'invalid' {
  if (header === undefined || header.trim() === '') return undefined;
  const match = /^\s*(?:bytes[ =])?\s*(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/i.exec(header);
  if (match === null) return 'invalid';
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return 'invalid';
  return { start, end };
}
