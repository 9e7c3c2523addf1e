/**
 * RTT sample filter: the minimum over a sliding window of recent samples (queueing only ever adds delay,
 * so the minimum is the path's propagation time), then an exponentially weighted moving average of those
 * minima (so one lucky sample, or a route change, moves the estimate gradually).
 */

export interface RttFilterOptions {
  /** Samples in the sliding window whose minimum is taken. */
  window?: number;
  /** EWMA weight of each new window minimum (1 = no smoothing). */
  alpha?: number;
  /** Samples above this (ms) are dropped as timeouts. */
  maxRttMs?: number;
}

export const RTT_FILTER_DEFAULTS: Required<RttFilterOptions> = {
  window: 5,
  alpha: 0.25,
  maxRttMs: 10_000,
};

/** One pair's filtered RTT (one per node↔API link, node↔node neighbour or client↔node pair). */
export class RttFilter {
  readonly #o: Required<RttFilterOptions>;
  readonly #ring: Float64Array;
  #count = 0;
  #next = 0;
  #smoothed = NaN;

  constructor(options: RttFilterOptions = {}) {
    this.#o = { ...RTT_FILTER_DEFAULTS, ...options };
    if (!Number.isInteger(this.#o.window) || this.#o.window < 1) throw new RangeError(`RTT filter window must be a positive integer (got ${this.#o.window})`);
    if (!(this.#o.alpha > 0 && this.#o.alpha <= 1)) throw new RangeError(`RTT filter alpha must be in (0, 1] (got ${this.#o.alpha})`);
    this.#ring = new Float64Array(this.#o.window);
  }

  /** Adds one sample (ms) and returns the filtered RTT; invalid samples are ignored. */
  add(sampleMs: number): number | undefined {
    if (!(sampleMs > 0) || !(sampleMs <= this.#o.maxRttMs)) return this.value;
    this.#ring[this.#next] = sampleMs;
    this.#next = (this.#next + 1) % this.#ring.length;
    if (this.#count < this.#ring.length) this.#count++;
    let min = Infinity;
    for (let i = 0; i < this.#count; i++) if (this.#ring[i] < min) min = this.#ring[i];
    this.#smoothed = Number.isNaN(this.#smoothed) ? min : this.#smoothed + this.#o.alpha * (min - this.#smoothed);
    return this.#smoothed;
  }

  /** The filtered RTT (ms), or undefined before the first valid sample. */
  get value(): number | undefined {
    return Number.isNaN(this.#smoothed) ? undefined : this.#smoothed;
  }

  /** Valid samples in the window (at most `window`). */
  get samples(): number {
    return this.#count;
  }
}

/**
 * The RTT a node measures on one heartbeat: from sending it to receiving the ack, on the node's own clock
 * (no clock sync needed). Undefined when the timestamps are out of order.
 */
export function nodeSideRttMs(sentAtMs: number, ackReceivedAtMs: number): number | undefined {
  const rtt = ackReceivedAtMs - sentAtMs;
  return rtt > 0 && Number.isFinite(rtt) ? rtt : undefined;
}

/**
 * The RTT the API measures from a heartbeat that echoes the previous ack's `serverTime`: the time since
 * that ack left, less how long the node held it before sending this heartbeat (`heldMs`, node clock).
 * Both terms are differences on one clock each, so clock offsets cancel.
 */
export function apiSideRttMs(echoedServerTimeMs: number, heldMs: number, receivedAtMs: number): number | undefined {
  const rtt = receivedAtMs - echoedServerTimeMs - heldMs;
  return rtt > 0 && Number.isFinite(rtt) ? rtt : undefined;
}
