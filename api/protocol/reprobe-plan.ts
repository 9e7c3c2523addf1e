/**
 * When a returning client re-probes a node it measured before (the SDK's `probe()` and the routing simulator
 * share this rule, so `tessera sim routing --sessions` measures what clients do).
 *
 * A re-probe spends one of the session's pings on a node the client knows already; it guards against one
 * thing only: routing on an RTT that is no longer true. So the client explores first and re-probes last, and
 * only the RTT that would decide its route (the fastest it holds) when that RTT is stale: measured before this
 * session and more than `freshForMs` ago, or before the client's network changed (another edge PoP than when
 * it measured). When a node measured this session already beats every remembered RTT, the route goes to that
 * node whatever the old RTTs were, and the ping explores instead. A path's RTT stays level for long stretches
 * and shifts now and then (Acharya & Saltz 1996: persistent changes come slowly; Zhang et al. 2001: delay is
 * "operationally constant" over long periods), hence the freshness window. Pure: no clock of its own.
 */

/** One RTT the client holds: the node, its RTT, and when it was measured (ms since the epoch). */
export interface RememberedRtt {
  readonly nodeId: string;
  readonly rttMs: number;
  readonly at: number;
}

export interface ReprobeOptions {
  /** A measurement younger than this is trusted as it is (0: every remembered RTT is stale). */
  freshForMs?: number;
}

export const REPROBE_DEFAULTS: Required<ReprobeOptions> = {
  freshForMs: 60 * 60 * 1000,
};

/**
 * The node to re-probe now, if any: the fastest of `known` (every RTT the client holds, this session's and
 * remembered ones; ties by id) when it was not measured this session (`pingedNow`) and is stale (older than
 * `freshForMs`, dated in the future, or `networkChanged`). Undefined: spend the ping exploring.
 */
export function nextReprobe(known: readonly RememberedRtt[], pingedNow: ReadonlySet<string>, now: number, networkChanged = false, options: ReprobeOptions = REPROBE_DEFAULTS): string | undefined {
  const fresh = options.freshForMs ?? REPROBE_DEFAULTS.freshForMs;
  let best: RememberedRtt | undefined;
  for (const r of known) {
    if (!(r.rttMs > 0) || !Number.isFinite(r.rttMs)) continue;
    if (!best || r.rttMs < best.rttMs || (r.rttMs === best.rttMs && r.nodeId < best.nodeId)) best = r;
  }
  if (!best || pingedNow.has(best.nodeId)) return undefined;
  const stale = networkChanged || !(fresh > 0) || !(now - best.at < fresh) || best.at > now;
  return stale ? best.nodeId : undefined;
}
