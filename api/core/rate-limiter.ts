/**
 * Per-key request limits: a token bucket per API key, refilled continuously at `requestsPerMinute` up to
 * `burst`. In memory, so each API process (each Workers isolate) limits on its own; the limit a client
 * meets across N processes is at most N times the configured one. Pure: time comes in as `now`.
 */

export interface RateLimit {
  requestsPerMinute: number;
  burst: number;
}

/** The outcome of one request: allowed, or refused until `retryAfterMs` from now. */
export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

/** Keys tracked at most; the least recently used bucket is dropped beyond it (it was full anyway, or soon). */
const MAX_KEYS = 10_000;

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  /** Whether `take` would allow one request now, taking nothing (a check before work that cannot be undone). */
  peek(key: string, limit: RateLimit, now: number): boolean {
    const old = this.#buckets.get(key);
    return !old || Math.min(limit.burst, old.tokens + (now - old.at) * (limit.requestsPerMinute / 60_000)) >= 1;
  }

  /** Take one token from `key`'s bucket. */
  take(key: string, limit: RateLimit, now: number): RateDecision {
    const perMs = limit.requestsPerMinute / 60_000;
    const old = this.#buckets.get(key);
    const tokens = old ? Math.min(limit.burst, old.tokens + (now - old.at) * perMs) : limit.burst;
    // Re-insert so the map's order is least recently used first.
    this.#buckets.delete(key);
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, at: now });
      return { ok: false, retryAfterMs: Math.ceil((1 - tokens) / perMs) };
    }
    this.#buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.#buckets.size > MAX_KEYS) this.#buckets.delete(this.#buckets.keys().next().value!);
    return { ok: true };
  }
}
