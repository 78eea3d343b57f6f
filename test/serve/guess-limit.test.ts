import { describe, expect, it } from 'vitest';
import { GuessLimiter } from '../../src/serve/guess-limit.ts';

// The guess limit's arithmetic on a clock of the test's own (over HTTP: test/serve/auth.test.ts).
describe('GuessLimiter', () => {
  const limits = { maxFailures: 3, windowMs: 10_000, lockoutMs: 5_000, maxLockoutMs: 12_000, maxAddresses: 2 };

  it('counts failures within the window only, and locks out on the last allowed one', () => {
    let now = 0;
    const limiter = new GuessLimiter(limits, () => now);
    expect(limiter.failed('a')).toBe(0);
    now = 6_000;
    expect(limiter.failed('a')).toBe(0);
    // The first failure has left the window: still two.
    now = 11_000;
    expect(limiter.failed('a')).toBe(0);
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    expect(limiter.failed('a')).toBe(5);
    expect(limiter.retryAfterSeconds('a')).toBe(5);
    now = 15_500;
    expect(limiter.retryAfterSeconds('a')).toBe(1);
    now = 16_000;
    expect(limiter.retryAfterSeconds('a')).toBe(0);
  });

  it('doubles each lockout up to the most, and a success starts the address afresh', () => {
    let now = 0;
    const limiter = new GuessLimiter(limits, () => now);
    const lockOut = (): number => {
      limiter.failed('a');
      limiter.failed('a');
      return limiter.failed('a');
    };
    expect(lockOut()).toBe(5);
    now += 5_000;
    expect(lockOut()).toBe(10);
    now += 10_000;
    expect(lockOut()).toBe(12);
    now += 12_000;
    limiter.succeeded('a');
    expect(lockOut()).toBe(5);
  });

  it('keeps at most maxAddresses, dropping the least recently failed', () => {
    let now = 0;
    const limiter = new GuessLimiter({ ...limits, maxFailures: 2 }, () => now);
    limiter.failed('a');
    limiter.failed('b');
    limiter.failed('a');
    // 'a' is locked out; 'c' pushes out 'b', the least recent, not 'a'.
    limiter.failed('c');
    now = 1;
    expect(limiter.retryAfterSeconds('a')).toBe(5);
    expect(limiter.failed('b')).toBe(0);
  });
});
