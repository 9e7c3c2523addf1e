import { MAX_RTT_MEASUREMENTS, NearbyNodes, NodeList, type GeoPoint, type NodeSearch, type ProbeCandidate, type RttMeasurement } from '../protocol/latency.ts';
import { pingProven, PING_DEFAULTS } from '../protocol/ping-url.ts';
import { timeEdgePing } from '../protocol/time-edge-ping.ts';
import type { EdgeSighting } from '../protocol/edge.ts';
import { nextReprobe, REPROBE_DEFAULTS, type RememberedRtt } from '../protocol/reprobe-plan.ts';
import { memoryProbeHistory, remember } from './probe-history.ts';
import type { ClientTransport } from './client-transport.ts';

// The SDK's probing: measure this client's RTTs to the farm (the edge first, then the API's nearby
// candidates), keeping what it measured in the probe history to re-probe the best nodes next time.

export interface ProbeOptions {
  /** How many nodes to ping (the API's nearest candidates). */
  count?: number;
  /** Pings per node; the minimum is kept. */
  samples?: number;
  /** Longest one ping may take. */
  timeoutMs?: number;
  /** Where this client is, if it knows (helps the API choose candidates; Cloudflare's edge knows without it). */
  location?: GeoPoint;
  /**
   * Of `count` pings, at most how many may re-probe a node this client remembers: the last ones, each only when
   * the fastest RTT the client holds is a stale remembered one (older than `reprobeAfterMs`, or measured before
   * the client reached another edge PoP); otherwise they explore new nodes (nextReprobe, the simulator's rule).
   */
  reprobe?: number;
  /** A remembered RTT younger than this is trusted without a re-probe (REPROBE_DEFAULTS.freshForMs; 0: never trusted). */
  reprobeAfterMs?: number;
  /**
   * Ping one node at a time, asking the API for the next knowing the RTTs so far (default; what `tessera sim
   * routing` measures: one API request per ping); false: ask once and ping all candidates at once (faster,
   * routes worse without coordinates).
   */
  sequential?: boolean;
  signal?: AbortSignal;
}

/** What {@link TesseraClient.probe} measured: pass it as the job's `client` (or its `rtts`). */
export interface ProbeResult {
  /** RTTs (ms) to the nodes that answered, nearest first. */
  rtts: RttMeasurement[];
  /** The client's location, when the API (or the caller) knew it. */
  location?: GeoPoint;
  /** The nodes the API suggested. */
  candidates: ProbeCandidate[];
  /** Candidates that did not answer, and why. */
  failed: { nodeId: string; error: string }[];
  /** The API's edge location (PoP) this client reaches and its RTT to it, when the API knows its PoP. */
  edge?: EdgeSighting;
}

/** The probing part of {@link TesseraClient}. */
export interface ClientProbing {
  /**
   * Measure this client's RTTs to the farm: ask `GET /v1/nodes/nearby` which nodes to ping, ping each
   * candidate's GET /ping a few times (all candidates at once) and keep each minimum. Never throws for a
   * node that does not answer (it is listed in `failed`); throws when the API cannot be asked.
   */
  probe(opts?: ProbeOptions): Promise<ProbeResult>;
  /** `GET /v1/nodes`: nodes matching a search, with load, RTT to the API and coordinate. */
  nodes(search?: Partial<Record<keyof NodeSearch, string | number | boolean>>, opts?: { signal?: AbortSignal }): Promise<NodeList>;
}

export function createClientProbing({ options: opts, json }: ClientTransport): ClientProbing {
  const { baseUrl, fetch: doFetch } = opts;
  const history = opts.probeHistory === false ? undefined : (opts.probeHistory ?? memoryProbeHistory());

  return {
    async probe({ count = 3, samples = PING_DEFAULTS.samples, timeoutMs = PING_DEFAULTS.timeoutMs, location, reprobe, reprobeAfterMs = REPROBE_DEFAULTS.freshForMs, sequential = true, signal } = {}) {
      // The edge first: its PoP and RTT are free landmarks that help the API choose whom to ping.
      const edge = await timeEdgePing(baseUrl, { samples, timeoutMs, fetch: doFetch, signal }).catch((err) => {
        if (signal?.aborted) throw err;
        return undefined;
      });
      const memory = history ? await history.load(baseUrl).catch(() => undefined) : undefined;
      const startedAt = Date.now();
      // A client that comes back explores first and re-probes last, only a stale RTT that would decide its route.
      const reprobeSlots = Math.min(count, reprobe ?? Math.max(1, Math.floor(count / 3)));
      // Another PoP than when it measured: the client's network changed, so its remembered RTTs may be off.
      const networkChanged = !!(edge && memory?.edge && memory.edge.pop !== edge.pop);
      const remembered = new Set(Object.keys(memory?.nodes ?? {}));
      // Enough candidates that some are new to this client (the API does not know what it remembers).
      const query = new URLSearchParams({ count: String(Math.min(16, count + remembered.size)) });
      if (location) {
        query.set('lat', String(location.lat));
        query.set('lon', String(location.lon));
      }
      if (edge) {
        query.set('pop', edge.pop);
        query.set('popRttMs', String(edge.rttMs));
      }
      const failed: ProbeResult['failed'] = [];
      const pingOne = async (c: { nodeId: string; probeUrl: string }): Promise<(RttMeasurement & { probeUrl: string }) | undefined> => {
        try {
          // The nonce and the node's answer travel with the RTT: the API credits it only when the answer checks out.
          return { nodeId: c.nodeId, probeUrl: c.probeUrl, ...(await pingProven(c.probeUrl, { samples, timeoutMs, expectNodeId: c.nodeId, fetch: doFetch, signal })) };
        } catch (err) {
          if (signal?.aborted) throw signal.reason ?? err;
          failed.push({ nodeId: c.nodeId, error: (err as Error)?.message ?? String(err) });
          return undefined;
        }
      };
      const remembers = (): RememberedRtt[] => Object.entries(memory?.nodes ?? {}).map(([nodeId, n]) => ({ nodeId, rttMs: n.rttMs, at: n.at, ...(n.stableSince !== undefined ? { stableSince: n.stableSince } : {}) }));
      const reprobeOptions = { freshForMs: reprobeAfterMs };
      let measured: ((RttMeasurement & { probeUrl: string }) | undefined)[];
      let targets: { nodeId: string; probeUrl: string }[];
      let nearby: NearbyNodes;
      if (sequential) {
        // One node at a time, each asked for knowing every RTT before it (the API's probe choice is adaptive:
        // what the simulator measures). The last `reprobeSlots` pings re-probe the fastest RTT it holds when
        // that one is remembered and stale (nextReprobe); otherwise they explore too.
        measured = [];
        targets = [];
        const knownNow = (): RememberedRtt[] => {
          const all = new Map(remembers().map((r) => [r.nodeId, r]));
          for (const m of measured) if (m) all.set(m.nodeId, { nodeId: m.nodeId, rttMs: m.rttMs, at: startedAt });
          for (const f of failed) all.delete(f.nodeId);
          return [...all.values()];
        };
        const rttsNow = (): Record<string, number> => {
          const all: Record<string, number> = {};
          for (const [id, n] of Object.entries(memory?.nodes ?? {})) all[id] = n.rttMs;
          for (const m of measured) if (m) all[m.nodeId] = m.rttMs;
          for (const f of failed) delete all[f.nodeId];
          const best = Object.entries(all).sort((a, b) => a[1] - b[1]).slice(0, MAX_RTT_MEASUREMENTS);
          return Object.fromEntries(best);
        };
        let first: NearbyNodes | undefined;
        while (targets.length < count) {
          if (targets.length >= count - reprobeSlots) {
            const again = nextReprobe(knownNow(), new Set(targets.map((t) => t.nodeId)), startedAt, networkChanged, reprobeOptions);
            const node = again === undefined ? undefined : memory?.nodes[again];
            if (again !== undefined && node) {
              targets.push({ nodeId: again, probeUrl: node.probeUrl });
              measured.push(await pingOne({ nodeId: again, probeUrl: node.probeUrl }));
              continue;
            }
          }
          const q = new URLSearchParams(query);
          q.set('count', '1');
          const rtts = rttsNow();
          if (Object.keys(rtts).length) q.set('rtts', Object.entries(rtts).map(([id, ms]) => `${id}:${Math.max(0.01, Math.round(ms * 100) / 100)}`).join(','));
          const exclude = [...new Set([...failed.map((f) => f.nodeId), ...targets.map((t) => t.nodeId)])].slice(-MAX_RTT_MEASUREMENTS);
          if (exclude.length) q.set('exclude', exclude.join(','));
          const answer = await json(NearbyNodes, 'GET', `/v1/nodes/nearby?${q}`, { idempotent: true, signal });
          first ??= answer;
          let next: { nodeId: string; probeUrl: string } | undefined = answer.candidates.find((c) => !targets.some((t) => t.nodeId === c.nodeId));
          // No node it has not measured: re-measure remembered ones, best first (a stale RTT must not stick).
          next ??= Object.entries(memory?.nodes ?? {})
            .filter(([id]) => !targets.some((t) => t.nodeId === id) && !failed.some((f) => f.nodeId === id))
            .sort((a, b) => a[1].rttMs - b[1].rttMs)
            .map(([nodeId, n]) => ({ nodeId, probeUrl: n.probeUrl }))[0];
          if (!next) break;
          targets.push(next);
          measured.push(await pingOne(next));
        }
        nearby = { candidates: [...(first?.candidates ?? [])], location: first?.location ?? null };
        for (const t of targets) if (!nearby.candidates.some((c) => c.nodeId === t.nodeId) && 'region' in t) nearby.candidates.push(t as ProbeCandidate);
      } else {
        nearby = await json(NearbyNodes, 'GET', `/v1/nodes/nearby?${query}`, { idempotent: true, signal });
        // All at once, so no ping informs another: the fastest remembered RTT is re-probed when stale.
        const again = reprobeSlots > 0 ? nextReprobe(remembers(), new Set(), startedAt, networkChanged, reprobeOptions) : undefined;
        const known = again === undefined ? [] : [{ nodeId: again, probeUrl: memory!.nodes[again].probeUrl }];
        const knownIds = new Set(known.map((k) => k.nodeId));
        // Explore nodes it never measured first, then re-measure remembered ones (a stale RTT must not stick).
        const others = nearby.candidates.filter((c) => !knownIds.has(c.nodeId));
        const explore = [...others.filter((c) => !remembered.has(c.nodeId)), ...others.filter((c) => remembered.has(c.nodeId))].slice(0, Math.max(0, count - known.length));
        targets = [...known.map((k) => ({ nodeId: k.nodeId, probeUrl: k.probeUrl })), ...explore];
        measured = await Promise.all(targets.map((c) => pingOne(c)));
      }
      const fresh = measured.filter((m): m is RttMeasurement & { probeUrl: string } => m !== undefined);
      // A remembered node that did not answer is forgotten; one that did gets its fresh RTT.
      let kept = memory;
      if (kept) for (const f of failed) if (kept.nodes[f.nodeId]) kept = { ...kept, nodes: Object.fromEntries(Object.entries(kept.nodes).filter(([id]) => id !== f.nodeId)) };
      const next = remember(kept, fresh, edge);
      if (history) await history.save(baseUrl, next).catch(() => undefined);
      // The job carries this session's RTTs and the best of what the client remembers (16 at most).
      const rtts = Object.entries(next.nodes)
        .map(([nodeId, n]) => ({ nodeId, rttMs: n.rttMs, ...(n.nonce ? { nonce: n.nonce } : {}), ...(n.proof ? { proof: n.proof } : {}) }))
        .sort((a, b) => a.rttMs - b.rttMs)
        .slice(0, 16);
      const where = nearby.location ? { lat: nearby.location.lat, lon: nearby.location.lon } : location;
      return { rtts, ...(where ? { location: where } : {}), ...(edge ? { edge } : {}), candidates: targets.map((t) => nearby.candidates.find((c) => c.nodeId === t.nodeId) ?? { nodeId: t.nodeId, probeUrl: t.probeUrl, region: '' }), failed };
    },

    nodes: (search = {}, { signal } = {}) => {
      const query = new URLSearchParams(Object.entries(search).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
      return json(NodeList, 'GET', `/v1/nodes${query.size ? `?${query}` : ''}`, { idempotent: true, signal });
    },
  };
}
