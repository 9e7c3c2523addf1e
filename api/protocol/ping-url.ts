// Fetch only (browsers, workers, Node): times GET /ping on a render node. Used by the SDK's probe and by
// render nodes measuring their peers.
import { Pong } from './latency.ts';
import { newProbeNonce } from './probe-proof.ts';

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

/** A timed ping: the minimum RTT, with the challenge of the ping that gave it and the node's answer. */
export interface ProvenRtt {
  rttMs: number;
  nonce: string;
  /** The node's HMAC of `nonce`; absent when the ping server answered without one (no routing credit). */
  proof?: string;
  /**
   * Whether that answer spoke as the node: it named `expectNodeId`, or echoed the nonce. Such an answer without the
   * node's proof is a forgery (the API, which knows the key, convicts the node of it); an answer naming nobody is a
   * node that does not know its id yet.
   */
  claimed?: boolean;
}

/**
 * The round trip (ms) to a probe URL: the minimum of `samples` GETs. The first one may include a
 * connection set-up, which is why several are sent. Throws when no ping got a valid answer.
 */
export async function pingUrl(url: string, options: PingOptions = {}): Promise<number> {
  return (await pingProven(url, options)).rttMs;
}

/**
 * Like pingUrl, but each GET carries a fresh `?nonce=`, and the nonce and answer (proof) of the fastest
 * ping come back with its RTT: the API checks that proof against the node's probe key before it trusts the
 * RTT, so a fast answer from something that is not the node earns nothing.
 */
export async function pingProven(url: string, options: PingOptions = {}): Promise<ProvenRtt> {
  const samples = Math.max(1, options.samples ?? PING_DEFAULTS.samples);
  const timeoutMs = options.timeoutMs ?? PING_DEFAULTS.timeoutMs;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let best: ProvenRtt | undefined;
  let lastError: unknown;
  for (let i = 0; i < samples; i++) {
    options.signal?.throwIfAborted();
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (options.signal) signals.push(options.signal);
    try {
      const nonce = newProbeNonce();
      const target = new URL(url);
      target.searchParams.set('nonce', nonce);
      const t0 = performance.now();
      // `cache` is missing from Workers' RequestInit type; workerd honours 'no-store' (the edge times nodes with this too).
      const init = { method: 'GET', cache: 'no-store', signal: AbortSignal.any(signals) } as RequestInit;
      const res = await doFetch(target.toString(), init);
      const text = await res.text();
      const rtt = performance.now() - t0;
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const pong = Pong.safeParse(safeJson(text));
      if (options.expectNodeId && pong.success && pong.data.nodeId && pong.data.nodeId !== options.expectNodeId) {
        throw new Error(`${url} answers for node ${pong.data.nodeId}, not ${options.expectNodeId}`);
      }
      const proof = pong.success && pong.data.nonce === nonce ? pong.data.proof : undefined;
      const claimed = pong.success && ((options.expectNodeId !== undefined && pong.data.nodeId === options.expectNodeId) || pong.data.nonce === nonce);
      // Sub-millisecond loopback pings would otherwise read as 0, which is no RTT.
      const rttMs = Math.max(0.01, Math.round(rtt * 100) / 100);
      if (!best || rttMs < best.rttMs) best = { rttMs, nonce, ...(proof ? { proof } : {}), ...(claimed ? { claimed } : {}) };
    } catch (err) {
      if (options.signal?.aborted) throw err;
      lastError = err;
    }
  }
  if (!best) throw new Error(`no answer from ${url}: ${(lastError as Error)?.message ?? lastError}`, { cause: lastError });
  return best;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
