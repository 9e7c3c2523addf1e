/**
 * The API's view of its render nodes: which are healthy (heard from within a few heartbeat intervals),
 * what work each has in hand, and the router's picture of them (card, load, coordinate, location).
 * Serves `GET /v1/nodes`, `GET /v1/nodes/nearby`, the router's passes and the peers offered to nodes.
 */
import type { GeoPoint, NearbyNodes, NodeSearch, NodeView, ProbeCandidate } from '../protocol/latency.ts';
import type { Clock } from './clock.ts';
import type { JobStore, NodeRecord, NodeTaskCounts } from './job-store.ts';
import { pickProbeCandidates, CANDIDATE_DEFAULTS } from './routing/candidates.ts';
import { coloLocation } from './routing/edge-colos.ts';
import type { EdgeSighting, RouterNode } from './routing/router.ts';
import type { RoutingPolicy } from './routing-policy.ts';
import { effectiveCard, measuredTilesPerSecond, onProbation, priorTilesPerSecond, TRUST_DEFAULTS, type TrustOptions } from './node-trust.ts';

/** A node's load as the router reads it; the router pass adds to `queued` as it routes. */
export interface MutableLoad {
  queued: number;
  running: number;
  concurrency: number;
}

/** One healthy node as a routing pass sees it. */
export interface LiveNode {
  record: NodeRecord;
  load: MutableLoad;
  router: RouterNode;
}

/** How long workingNodes' answer is reused (ms). */
const WORKING_NODES_CACHE_MS = 1000;

export class NodeDirectory {
  readonly #jobs: JobStore;
  readonly #clock: Clock;
  readonly #policy: RoutingPolicy;
  readonly #healthWindowMs: number;
  readonly #trust: TrustOptions;
  #cache: { at: number; nodes: NodeRecord[] } | undefined;
  /** The probe-able nodes as nearby() last built them (see RoutingPolicy.probeViewMs). */
  #probeView: { at: number; ids: string; live: LiveNode[]; nodes: RouterNode[] } | undefined;
  /** The working nodes as last read (see workingNodes). */
  #working: { at: number; nodes: NodeRecord[] } | undefined;

  constructor(jobs: JobStore, clock: Clock, policy: RoutingPolicy, heartbeatIntervalMs: number, trust: TrustOptions = TRUST_DEFAULTS) {
    this.#jobs = jobs;
    this.#trust = trust;
    this.#clock = clock;
    this.#policy = policy;
    this.#healthWindowMs = policy.healthIntervals * heartbeatIntervalMs;
  }

  /** How far nodes' cards are believed. */
  get trust(): TrustOptions {
    return this.#trust;
  }

  /** How long a node may stay silent and still count as healthy (ms). */
  get healthWindowMs(): number {
    return this.#healthWindowMs;
  }

  /** Whether a node was heard from recently enough. */
  isHealthy(node: Pick<NodeRecord, 'lastSeenAt'>, now: number): boolean {
    return now - node.lastSeenAt <= this.#healthWindowMs;
  }

  /**
   * Whether the node is asking for work: it made a lease call within the health window, or holds a lease.
   * A node that only heartbeats is no capacity: routing a task to it would leave the task waiting for a
   * fallback. (Heartbeats prove a process, lease calls prove a worker.)
   */
  isAskingForWork(node: Pick<NodeRecord, 'lastLeaseAt'>, load: Pick<MutableLoad, 'running'>, now: number): boolean {
    return load.running > 0 || (node.lastLeaseAt ?? -Infinity) >= now - this.#healthWindowMs;
  }

  /** Forget the cached node list (a node registered, or one came back). */
  invalidate(): void {
    this.#cache = undefined;
    this.#working = undefined;
    this.#probeView = undefined;
  }

  /** The healthy nodes, registration order; the list is reused for nodeCacheMs (or `maxAgeMs`, for callers that take an older one). */
  async healthyNodes(now = this.#clock.now(), maxAgeMs = this.#policy.nodeCacheMs): Promise<NodeRecord[]> {
    const cached = this.#cache;
    if (!cached || now - cached.at > maxAgeMs || now < cached.at) {
      this.#cache = { at: now, nodes: await this.#jobs.listNodes({ seenSince: now - this.#healthWindowMs }) };
    }
    // A blocklisted node still calls in, but is no capacity: nothing is routed to it.
    return this.#cache!.nodes.filter((n) => this.isHealthy(n, now) && !n.reputation?.blocklisted);
  }

  /** The healthy nodes with their current loads, as the router takes them. */
  async liveNodes(now = this.#clock.now()): Promise<LiveNode[]> {
    const [records, counts] = await Promise.all([this.healthyNodes(now), this.#jobs.countNodeTasks()]);
    const prior = priorTilesPerSecond(records, this.#trust);
    return records.map((record) => toLiveNode(record, counts.get(record.nodeId), this.#trust, prior));
  }

  /**
   * The healthy nodes that ask for work (see isAskingForWork): the ones that can verify a result. A node
   * that only heartbeats would hold every verification open that it could in principle take.
   */
  async workingNodes(now = this.#clock.now()): Promise<NodeRecord[]> {
    // Asked on every sampled result and every verification sweep, and no exact count is needed: which nodes may verify
    // changes when nodes come, go or start asking for work (each invalidates), so the answer is reused for a second.
    const cached = this.#working;
    if (cached && now >= cached.at && now - cached.at <= WORKING_NODES_CACHE_MS) return cached.nodes;
    const [records, counts] = await Promise.all([this.healthyNodes(now), this.#jobs.countNodeTasks()]);
    const nodes = records.filter((r) => this.isAskingForWork(r, { running: counts.get(r.nodeId)?.running ?? 0 }, now));
    this.#working = { at: now, nodes };
    return nodes;
  }

  /** The healthy nodes with the cards the API believes (effectiveCard): for quotes. */
  async believedNodes(now = this.#clock.now()): Promise<NodeRecord[]> {
    const records = await this.healthyNodes(now);
    const prior = priorTilesPerSecond(records, this.#trust);
    return records.map((r) => ({ ...r, card: effectiveCard(r, this.#trust, prior) }));
  }

  /** `GET /v1/nodes`: nodes whose cards match the search, with load, RTT to the API and coordinate. */
  async search(query: NodeSearch, now = this.#clock.now()): Promise<NodeView[]> {
    // Healthy-only searches read just the recent nodes; the rest reads every node ever registered.
    const records = query.healthy === true ? await this.#jobs.listNodes({ seenSince: now - this.#healthWindowMs }) : await this.#jobs.listNodes();
    const counts = await this.#jobs.countNodeTasks();
    const prior = priorTilesPerSecond(records, this.#trust);
    const views: NodeView[] = [];
    for (const r of records) {
      const healthy = this.isHealthy(r, now);
      if (query.healthy !== undefined && healthy !== query.healthy) continue;
      if (query.region !== undefined && r.card.region !== query.region) continue;
      if (query.minRamBytes !== undefined && r.card.ramBytes < query.minRamBytes) continue;
      if (query.minTextureSize !== undefined && r.card.gl.maxTextureSize < query.minTextureSize) continue;
      const c = counts.get(r.nodeId);
      views.push({
        nodeId: r.nodeId,
        card: r.card,
        healthy,
        load: { queued: c?.queued ?? 0, running: c?.running ?? 0, concurrency: r.card.concurrency, reported: r.load },
        rttToApiMs: r.rttToApiMs ?? null,
        coordinate: r.coordinate ?? null,
        lastSeen: r.lastSeenAt,
        reputation: r.reputation ?? { verified: 0, disproven: 0, blocklisted: null },
        trust: {
          tilesPerSecond: effectiveCard(r, this.#trust, prior).tilesPerSecond,
          measuredTilesPerSecond: measuredTilesPerSecond(r, this.#trust) ?? null,
          acceptedResults: r.throughput?.results ?? 0,
          probation: onProbation(r, this.#trust),
          locationRefuted: r.locationRefuted ?? null,
        },
      });
    }
    return views;
  }

  /**
   * The healthy nodes with a probe URL as the candidate search takes them: one array kept while the same nodes
   * are healthy, up to probeViewMs, with loads (busy nodes are not suggested) refreshed on every call.
   */
  async probeNodes(now = this.#clock.now()): Promise<{ live: LiveNode[]; nodes: RouterNode[] }> {
    const [records, counts] = await Promise.all([this.healthyNodes(now), this.#jobs.countNodeTasks()]);
    const probing = records.filter((r) => r.card.probeUrl);
    const ids = idsOf(probing);
    const view = this.#probeView;
    if (view && view.ids === ids && now >= view.at && now - view.at <= this.#policy.probeViewMs) {
      for (const n of view.live) {
        const c = counts.get(n.record.nodeId);
        n.load.queued = c?.queued ?? 0;
        n.load.running = c?.running ?? 0;
      }
      return view;
    }
    const prior = priorTilesPerSecond(records, this.#trust);
    const live = probing.map((record) => toLiveNode(record, counts.get(record.nodeId), this.#trust, prior));
    this.#probeView = { at: now, ids, live, nodes: live.map((n) => n.router) };
    return this.#probeView;
  }

  /**
   * `GET /v1/nodes/nearby`: up to `count` healthy nodes with a probe URL for a client to ping, best first:
   * first what earlier clients of its PoP found best (`learned`), then nearest to `location` when known,
   * else landmarks spread over the coordinate space.
   */
  async nearby(
    location: (GeoPoint & { source: 'cf' | 'query' }) | null,
    count: number,
    now = this.#clock.now(),
    edge?: EdgeSighting,
    learned?: readonly string[],
    /** What the client measured so far (sequential probing): the candidates are chosen knowing it, and exclude it. */
    measuredRttMs: Readonly<Record<string, number>> = {},
    exclude: readonly string[] = [],
  ): Promise<NearbyNodes> {
    const { live, nodes } = await this.probeNodes(now);
    // A client's PoP: nodes that reach the same PoP bound its RTT to them (and place it, without a location).
    // Nodes the PoP's earlier clients found best lead (CandidateOptions.learnedProbes of them).
    const client = { measuredRttMs, exclude, location: location ?? undefined, edge: edge ? { ...edge, location: coloLocation(edge.pop) } : undefined, learned };
    const picked = pickProbeCandidates(nodes, client, Math.min(nodes.length, 2 * count), this.#policy.candidates ?? CANDIDATE_DEFAULTS);
    // The landmark ranking can name a node twice; keep each once, and fill up with the other nodes.
    const ids = [...new Set(picked)].slice(0, count);
    const skip = new Set([...Object.keys(measuredRttMs), ...exclude]);
    for (const n of live) if (ids.length < count && !ids.includes(n.record.nodeId) && !skip.has(n.record.nodeId)) ids.push(n.record.nodeId);
    const byId = new Map(live.map((n) => [n.record.nodeId, n.record]));
    const candidates = ids.map((id) => toCandidate(byId.get(id)!));
    return { candidates, location };
  }
}

/** The ids of `records`, one string (equal strings: the same nodes in the same order). */
function idsOf(records: readonly NodeRecord[]): string {
  return records.map((r) => r.nodeId).join('\n');
}

/**
 * A node record and its task counts as the router's node, with the card the API believes (measured speed,
 * unrefuted location): what a node claims never routes by itself.
 */
export function toLiveNode(record: NodeRecord, counts: NodeTaskCounts | undefined, trust: TrustOptions = TRUST_DEFAULTS, prior = trust.priorTilesPerSecond): LiveNode {
  const card = effectiveCard(record, trust, prior);
  const load: MutableLoad = { queued: counts?.queued ?? 0, running: counts?.running ?? 0, concurrency: card.concurrency };
  const router: RouterNode = {
    id: record.nodeId,
    card,
    healthy: true,
    load,
    coord: record.coordinate ?? undefined,
    location: card.location,
    peerRttMs: record.peerRttMs,
    edge: record.edge ? { ...record.edge, location: coloLocation(record.edge.pop) } : undefined,
  };
  return { record, load, router };
}

/** Where to ping a node. */
export function toCandidate(record: NodeRecord): ProbeCandidate {
  return { nodeId: record.nodeId, probeUrl: record.card.probeUrl!, region: record.card.region };
}
