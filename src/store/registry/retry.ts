/**
 * The retry layer of the registry client: one policy and one loop (Attempts) for everything that is tried
 * again. An exchange is sent again on a dropped connection or a "not now" status while its body can be
 * sent again; a blob download resumes with a Range request from the last byte received (client.ts); an
 * upload resumes from the byte count the registry reports (upload.ts). All three count their failures
 * with the same Attempts, so the policy is the same wherever a registry fails.
 */
import { Readable } from 'node:stream';
import { AirgapError, RegistryError, StorageFullError, TlsError, messageOf } from '../../errors.ts';
import { sleep } from '../../util/sleep.ts';
import { headerValue, type HttpRequest, type HttpResponse, type Transport } from './transport.ts';

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** First wait; each further wait doubles, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: 5, baseDelayMs: 250, maxDelayMs: 15_000 };

// 429 and 5xx are the registry saying "not now"; 501 and 505 are "never", so they are not retried.
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** A dropped or refused connection is worth another try; a TLS or protocol error is not. */
export function isRetryableNetworkError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Delay before attempt `attempt` (1-based), honouring a Retry-After header when the registry sent one. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, retryAfter: string | undefined): number {
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(ms) && ms >= 0) return Math.min(ms, policy.maxDelayMs);
  }
  const exponential = policy.baseDelayMs * 2 ** (attempt - 1);
  const jitter = 0.5 + Math.random() / 2;
  return Math.min(policy.maxDelayMs, Math.round(exponential * jitter));
}

/** A "not now" answer (429, 5xx) the loop may wait out; carries the registry's Retry-After. */
export class BusyStatus extends Error {
  readonly status: number;
  readonly retryAfter: string | undefined;
  constructor(status: number, retryAfter: string | undefined) {
    super(`answered ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** Worth another try: a dropped connection, a "not now" status, a registry error with a retryable status. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof BusyStatus) return true;
  if (err instanceof StorageFullError || err instanceof TlsError) return false;
  // A connection that broke is a RegistryError once it has a name (send below): its cause says whether to try again.
  if (err instanceof RegistryError) return err.status === undefined ? isRetryableNetworkError(err.cause) : isRetryableStatus(err.status);
  if (err instanceof AirgapError) return false;
  return isRetryableNetworkError(err);
}

/**
 * The one retry loop, turned inside out so that generators (which cannot hand their body to a callback)
 * use it too: `await attempts.failed(err)` waits before the next try, or throws when the error is final
 * or the policy is spent.
 */
export class Attempts {
  readonly #policy: RetryPolicy;
  readonly #signal: AbortSignal | undefined;
  #failures = 0;

  constructor(policy: RetryPolicy, signal: AbortSignal | undefined) {
    this.#policy = policy;
    this.#signal = signal;
  }

  get failures(): number {
    return this.#failures;
  }

  /** Rethrows `err` unless it is worth another try and tries are left; otherwise waits as the policy says. */
  async failed(err: unknown): Promise<void> {
    this.#signal?.throwIfAborted();
    if (!isRetryable(err) || this.#failures >= this.#policy.retries) throw err;
    this.#failures++;
    await sleep(retryDelayMs(this.#policy, this.#failures, err instanceof BusyStatus ? err.retryAfter : undefined), this.#signal);
  }
}

export async function retrying<T>(policy: RetryPolicy, signal: AbortSignal | undefined, operation: (attempt: number) => Promise<T>): Promise<T> {
  const attempts = new Attempts(policy, signal);
  for (;;) {
    try {
      return await operation(attempts.failures);
    } catch (err: unknown) {
      await attempts.failed(err);
    }
  }
}

const NO_RETRY: RetryPolicy = { retries: 0, baseDelayMs: 0, maxDelayMs: 0 };

/**
 * Exchanges sent again while sending again is safe: a body that is a stream goes once. When the tries are
 * spent on a busy status, that last answer is handed up so the caller reads the registry's own error; a
 * connection that never came is a RegistryError that names the host.
 */
export class RetryingTransport {
  readonly transport: Transport;
  readonly policy: RetryPolicy;

  constructor(transport: Transport, policy: RetryPolicy) {
    this.transport = transport;
    this.policy = policy;
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    const replayable = req.once !== true && !(req.body instanceof Readable);
    const policy = replayable ? this.policy : NO_RETRY;
    try {
      return await retrying(policy, this.transport.signal, async (attempt) => {
        const res = await this.transport.request(req);
        if (isRetryableStatus(res.statusCode) && attempt < policy.retries) {
          const retryAfter = headerValue(res.headers, 'retry-after');
          await res.body.dump();
          throw new BusyStatus(res.statusCode, retryAfter);
        }
        return res;
      });
    } catch (err: unknown) {
      if (err instanceof AirgapError || this.transport.signal?.aborted) throw err;
      throw new RegistryError(`${req.what}: cannot reach ${req.url.host}: ${messageOf(err)}`, {
        cause: err,
        hint: `check that ${req.url.host} is up and reachable from here (proxy variables: HTTPS_PROXY, NO_PROXY)`,
      });
    }
  }
}
