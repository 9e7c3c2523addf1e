/**
 * The edge's own RTTs to render nodes, per PoP: the edge (a Worker at a Cloudflare colo, or the Node API as
 * one PoP) times a node's challenge ping itself, so the row is measured, never claimed. A client that timed
 * its PoP at r and a node the PoP measured at d is within |r − d| ≤ RTT ≤ r + d of it: the PoP is a landmark
 * with a bound on every node it measured (candidates.ts `triangleBounds`, as `EdgeSighting.nodeRttMs`).
 *
 * Bounded: each PoP keeps at most `maxNodesPerPop` nodes (past it, the farthest goes: near nodes are the ones
 * that locate a client), entries older than `maxAgeMs` are forgotten (routes change, nodes move), and a node
 * is due for a new measurement `refreshMs` after its last. Pure and serializable: the API keeps one row per
 * PoP in the job store's meta table (edge-rtt-meter.ts), the simulator in memory (sim/simulate-routing.ts).
 */
import { parseStoredObject, safeKey } from './stored-hint.ts';

export interface EdgeRttOptions {
  /** Nodes kept per PoP (the nearest). */
  maxNodesPerPop?: number;
  /** An entry older than this is forgotten (ms). */
  maxAgeMs?: number;
  /** A node measured this long ago is due again (ms). */
  refreshMs?: number;
  /** Nodes one request may have its PoP measure (in the background). */
  measureBudget?: number;
  /** Challenge pings per measurement; the minimum is kept (queueing only adds delay). */
  samples?: number;
  /** Longest one ping may take (ms). */
  timeoutMs?: number;
}

export const EDGE_RTT_DEFAULTS: Required<EdgeRttOptions> = {
  maxNodesPerPop: 512,
  maxAgeMs: 6 * 3600 * 1000,
  refreshMs: 10 * 60 * 1000,
  measureBudget: 4,
  samples: 3,
  timeoutMs: 1500,
};

/** One node as a PoP measured it: the RTT (ms) and when (ms). */
export interface EdgeRttEntry {
  rttMs: number;
  at: number;
}

/** One PoP's measurements, by node id. */
export type EdgeRttRow = Record<string, EdgeRttEntry>;

/** Longest RTT kept (ms): anything slower is no landmark. */
const MAX_RTT_MS = 60_000;

function merged(options: EdgeRttOptions | undefined): Required<EdgeRttOptions> {
  return options ? { ...EDGE_RTT_DEFAULTS, ...options } : EDGE_RTT_DEFAULTS;
}

function fresh(e: EdgeRttEntry, now: number, maxAgeMs: number): boolean {
  return now - e.at <= maxAgeMs;
}

/** A plausible RTT: positive, finite, under a minute. */
export function isEdgeRtt(rttMs: number): boolean {
  return rttMs > 0 && rttMs <= MAX_RTT_MS && Number.isFinite(rttMs);
}

/**
 * The row after the PoP measured `nodeId` at `rttMs` (a new object; expired entries dropped, the farthest
 * dropped past maxNodesPerPop — the new entry itself when it is the farthest). The latest measurement
 * replaces the node's earlier one. An implausible RTT changes nothing (same object back).
 */
export function recordEdgeRtt(row: EdgeRttRow | undefined, nodeId: string, rttMs: number, now: number, options?: EdgeRttOptions): EdgeRttRow {
  const o = merged(options);
  const before = row ?? {};
  if (!safeKey(nodeId) || nodeId.length > 128 || !isEdgeRtt(rttMs)) return before;
  const next: EdgeRttRow = {};
  for (const id in before) if (id !== nodeId && fresh(before[id], now, o.maxAgeMs)) next[id] = before[id];
  next[nodeId] = { rttMs, at: now };
  const ids = Object.keys(next);
  if (ids.length > o.maxNodesPerPop) {
    ids.sort((a, b) => next[a].rttMs - next[b].rttMs);
    for (const id of ids.slice(o.maxNodesPerPop)) delete next[id];
  }
  return next;
}

/** The row's unexpired RTTs by node id, as the router takes them (`EdgeSighting.nodeRttMs`). */
export function edgeRttView(row: EdgeRttRow | undefined, now: number, options?: EdgeRttOptions): Record<string, number> {
  const o = merged(options);
  const out: Record<string, number> = {};
  for (const id in row ?? {}) if (fresh(row![id], now, o.maxAgeMs)) out[id] = row![id].rttMs;
  return out;
}

/**
 * Which of `nodes` the PoP should measure now, at most `budget`: those never measured (or expired) before
 * those measured longest ago, and only nodes due (`refreshMs`); within each group, `prefer` (the nodes a
 * client was just told to ping) first, then the given order.
 */
export function nodesToMeasure(row: EdgeRttRow | undefined, nodes: readonly string[], now: number, budget: number, options?: EdgeRttOptions, prefer: readonly string[] = []): string[] {
  const o = merged(options);
  if (budget <= 0) return [];
  const rank = new Map(prefer.map((id, i) => [id, i]));
  const due = [...new Set(nodes)]
    .map((id, i) => {
      const e = row && Object.hasOwn(row, id) ? row[id] : undefined;
      const age = e && fresh(e, now, o.maxAgeMs) ? now - e.at : Infinity;
      return { id, i, age };
    })
    .filter((x) => x.age >= o.refreshMs);
  due.sort((a, b) => {
    const never = Number(b.age === Infinity) - Number(a.age === Infinity);
    if (never) return never;
    const pa = rank.get(a.id) ?? Infinity;
    const pb = rank.get(b.id) ?? Infinity;
    if (pa !== pb) return pa - pb;
    return a.age === b.age ? a.i - b.i : b.age - a.age;
  });
  return due.slice(0, budget).map((x) => x.id);
}

/** A stored row, junk dropped (anything malformed reads as nothing: the row is only a hint). */
export function parseEdgeRttRow(text: string | null, options?: EdgeRttOptions): EdgeRttRow {
  const raw = parseStoredObject(text);
  if (!raw) return {};
  const o = merged(options);
  const row: EdgeRttRow = {};
  for (const [id, e] of Object.entries(raw).slice(0, o.maxNodesPerPop)) {
    const r = e as Partial<EdgeRttEntry> | null;
    if (id.length > 128 || !safeKey(id) || !r || typeof r.rttMs !== 'number' || !isEdgeRtt(r.rttMs) || typeof r.at !== 'number' || !Number.isFinite(r.at)) continue;
    row[id] = { rttMs: r.rttMs, at: r.at };
  }
  return row;
}
