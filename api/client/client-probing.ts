import { NearbyNodes, NodeList, type GeoPoint, type NodeSearch, type ProbeCandidate, type RttMeasurement } from '../protocol/latency.ts';
import { pingProven, PING_DEFAULTS } from '../protocol/ping-url.ts';
import { timeEdgePing } from '../protocol/time-edge-ping.ts';
import type { EdgeSighting } from '../protocol/edge.ts';
import { bestRemembered, memoryProbeHistory, remember } from './probe-history.ts';
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
  /** Of `count` pings, how many go to the fastest nodes this client remembers (the rest explore new ones). */
  reprobe?: number;
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
    async probe({ count = 3, samples = PING_DEFAULTS.samples, timeoutMs = PING_DEFAULTS.timeoutMs, location, reprobe, signal } = {}) {
      // The edge first: its PoP and RTT are free landmarks that help the API choose whom to ping.
      const edge = await timeEdgePing(baseUrl, { samples, timeoutMs, fetch: doFetch, signal }).catch((err) => {
        if (signal?.aborted) throw err;
        return undefined;
      });
      const memory = history ? await history.load(baseUrl).catch(() => undefined) : undefined;
      // A client that comes back re-probes its best known nodes and explores a few new ones.
      const known = bestRemembered(memory, Math.min(count, reprobe ?? Math.max(1, Math.floor(count / 3))));
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
      const nearby = await json(NearbyNodes, 'GET', `/v1/nodes/nearby?${query}`, { idempotent: true, signal });
      // Explore nodes it never measured first, then re-measure remembered ones (a stale RTT must not stick).
      const knownIds = new Set(known.map((k) => k.nodeId));
      const others = nearby.candidates.filter((c) => !knownIds.has(c.nodeId));
      const explore = [...others.filter((c) => !remembered.has(c.nodeId)), ...others.filter((c) => remembered.has(c.nodeId))].slice(0, Math.max(0, count - known.length));
      const targets = [...known.map((k) => ({ nodeId: k.nodeId, probeUrl: k.probeUrl })), ...explore];
      const failed: ProbeResult['failed'] = [];
      const measured = await Promise.all(
        targets.map(async (c): Promise<(RttMeasurement & { probeUrl: string }) | undefined> => {
          try {
            // The nonce and the node's answer travel with the RTT: the API credits it only when the answer checks out.
            return { nodeId: c.nodeId, probeUrl: c.probeUrl, ...(await pingProven(c.probeUrl, { samples, timeoutMs, expectNodeId: c.nodeId, fetch: doFetch, signal })) };
          } catch (err) {
            if (signal?.aborted) throw signal.reason ?? err;
            failed.push({ nodeId: c.nodeId, error: (err as Error)?.message ?? String(err) });
            return undefined;
          }
        }),
      );
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
