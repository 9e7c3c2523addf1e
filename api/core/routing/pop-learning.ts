/**
 * Per-PoP learning: the nodes that turned out best for earlier clients of an edge PoP, suggested first to
 * the next client from that PoP. Clients that reach the same PoP are near each other, so whichever node
 * served them well is a far better first ping than a landmark chosen for the whole world.
 *
 * What a client teaches: from its proven RTTs (at least `minRtts` of them, to nodes the API knows), every
 * node within 10% (or 5 ms) of the best of them earns a win, every other measured node a trial only. Each
 * PoP keeps at most `maxNodesPerPop` nodes (only nodes that won once enter; the lowest score makes room),
 * ranked by wins ÷ (trials + 1); counts decay with a half-life (nodes come and go, routes change). The
 * table keeps at most `maxPops` PoPs, the least recently taught dropped first. Pure and serializable: the
 * API keeps it in the job store's meta table (pop-learner.ts), the simulator in memory.
 */
import { parseStoredObject, safeKey } from './stored-hint.ts';

export interface PopLearningOptions {
  /** Nodes kept per PoP. */
  maxNodesPerPop?: number;
  /** PoPs kept (least recently taught dropped first). */
  maxPops?: number;
  /** Wins and trials halve over this time (ms). */
  halfLifeMs?: number;
  /** Proven RTTs (to known nodes) a client needs to teach anything: one RTT says nothing about "best". */
  minRtts?: number;
  /** A node within best × (1 + relative) or best + absoluteMs of a client's best RTT earns a win. */
  winRelative?: number;
  winAbsoluteMs?: number;
  /** Suggested nodes need at least this decayed win count. */
  minWins?: number;
}

export const POP_LEARNING_DEFAULTS: Required<PopLearningOptions> = {
  maxNodesPerPop: 8,
  maxPops: 256,
  halfLifeMs: 7 * 24 * 3600 * 1000,
  minRtts: 2,
  winRelative: 0.1,
  winAbsoluteMs: 5,
  minWins: 0.5,
};

/** One node's record at one PoP: decayed wins and trials as of `at` (ms). */
export interface PopNodeRecord {
  wins: number;
  trials: number;
  at: number;
}

/** One PoP's nodes, and when it last learned something. */
export interface PopRecord {
  at: number;
  nodes: Record<string, PopNodeRecord>;
}

/** Every PoP's record, by PoP code. */
export type PopTable = Record<string, PopRecord>;

function decayed(r: PopNodeRecord, now: number, halfLifeMs: number): PopNodeRecord {
  const dt = Math.max(0, now - r.at);
  const f = dt > 0 ? 2 ** (-dt / halfLifeMs) : 1;
  return { wins: r.wins * f, trials: r.trials * f, at: Math.max(now, r.at) };
}

function score(r: PopNodeRecord): number {
  return r.wins / (r.trials + 1);
}

function merged(options: PopLearningOptions | undefined): Required<PopLearningOptions> {
  return options ? { ...POP_LEARNING_DEFAULTS, ...options } : POP_LEARNING_DEFAULTS;
}

/**
 * A PoP's record after one client's proven RTTs (node id → ms; only ids in `known` count). Returns the
 * record unchanged (same object) when the client teaches nothing.
 */
export function learnPop(record: PopRecord | undefined, rttMs: Readonly<Record<string, number>>, known: (nodeId: string) => boolean, now: number, options?: PopLearningOptions): PopRecord | undefined {
  const o = merged(options);
  const ids = Object.keys(rttMs).filter((id) => known(id) && rttMs[id] > 0 && Number.isFinite(rttMs[id]));
  if (ids.length < o.minRtts) return record;
  let best = Infinity;
  for (const id of ids) best = Math.min(best, rttMs[id]);
  const nodes: Record<string, PopNodeRecord> = {};
  for (const id in record?.nodes ?? {}) nodes[id] = decayed(record!.nodes[id], now, o.halfLifeMs);
  for (const id of ids) {
    const win = rttMs[id] <= best * (1 + o.winRelative) || rttMs[id] <= best + o.winAbsoluteMs;
    const old = nodes[id];
    if (old) {
      nodes[id] = { wins: old.wins + (win ? 1 : 0), trials: old.trials + 1, at: now };
      continue;
    }
    if (!win) continue;
    const kept = Object.keys(nodes);
    if (kept.length >= o.maxNodesPerPop) {
      // Room for a winner: drop the weakest entry (a node that only lost, or won long ago).
      let weakest = kept[0];
      for (const k of kept) if (score(nodes[k]) < score(nodes[weakest])) weakest = k;
      if (score(nodes[weakest]) >= score({ wins: 1, trials: 1, at: now })) continue;
      delete nodes[weakest];
    }
    nodes[id] = { wins: 1, trials: 1, at: now };
  }
  return { at: now, nodes };
}

/** The table after one client of `pop` taught it (a new object; the least recently taught PoPs dropped past maxPops). */
export function learnPopTable(table: PopTable, pop: string, rttMs: Readonly<Record<string, number>>, known: (nodeId: string) => boolean, now: number, options?: PopLearningOptions): PopTable {
  const o = merged(options);
  if (!safeKey(pop)) return table;
  const before = Object.hasOwn(table, pop) ? table[pop] : undefined;
  const after = learnPop(before, rttMs, known, now, o);
  if (after === before || !after) return table;
  const next: PopTable = { ...table, [pop]: after };
  const pops = Object.keys(next);
  if (pops.length > o.maxPops) {
    pops.sort((a, b) => next[a].at - next[b].at);
    for (const p of pops.slice(0, pops.length - o.maxPops)) delete next[p];
  }
  return next;
}

/** The nodes earlier clients of this PoP found best, best first (decayed to `now`; weak ones left out). */
export function suggestFromPop(record: PopRecord | undefined, now: number, options?: PopLearningOptions): string[] {
  if (!record?.nodes) return [];
  const o = merged(options);
  return Object.entries(record.nodes)
    .map(([id, r]) => ({ id, r: decayed(r, now, o.halfLifeMs) }))
    .filter((x) => x.r.wins >= o.minWins)
    .sort((a, b) => score(b.r) - score(a.r) || b.r.wins - a.r.wins || (a.id < b.id ? -1 : 1))
    .map((x) => x.id);
}

/** Whether a stored value is a well-formed table (anything else reads as empty: the table is only a hint). */
export function parsePopTable(text: string | null, options?: PopLearningOptions): PopTable {
  const raw = parseStoredObject(text);
  if (!raw) return {};
  const o = merged(options);
  const table: PopTable = {};
  const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  for (const [pop, rec] of Object.entries(raw).slice(0, o.maxPops)) {
    if (!/^[A-Za-z0-9_-]{1,16}$/.test(pop) || !safeKey(pop) || !rec || typeof rec !== 'object') continue;
    const { at, nodes } = rec as { at?: unknown; nodes?: unknown };
    if (!num(at) || !nodes || typeof nodes !== 'object') continue;
    const kept: Record<string, PopNodeRecord> = {};
    for (const [id, n] of Object.entries(nodes as Record<string, unknown>).slice(0, o.maxNodesPerPop)) {
      const r = n as Partial<PopNodeRecord> | null;
      if (id.length > 128 || !safeKey(id) || !r || !num(r.wins) || !num(r.trials) || !num(r.at)) continue;
      kept[id] = { wins: r.wins!, trials: r.trials!, at: r.at! };
    }
    table[pop] = { at: at as number, nodes: kept };
  }
  return table;
}
