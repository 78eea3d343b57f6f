import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.ts';
import { clientHost, parseListen } from '../../src/serve/listen.ts';
import { isValidName, splitPath } from '../../src/serve/names.ts';
import { parseContentRange, parseRange } from '../../src/serve/range.ts';

describe('parseRange', () => {
  it('reads one bytes= range, open ends and suffixes', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'whole' });
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=90-500', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-500', 100)).toEqual({ kind: 'partial', start: 0, end: 99 });
  });

  it('answers 416 past the end and for a backwards range, and ignores what it does not understand', () => {
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'whole' });
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'whole' });
    expect(parseRange('bytes=9-3', 100)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('parseContentRange', () => {
  it('takes the spec form and the prefixes clients send', () => {
    expect(parseContentRange('0-99')).toEqual({ start: 0, end: 99 });
    expect(parseContentRange('bytes=100-199')).toEqual({ start: 100, end: 199 });
    expect(parseContentRange('bytes 100-199/*')).toEqual({ start: 100, end: 199 });
    expect(parseContentRange(undefined)).toBeUndefined();
    expect(parseContentRange('9-3')).toBe('invalid');
    expect(parseContentRange('abc')).toBe('invalid');
  });
});

describe('names', () => {
  it('follows the distribution grammar', () => {
    expect(isValidName('airgap-test/team/app-b')).toBe(true);
    expect(isValidName('a__b/c.d')).toBe(true);
    expect(isValidName('Upper')).toBe(false);
    expect(isValidName('a//b')).toBe(false);
    expect(isValidName('-a')).toBe(false);
  });

  it('splits an image path into repository, tag and digest without taking a dotted component for a host', () => {
    expect(splitPath('my.team/app:1.0')).toEqual({ name: 'my.team/app', tag: '1.0', digest: undefined });
    expect(splitPath(`app@sha256:${'a'.repeat(64)}`)).toEqual({ name: 'app', tag: undefined, digest: `sha256:${'a'.repeat(64)}` });
    expect(splitPath('Bad:1')).toBeUndefined();
  });
});

describe('--listen', () => {
  it('reads HOST:PORT, [IPv6]:PORT, :PORT and PORT', () => {
    expect(parseListen('127.0.0.1:5000')).toEqual({ host: '127.0.0.1', port: 5000 });
    expect(parseListen('[::1]:5000')).toEqual({ host: '::1', port: 5000 });
    expect(parseListen(':5000')).toEqual({ host: undefined, port: 5000 });
    expect(parseListen('5000')).toEqual({ host: undefined, port: 5000 });
    expect(() => parseListen('localhost')).toThrow(UsageError);
    expect(() => parseListen('host:99999')).toThrow(UsageError);
  });

  it('gives the address a client on this machine uses', () => {
    expect(clientHost({ host: undefined, port: 0 }, 5000)).toBe('127.0.0.1:5000');
    expect(clientHost({ host: '::1', port: 0 }, 5000)).toBe('[::1]:5000');
    expect(clientHost({ host: 'localhost', port: 0 }, 5000)).toBe('localhost:5000');
  });
});
