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
  /**
   * When the run of agreeing measurements that ends with this one began (rememberRtt): the path has held this
   * RTT (within `agreeRelative` / `agreeAbsoluteMs`) from then to `at`. Absent: measured once, or it moved.
   */
  readonly stableSince?: number;
}

export interface ReprobeOptions {
  /** A measurement younger than this is trusted as it is (0: every remembered RTT is stale). */
  freshForMs?: number;
  /**
   * A path seen stable over a span S (stableSince … at) is trusted for `stableFactor` × S after its last
   * measurement (and at least `freshForMs`), at most `stableMaxMs`: how long a path has held is the best guide
   * to how long it will (0: off, every RTT is fresh for `freshForMs` only; with `freshForMs` 0 nothing is fresh).
   */
  stableFactor?: number;
  stableMaxMs?: number;
  /** Two measurements of a path agree when they differ by at most this share of the lower one, or by `agreeAbsoluteMs`. */
  agreeRelative?: number;
  agreeAbsoluteMs?: number;
}

export const REPROBE_DEFAULTS: Required<ReprobeOptions> = {
  freshForMs: 60 * 60 * 1000,
  stableFactor: 2,
  stableMaxMs: 7 * 24 * 3600 * 1000,
  agreeRelative: 0.1,
  agreeAbsoluteMs: 5,
};

/**
 * What a client keeps after measuring `rttMs` to a node at `at`, given what it held for that node (`prev`):
 * the new RTT replaces the old one, and the stable run goes on (stableSince kept, or started at the old
 * measurement) when the two agree, or ends when they do not. Bad input keeps nothing of `prev`'s run.
 */
export function rememberRtt(prev: RememberedRtt | undefined, nodeId: string, rttMs: number, at: number, options: ReprobeOptions = REPROBE_DEFAULTS): RememberedRtt {
  const o = { ...REPROBE_DEFAULTS, ...options };
  const ok = prev !== undefined && prev.nodeId === nodeId && prev.rttMs > 0 && Number.isFinite(prev.rttMs) && rttMs > 0 && Number.isFinite(rttMs) && Number.isFinite(prev.at) && prev.at < at;
  const agree = ok && Math.abs(rttMs - prev.rttMs) <= Math.max(o.agreeRelative * Math.min(rttMs, prev.rttMs), o.agreeAbsoluteMs);
  if (!agree) return { nodeId, rttMs, at };
  const since = prev.stableSince !== undefined && Number.isFinite(prev.stableSince) && prev.stableSince <= prev.at ? prev.stableSince : prev.at;
  return { nodeId, rttMs, at, stableSince: since };
}

/** How long after its measurement `r` stays fresh. */
export function freshFor(r: RememberedRtt, options: ReprobeOptions = REPROBE_DEFAULTS): number {
  const o = { ...REPROBE_DEFAULTS, ...options };
  // freshForMs 0 means "trust nothing remembered", stable or not.
  if (!(o.freshForMs > 0)) return 0;
  const base = o.freshForMs;
  if (!(o.stableFactor > 0) || r.stableSince === undefined || !(r.stableSince <= r.at)) return base;
  return Math.max(base, Math.min(o.stableFactor * (r.at - r.stableSince), o.stableMaxMs));
}

/**
 * The node to re-probe now, if any: the fastest of `known` (every RTT the client holds, this session's and
 * remembered ones; ties by id) when it was not measured this session (`pingedNow`) and is stale (older than
 * `freshForMs`, dated in the future, or `networkChanged`). Undefined: spend the ping exploring.
 */
export function nextReprobe(known: readonly RememberedRtt[], pingedNow: ReadonlySet<string>, now: number, networkChanged = false, options: ReprobeOptions = REPROBE_DEFAULTS): string | undefined {
  let best: RememberedRtt | undefined;
  for (const r of known) {
    if (!(r.rttMs > 0) || !Number.isFinite(r.rttMs)) continue;
    if (!best || r.rttMs < best.rttMs || (r.rttMs === best.rttMs && r.nodeId < best.nodeId)) best = r;
  }
  if (!best || pingedNow.has(best.nodeId)) return undefined;
  const fresh = freshFor(best, options);
  const stale = networkChanged || !(fresh > 0) || !(now - best.at < fresh) || best.at > now;
  return stale ? best.nodeId : undefined;
}
