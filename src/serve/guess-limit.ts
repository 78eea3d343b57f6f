/**
 * A limit on password guesses for `serve --htpasswd`, per client address. A registry on a site network is
 * reachable by every machine there; without a limit a script can try passwords as fast as bcrypt checks them,
 * and each check costs the server tens of milliseconds of CPU, so guessing is also a way to slow every pull.
 *
 * After MAX_FAILURES wrong passwords from one address within WINDOW_MS, that address is answered 429 with a
 * Retry-After for LOCKOUT_MS, without a bcrypt check; each lockout that follows another doubles it, up to
 * MAX_LOCKOUT_MS. A right password clears the address's count. Only the address is locked out, never the user
 * name: a name locked for everyone would let anyone lock the operators out of their own registry. The table is
 * bounded: the oldest entries go first once it holds MAX_ADDRESSES.
 */

export interface GuessLimits {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  maxLockoutMs: number;
  maxAddresses: number;
}

export const DEFAULT_GUESS_LIMITS: GuessLimits = {
  // Enough for an operator's typos and a client's retries with a stale password; far too few to guess one.
  maxFailures: 10,
  windowMs: 60_000,
  lockoutMs: 60_000,
  maxLockoutMs: 15 * 60_000,
  maxAddresses: 10_000,
};

interface AddressRecord {
  /** When each failure of the current window happened. */
  failures: number[];
  lockedUntil: number;
  /** The length of the next lockout. */
  nextLockoutMs: number;
}

export class GuessLimiter {
  readonly #limits: GuessLimits;
  readonly #now: () => number;
  readonly #addresses = new Map<string, AddressRecord>();

  constructor(limits: GuessLimits = DEFAULT_GUESS_LIMITS, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Seconds the address must wait before its next guess is checked, or 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const record = this.#addresses.get(address);
    if (record === undefined) return 0;
    const left = record.lockedUntil - this.#now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** A wrong password from `address`: returns the seconds it is now locked out for (0: not yet). */
  failed(address: string): number {
    const now = this.#now();
    const { maxFailures, windowMs, lockoutMs, maxLockoutMs } = this.#limits;
    const record = this.#addresses.get(address) ?? { failures: [], lockedUntil: 0, nextLockoutMs: lockoutMs };
    // Most recently used last, so the first key is the one to drop when the table is full.
    this.#addresses.delete(address);
    this.#addresses.set(address, record);
    this.#evict();
    record.failures = [...record.failures.filter((at) => now - at < windowMs), now];
    if (record.failures.length < maxFailures) return 0;
    record.failures = [];
    record.lockedUntil = now + record.nextLockoutMs;
    const seconds = Math.ceil(record.nextLockoutMs / 1000);
    record.nextLockoutMs = Math.min(record.nextLockoutMs * 2, maxLockoutMs);
    return seconds;
  }

  /** The right password from `address`: its count starts again. */
  succeeded(address: string): void {
    this.#addresses.delete(address);
  }

  #evict(): void {
    while (this.#addresses.size > this.#limits.maxAddresses) {
      const oldest = this.#addresses.keys().next();
      if (oldest.done === true) return;
      this.#addresses.delete(oldest.value);
    }
  }
}
