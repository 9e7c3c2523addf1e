// Fetch only (browsers, workers, Node): times GET /v1/edge/ping, the API's edge location. Used by the SDK's
// probe and by render nodes for their heartbeats: the PoP and the RTT to it are free landmarks for routing.
import { EdgePing, type EdgeSighting } from './edge.ts';
import { PING_DEFAULTS, type PingOptions } from './ping-url.ts';

/**
 * The PoP behind `baseUrl` and the minimum RTT (ms) of `samples` timed edge pings; undefined when the API
 * does not know its PoP (a Node API without TESSERA_EDGE_POP) or none answered.
 */
export async function timeEdgePing(baseUrl: string, options: Omit<PingOptions, 'expectNodeId'> = {}): Promise<EdgeSighting | undefined> {
  const samples = Math.max(1, options.samples ?? PING_DEFAULTS.samples);
  const timeoutMs = options.timeoutMs ?? PING_DEFAULTS.timeoutMs;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const url = `${baseUrl.replace(/\/+$/, '')}/v1/edge/ping`;
  let best = Infinity;
  let pop: string | null = null;
  for (let i = 0; i < samples; i++) {
    options.signal?.throwIfAborted();
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (options.signal) signals.push(options.signal);
    try {
      const t0 = performance.now();
      const res = await doFetch(url, { method: 'GET', cache: 'no-store', signal: AbortSignal.any(signals) });
      const text = await res.text();
      const rtt = performance.now() - t0;
      if (!res.ok) continue;
      const body = EdgePing.safeParse(JSON.parse(text));
      if (!body.success || !body.data.pop) continue;
      // Anycast may move between pings; keep the PoP of the fastest.
      if (rtt < best) { best = rtt; pop = body.data.pop; }
    } catch (err) {
      if (options.signal?.aborted) throw err;
    }
  }
  if (pop === null || best === Infinity || !/^[A-Za-z0-9_-]{1,16}$/.test(pop)) return undefined;
  return { pop, rttMs: Math.max(0.01, Math.round(best * 100) / 100) };
}
