/**
 * The API's network map: every RTT measurement that reaches it moves the network coordinates (Vivaldi with
 * height) of the hosts at both ends, and the coordinates are kept in the job store.
 *   - node ↔ API: each heartbeat is timed on both sides (the node's request → response time, filtered on
 *     the node; the API's ack → next heartbeat time less the node's hold) and filtered here per node;
 *   - node ↔ node: nodes ping a few peers now and then and report the filtered RTTs in heartbeats;
 *   - client ↔ node: the RTTs a job brings fit the client's coordinate, and nudge the nodes' coordinates.
 * The API itself is a host with a coordinate (kept across restarts in the store's meta table).
 */
import type { JobClient, ProbeCandidate, RttMeasurement } from '../protocol/latency.ts';
import { verifyProbeProof } from '../protocol/probe-proof.ts';
import { locationsRefuted, refutedParties } from './node-trust.ts';
import { MAX_REPORTED_SCENES, type Heartbeat } from '../protocol/node-messages.ts';
import type { JobClientRecord, JobStore, NodeNetworkUpdate, NodeRecord } from './job-store.ts';
import type { Logger } from './logger.ts';
import { toCandidate, type NodeDirectory } from './node-directory.ts';
import { CANDIDATE_DEFAULTS, locateClient } from './routing/candidates.ts';
import { apiSideRttMs, RttFilter } from '../protocol/rtt-filter.ts';
import { shuffleInPlace, type Random } from './routing/seeded-random.ts';
import { createCoordinate, estimateRtt, updateCoordinate, type Coordinate } from './routing/vivaldi.ts';
import type { RoutingPolicy } from './routing-policy.ts';

/** How old a node list may be when choosing a node's peers to ping (ms). */
const PEER_LIST_MAX_AGE_MS = 5000;
/** Most node ↔ API RTT filters kept in memory. */
const MAX_FILTERS = 10_000;
/** Peer RTTs kept per node (the most recently measured). */
const MAX_PEER_RTTS = 64;

/** `old` with `peerId` set to `rttMs` as the newest entry, the oldest dropped past MAX_PEER_RTTS. */
export function withPeerRtt(old: Readonly<Record<string, number>> | undefined, peerId: string, rttMs: number): Record<string, number> {
  const next: Record<string, number> = { ...old };
  delete next[peerId];
  next[peerId] = rttMs;
  const ids = Object.keys(next);
  for (let i = 0; i < ids.length - MAX_PEER_RTTS; i++) delete next[ids[i]];
  return next;
}

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
  /** The peers each node was last asked to ping (this offer and the one before): only those RTTs count. */
  readonly #offered = new Map<string, { current: Set<string>; previous: Set<string> }>();
  /** The serverTime of the last ack each node got: the only echo the API accepts from it. */
  readonly #acks = new Map<string, number>();
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
    // Only the serverTime of the API's own last ack counts as an echo: a node cannot invent one. (heldMs
    // stays the node's word; the API-side RTT is bounded below by zero, never by it.)
    const echoed = hb.echo !== undefined && this.#acks.get(node.nodeId) === hb.echo.serverTime;
    if (hb.echo && echoed) {
      const rtt = apiSideRttMs(hb.echo.serverTime, hb.echo.heldMs, receivedAt);
      if (rtt !== undefined) sampled = filter.add(rtt) !== undefined;
    }
    // The node's own figure is a claim: it counts only until the API has timed the path itself.
    if (hb.rttToApiMs !== undefined && !echoed && filter.value === undefined) sampled = filter.add(hb.rttToApiMs) !== undefined || sampled;
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
    // The measured matrix is kept as measured (both ends), not only folded into coordinates.
    let peerRttMs = node.peerRttMs;
    const offered = this.#offered.get(node.nodeId);
    let refused = 0;
    for (const m of hb.peers) {
      const { nodeId, rttMs } = m;
      if (nodeId === node.nodeId) continue;
      // Only peers the API asked it to ping, and only with the peer's answer to the node's challenge.
      if (!offered || !(offered.current.has(nodeId) || offered.previous.has(nodeId))) {
        refused++;
        continue;
      }
      const peer = await this.#jobs.getNode(nodeId);
      if (!peer || peer.reputation?.blocklisted || !(await provenRtt(peer, m))) {
        refused++;
        continue;
      }
      await this.#checkLocations(node, peer, rttMs);
      // Both ends learn from the one measurement, each weighted by its own confidence.
      const peerCoordinate = peer.coordinate ?? createCoordinate(vivaldi);
      const before = coordinate;
      coordinate = updateCoordinate(coordinate, peerCoordinate, rttMs, vivaldi, this.#rng);
      peerRttMs = withPeerRtt(peerRttMs, nodeId, rttMs);
      updates.push({ nodeId, coordinate: updateCoordinate(peerCoordinate, before, rttMs, vivaldi, this.#rng), peerRttMs: withPeerRtt(peer.peerRttMs, node.nodeId, rttMs) });
    }
    // Its scene cache is a claim, kept bounded (the protocol's cap, no duplicates) and used only as a routing hint.
    const cachedScenes = hb.scenes ? [...new Set(hb.scenes)].slice(0, MAX_REPORTED_SCENES) : undefined;
    const own: NodeNetworkUpdate = { nodeId: node.nodeId, coordinate, rttToApiMs, edge: hb.edge, peerRttMs: peerRttMs === node.peerRttMs ? undefined : peerRttMs, cachedScenes };
    // Nothing new about the node (no measurement, no sighting, no scene list): no write (no store request) for it.
    const unchanged = coordinate === node.coordinate && rttToApiMs === (node.rttToApiMs ?? undefined) && !hb.edge && own.peerRttMs === undefined && !cachedScenes;
    if (!unchanged) updates.push(own);
    if (updates.length) await this.#jobs.updateNodeNetwork(updates);
    if (hb.peers.length) this.#logger.debug({ nodeId: node.nodeId, peers: hb.peers, refused, rttToApiMs }, 'peer RTTs recorded');
    if (refused) this.#logger.warn({ nodeId: node.nodeId, refused }, 'peer RTTs refused: not an assigned peer, or no valid probe proof');
    const probePeers = await this.#choosePeers(node.nodeId, coordinate, receivedAt);
    const ids = new Set(probePeers.map((p) => p.nodeId));
    this.#offered.delete(node.nodeId);
    if (this.#offered.size >= MAX_FILTERS) this.#offered.delete(this.#offered.keys().next().value!);
    this.#offered.set(node.nodeId, { current: ids, previous: offered?.current ?? new Set() });
    return { coordinate, rttToApiMs, probePeers };
  }

  /** Remember the serverTime of the ack a node is about to get: its next heartbeat must echo exactly it. */
  stampAck(nodeId: string, serverTime: number): void {
    this.#acks.delete(nodeId);
    if (this.#acks.size >= MAX_FILTERS) this.#acks.delete(this.#acks.keys().next().value!);
    this.#acks.set(nodeId, serverTime);
  }

  /**
   * A client's RTTs as far as the API believes them: an RTT to a known node counts only with that node's
   * answer to the client's challenge (the HMAC of the nonce with its probe key), so a `data:` URL, a cache or
   * a ping server that is not the node earns it nothing. RTTs naming no node are kept (they route nothing).
   */
  async provenClientRtts(rtts: readonly RttMeasurement[]): Promise<{ kept: RttMeasurement[]; refused: string[] }> {
    const kept: RttMeasurement[] = [];
    const refused: string[] = [];
    for (const m of rtts) {
      const node = await this.#jobs.getNode(m.nodeId);
      if (!node || (await provenRtt(node, m))) kept.push(m);
      else refused.push(m.nodeId);
    }
    return { kept, refused };
  }

  /** A proven RTT between two claimed locations that light could not cover: stop believing the weaker claim. */
  async #checkLocations(a: NodeRecord, b: NodeRecord, rttMs: number): Promise<void> {
    const la = a.card.location;
    const lb = b.card.location;
    if (!la || !lb || !locationsRefuted(la, lb, rttMs)) return;
    for (const n of refutedParties(a, b)) {
      const reason = `${rttMs} ms between ${a.nodeId} (claims ${la.lat},${la.lon}) and ${b.nodeId} (claims ${lb.lat},${lb.lon}) is faster than light in fibre`;
      this.#logger.warn({ nodeId: n.nodeId, reason }, 'claimed location refuted by a measurement; ignored from now on');
      await this.#jobs.refuteNodeLocation(n.nodeId, reason);
    }
    this.#nodes.invalidate();
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
    const { kept, refused } = await this.provenClientRtts(client.rtts);
    if (refused.length) this.#logger.warn({ nodes: refused }, 'client RTTs without a valid probe proof ignored');
    for (const { nodeId, rttMs: rtt } of kept) rttMs[nodeId] = Math.min(rtt, rttMs[nodeId] ?? Infinity);
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
    return { record: { rttMs, location: client.location ?? null, coordinate: coordinate ?? null, ...(client.edge ? { edge: client.edge } : {}) }, routed };
  }

  /** Peers for a node to ping: half the nearest by coordinates (to refine its neighbourhood), half at random. */
  async #choosePeers(self: string, coordinate: Coordinate, now: number): Promise<ProbeCandidate[]> {
    const k = this.#policy.probePeers;
    // Peers to ping are a hint: a list a few seconds old will do (a heartbeat need not read every node).
    const others = (await this.#nodes.healthyNodes(now, PEER_LIST_MAX_AGE_MS)).filter((n) => n.nodeId !== self && n.card.probeUrl);
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

/** Whether the measurement carries the node's valid answer to its nonce. */
async function provenRtt(node: NodeRecord, m: RttMeasurement): Promise<boolean> {
  if (!node.probeKey || !m.nonce || !m.proof) return false;
  return verifyProbeProof(node.probeKey, m.nonce, m.proof);
}
