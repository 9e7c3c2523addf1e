// Fetch only (browsers, workers, Node): times GET /ping on a render node. Used by the SDK's probe and by
// render nodes measuring their peers.
import { Pong } from './latency.ts';

export interface PingOptions {
  /** Pings sent one after the other; the minimum is kept (queueing only ever adds delay). */
  samples?: number;
  /** Longest one ping may take. */
  timeoutMs?: number;
  /** When set, an answer naming another node is an error (a stale or shared probe URL). */
  expectNodeId?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export const PING_DEFAULTS = { samples: 3, timeoutMs: 2000 };

/**
 * The round trip (ms) to a probe URL: the minimum of `samples` GETs. The first one may include a
 * connection set-up, which is why several are sent. Throws when no ping got a valid answer.
 */
export async function pingUrl(url: string, options: PingOptions = {}): Promise<number> {
  const samples = Math.max(1, options.samples ?? PING_DEFAULTS.samples);
  const timeoutMs = options.timeoutMs ?? PING_DEFAULTS.timeoutMs;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let best = Infinity;
  let lastError: unknown;
  for (let i = 0; i < samples; i++) {
    options.signal?.throwIfAborted();
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (options.signal) signals.push(options.signal);
    try {
      const t0 = performance.now();
      const res = await doFetch(url, { method: 'GET', cache: 'no-store', signal: AbortSignal.any(signals) });
      const text = await res.text();
      const rtt = performance.now() - t0;
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const pong = Pong.safeParse(safeJson(text));
      if (options.expectNodeId && pong.success && pong.data.nodeId && pong.data.nodeId !== options.expectNodeId) {
        throw new Error(`${url} answers for node ${pong.data.nodeId}, not ${options.expectNodeId}`);
      }
      if (rtt < best) best = rtt;
    } catch (err) {
      if (options.signal?.aborted) throw err;
      lastError = err;
    }
  }
  if (best === Infinity) throw new Error(`no answer from ${url}: ${(lastError as Error)?.message ?? lastError}`, { cause: lastError });
  // Sub-millisecond loopback pings would otherwise read as 0, which is no RTT.
  return Math.max(0.01, Math.round(best * 100) / 100);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
