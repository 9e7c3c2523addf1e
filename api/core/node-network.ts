/**
 * The API's network map: every RTT measurement that reaches it moves the network coordinates (Vivaldi with
 * height) of the hosts at both ends, and the coordinates are kept in the job store.
 *   - node ↔ API: each heartbeat is timed on both sides (the node's request → response time, filtered on
 *     the node; the API's ack → next heartbeat time less the node's hold) and filtered here per node;
 *   - node ↔ node: nodes ping a few peers now and then and report the filtered RTTs in heartbeats;
 *   - client ↔ node: the RTTs a job brings fit the client's coordinate, and nudge the nodes' coordinates.
 * The API itself is a host with a coordinate (kept across restarts in the store's meta table).
 */
import type { JobClient, ProbeCandidate } from '../protocol/latency.ts';
import type { Heartbeat } from '../protocol/node-messages.ts';
import type { JobClientRecord, JobStore, NodeNetworkUpdate, NodeRecord } from './job-store.ts';
import type { Logger } from './logger.ts';
import { toCandidate, type NodeDirectory } from './node-directory.ts';
import { CANDIDATE_DEFAULTS, locateClient } from './routing/candidates.ts';
import { apiSideRttMs, RttFilter } from '../protocol/rtt-filter.ts';
import { shuffleInPlace, type Random } from './routing/seeded-random.ts';
import { createCoordinate, estimateRtt, updateCoordinate, type Coordinate } from './routing/vivaldi.ts';
import type { RoutingPolicy } from './routing-policy.ts';

/** Most node ↔ API RTT filters kept in memory. */
const MAX_FILTERS = 10_000;

/** Where the API keeps its own coordinate. */
export const API_COORDINATE_KEY = 'network.api-coordinate';

/** What a heartbeat ack tells the node about the network. */
export interface HeartbeatNetwork {
  coordinate: Coordinate;
  rttToApiMs: number | undefined;
  probePeers: ProbeCandidate[];
}

export class NodeNetwork {
  readonly #jobs: JobStore;
  readonly #nodes: NodeDirectory;
  readonly #policy: RoutingPolicy;
  readonly #rng: Random;
  readonly #logger: Logger;
  /** The API side's RTT filter per node (min over a window, then EWMA). */
  readonly #apiRtt = new Map<string, RttFilter>();
  #apiCoordinate: Coordinate | undefined;

  constructor(jobs: JobStore, nodes: NodeDirectory, policy: RoutingPolicy, rng: Random, logger: Logger) {
    this.#jobs = jobs;
    this.#nodes = nodes;
    this.#policy = policy;
    this.#rng = rng;
    this.#logger = logger;
  }

  /** The API's own network coordinate. */
  async apiCoordinate(): Promise<Coordinate> {
    if (!this.#apiCoordinate) {
      const stored = await this.#jobs.getMeta(API_COORDINATE_KEY);
      this.#apiCoordinate = stored ? (JSON.parse(stored) as Coordinate) : createCoordinate(this.#policy.vivaldi);
    }
    return this.#apiCoordinate;
  }

  /**
   * Take in one heartbeat's measurements (`receivedAt`: when it arrived, API clock): filter the node ↔ API
   * RTT, move the coordinates of the node, the API and the peers it measured, and choose peers for it to
   * ping next.
   */
  async recordHeartbeat(node: NodeRecord, hb: Heartbeat, receivedAt: number): Promise<HeartbeatNetwork> {
    const vivaldi = this.#policy.vivaldi;
    let filter = this.#apiRtt.get(node.nodeId);
    if (!filter) {
      // Nodes re-register under new ids: forget the longest-known filters past a bound.
      if (this.#apiRtt.size >= MAX_FILTERS) this.#apiRtt.delete(this.#apiRtt.keys().next().value!);
      this.#apiRtt.set(node.nodeId, (filter = new RttFilter(this.#policy.rttFilter)));
    }
    let sampled = false;
    if (hb.echo) {
      const rtt = apiSideRttMs(hb.echo.serverTime, hb.echo.heldMs, receivedAt);
      if (rtt !== undefined) sampled = filter.add(rtt) !== undefined;
    }
    if (hb.rttToApiMs !== undefined) sampled = filter.add(hb.rttToApiMs) !== undefined || sampled;
    const rttToApiMs = filter.value;

    let coordinate = node.coordinate ?? createCoordinate(vivaldi);
    if (sampled && rttToApiMs !== undefined) {
      const api = await this.apiCoordinate();
      const moved = updateCoordinate(coordinate, api, rttToApiMs, vivaldi, this.#rng);
      this.#apiCoordinate = updateCoordinate(api, coordinate, rttToApiMs, vivaldi, this.#rng);
      coordinate = moved;
      await this.#jobs.setMeta(API_COORDINATE_KEY, JSON.stringify(this.#apiCoordinate));
    }

    const updates: NodeNetworkUpdate[] = [];
    for (const { nodeId, rttMs } of hb.peers) {
      if (nodeId === node.nodeId) continue;
      const peer = await this.#jobs.getNode(nodeId);
      if (!peer) continue;
      // Both ends learn from the one measurement, each weighted by its own confidence.
      const peerCoordinate = peer.coordinate ?? createCoordinate(vivaldi);
      const before = coordinate;
      coordinate = updateCoordinate(coordinate, peerCoordinate, rttMs, vivaldi, this.#rng);
      updates.push({ nodeId, coordinate: updateCoordinate(peerCoordinate, before, rttMs, vivaldi, this.#rng) });
    }
    updates.push({ nodeId: node.nodeId, coordinate, rttToApiMs });
    await this.#jobs.updateNodeNetwork(updates);
    if (hb.peers.length) this.#logger.debug({ nodeId: node.nodeId, peers: hb.peers, rttToApiMs }, 'peer RTTs recorded');
    return { coordinate, rttToApiMs, probePeers: await this.#choosePeers(node.nodeId, coordinate, receivedAt) };
  }

  /**
   * A job's client as the router sees it: its RTTs by node id, and its coordinate (fitted to its RTTs
   * and the nodes' coordinates, else its session coordinate or a guess from its location). The measured
   * nodes' coordinates move a little towards agreeing with the client's. `routed` is false when the
   * client brought no RTT information at all: its tasks then go first come, first served.
   */
  async locateClient(client: JobClient | undefined, now: number): Promise<{ record: JobClientRecord | null; routed: boolean }> {
    if (!client) return { record: null, routed: false };
    const rttMs: Record<string, number> = {};
    for (const { nodeId, rttMs: rtt } of client.rtts) rttMs[nodeId] = Math.min(rtt, rttMs[nodeId] ?? Infinity);
    const live = await this.#nodes.liveNodes(now);
    const view = { measuredRttMs: rttMs, coord: client.coordinate, location: client.location };
    const coordinate = locateClient(
      live.map((n) => n.router),
      view,
      this.#policy.candidates ?? CANDIDATE_DEFAULTS,
    );
    if (coordinate) {
      const updates: NodeNetworkUpdate[] = [];
      for (const n of live) {
        const rtt = rttMs[n.record.nodeId];
        if (rtt === undefined || !n.record.coordinate) continue;
        updates.push({ nodeId: n.record.nodeId, coordinate: updateCoordinate(n.record.coordinate, coordinate, rtt, this.#policy.vivaldi, this.#rng) });
      }
      if (updates.length) await this.#jobs.updateNodeNetwork(updates);
    }
    const routed = Object.keys(rttMs).length > 0 || coordinate !== undefined;
    return { record: { rttMs, location: client.location ?? null, coordinate: coordinate ?? null }, routed };
  }

  /** Peers for a node to ping: half the nearest by coordinates (to refine its neighbourhood), half at random. */
  async #choosePeers(self: string, coordinate: Coordinate, now: number): Promise<ProbeCandidate[]> {
    const k = this.#policy.probePeers;
    const others = (await this.#nodes.healthyNodes(now)).filter((n) => n.nodeId !== self && n.card.probeUrl);
    if (others.length <= k) return others.map(toCandidate);
    const near = others
      .filter((n) => n.coordinate)
      .map((n) => ({ n, rtt: estimateRtt(coordinate, n.coordinate!) }))
      .sort((a, b) => a.rtt - b.rtt)
      .slice(0, Math.ceil(k / 2))
      .map((x) => x.n);
    const rest = shuffleInPlace(
      others.filter((n) => !near.includes(n)),
      this.#rng,
    );
    return [...near, ...rest].slice(0, k).map(toCandidate);
  }
}
