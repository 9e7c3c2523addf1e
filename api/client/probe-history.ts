// Runs wherever fetch does: what a client measured per API, kept between sessions so it routes from its own
// history (explore new nodes, re-probe a stale best: api/protocol/reprobe-plan.ts). Stores: in memory, the browser's
// localStorage, or a file (Node CLI: infra/cli/probe-history-file.ts). Everything read back is a claim.
import { z } from 'zod';
import { EdgeSighting } from '../protocol/edge.ts';
import { parseJsonClaim } from '../protocol/parse-json-claim.ts';
import { ProbeNonce, ProbeProof } from '../protocol/probe-proof.ts';
import { rememberRtt } from '../protocol/reprobe-plan.ts';

/** Nodes remembered per API at most (the fastest are kept). */
export const MAX_REMEMBERED_NODES = 64;
/** Measurements older than this are forgotten (nodes come and go, paths change). */
export const HISTORY_MAX_AGE_MS = 14 * 24 * 3600 * 1000;

const RememberedNode = z.object({
  probeUrl: z.string().url().max(2048),
  rttMs: z.number().positive().max(60_000),
  at: z.number().int().nonnegative(),
  /** Since when the path has held this RTT (rememberRtt, api/protocol/reprobe-plan.ts): a stable path is re-probed less often. */
  stableSince: z.number().int().nonnegative().optional(),
  /** The challenge and the node's answer of the ping that measured it: the API credits the RTT only with them. */
  nonce: ProbeNonce.optional(),
  proof: ProbeProof.optional(),
});

/** What a client keeps about one API. */
export const ProbeMemory = z.object({
  version: z.literal(1),
  nodes: z.record(z.string().min(1).max(128), RememberedNode).refine((n) => Object.keys(n).length <= 4 * MAX_REMEMBERED_NODES, 'too many nodes'),
  edge: EdgeSighting.optional(),
});
export type ProbeMemory = z.infer<typeof ProbeMemory>;
export type RememberedNode = z.infer<typeof RememberedNode>;

/** Where a client keeps its measurements, by API (the base URL). */
export interface ProbeHistoryStore {
  load(api: string): Promise<ProbeMemory | undefined>;
  save(api: string, memory: ProbeMemory): Promise<void>;
}

/** Parses stored text; anything malformed reads as no history (never an error). */
export function parseProbeMemory(text: string | null | undefined, now = Date.now()): ProbeMemory | undefined {
  const parsed = ProbeMemory.safeParse(parseJsonClaim(text));
  if (!parsed.success) return undefined;
  return prune(parsed.data, now);
}

/** Drops stale and future-dated entries and keeps the fastest MAX_REMEMBERED_NODES. */
export function prune(memory: ProbeMemory, now = Date.now()): ProbeMemory {
  const fresh = Object.entries(memory.nodes)
    .filter(([, n]) => n.at <= now + 60_000 && now - n.at <= HISTORY_MAX_AGE_MS)
    .sort((a, b) => a[1].rttMs - b[1].rttMs)
    .slice(0, MAX_REMEMBERED_NODES);
  return { version: 1, nodes: Object.fromEntries(fresh), ...(memory.edge ? { edge: memory.edge } : {}) };
}

/**
 * `memory` with this session's measurements: a fresh RTT replaces the old one (the path may have changed); when
 * it agrees with the old one, the path's stable run goes on (stableSince, rememberRtt), else it starts again.
 */
export function remember(memory: ProbeMemory | undefined, measured: readonly { nodeId: string; probeUrl: string; rttMs: number; nonce?: string; proof?: string }[], edge: EdgeSighting | undefined, now = Date.now()): ProbeMemory {
  const nodes = { ...memory?.nodes };
  for (const m of measured) {
    const prev = nodes[m.nodeId];
    const { stableSince } = rememberRtt(prev && { nodeId: m.nodeId, rttMs: prev.rttMs, at: prev.at, stableSince: prev.stableSince }, m.nodeId, m.rttMs, now);
    nodes[m.nodeId] = { probeUrl: m.probeUrl, rttMs: m.rttMs, at: now, ...(stableSince !== undefined ? { stableSince } : {}), ...(m.nonce ? { nonce: m.nonce } : {}), ...(m.proof ? { proof: m.proof } : {}) };
  }
  const e = edge ?? memory?.edge;
  return prune({ version: 1, nodes, ...(e ? { edge: e } : {}) }, now);
}

/** In memory, per process: the default (a client object remembers for as long as it lives). */
export function memoryProbeHistory(): ProbeHistoryStore {
  const kept = new Map<string, string>();
  return {
    async load(api) {
      return parseProbeMemory(kept.get(api));
    },
    async save(api, memory) {
      kept.set(api, JSON.stringify(memory));
    },
  };
}

/** The browser's localStorage (or any Storage), one entry per API; quota errors are ignored. */
export function localStorageProbeHistory(storage: Pick<Storage, 'getItem' | 'setItem'> = globalThis.localStorage, prefix = 'tessera.probe-history:'): ProbeHistoryStore {
  return {
    async load(api) {
      try {
        return parseProbeMemory(storage.getItem(prefix + api));
      } catch {
        return undefined;
      }
    },
    async save(api, memory) {
      try {
        storage.setItem(prefix + api, JSON.stringify(memory));
      } catch {
        // Full or disabled storage: the client just learns less.
      }
    },
  };
}
