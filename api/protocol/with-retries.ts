/**
 * Bounded retries with exponential backoff and full jitter, for calls to storage that may fail for a moment
 * (a 5xx, a reset connection). Runtime-free: the API's blob store, the render node and clients share it.
 */

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts?: number;
  /** The first backoff's ceiling (ms); it doubles with each retry up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Whether `err` may go away when tried again; false stops at once. */
  retryable?: (err: unknown) => boolean;
  /** A wait the failure itself asks for (e.g. a Retry-After header), used instead of the backoff. */
  delayFor?: (err: unknown) => number | undefined;
  /** Called before each retry's wait (for logs and counters). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

export const RETRY_DEFAULTS: Required<Omit<RetryOptions, 'onRetry' | 'signal' | 'delayFor'>> = {
  attempts: 6,
  baseDelayMs: 100,
  maxDelayMs: 3_000,
  retryable: () => true,
};

/** Why a call gave up after retrying: the last failure is the cause. */
export class RetriesExhaustedError extends Error {
  constructor(
    readonly what: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`${what} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${describe(cause)}`, { cause });
    this.name = 'RetriesExhaustedError';
  }
}

/**
 * Run `fn` until it resolves, it throws something not retryable (rethrown as is), or `attempts` tries failed
 * (RetriesExhaustedError naming `what`). Waits a random time in [0, min(max, base·2^n)] between tries: full
 * jitter, so many callers failing together do not come back together.
 */
export async function withRetries<T>(what: string, fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  // Options given as undefined keep their defaults (a plain spread would overwrite them).
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RetryOptions;
  const opts = { ...RETRY_DEFAULTS, ...given };
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      if (!opts.retryable(err)) throw err;
      if (attempt >= opts.attempts) throw new RetriesExhaustedError(what, attempt, err);
      const delayMs = opts.delayFor?.(err) ?? Math.random() * Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (attempt - 1));
      opts.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, opts.signal);
    }
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error && err.cause.message !== err.message ? ` (${err.cause.message})` : '';
  return `${err.name}${typeof code === 'string' ? ` ${code}` : ''}: ${err.message}${cause}`;
}

/** Wait `ms`, or reject with the signal's reason as soon as it aborts (at once if it already has). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
