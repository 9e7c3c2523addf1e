/**
 * How the API routes tasks and keeps its network map: named thresholds, overridable per API (tests), merged
 * once in resolveApiOptions. The maths lives in `routing/` (router, Vivaldi, RTT filter, probe candidates).
 */
import type { CandidateOptions } from './routing/candidates.ts';
import type { EdgeRttMeterOptions } from './edge-rtt-meter.ts';
import { POP_LEARNER_DEFAULTS, type PopLearnerOptions } from './pop-learner.ts';
import { ROUTE_DEFAULTS, type RouteOptions } from './routing/router.ts';
import { RTT_FILTER_DEFAULTS, type RttFilterOptions } from '../protocol/rtt-filter.ts';
import { VIVALDI_DEFAULTS, type VivaldiOptions } from './routing/vivaldi.ts';

export interface RoutingPolicy {
  /** A node not heard from (heartbeat or lease call) for this many heartbeat intervals is unhealthy. */
  healthIntervals: number;
  /**
   * How long a routed task waits for its chosen node beyond the expected queue wait before the fallback may
   * take it (and as long again before any capable node may): 2 × the node's expected lease delay
   * (its RTT to the API + leaseWakeMs), kept within [graceMinMs, graceMaxMs].
   */
  graceMinMs: number;
  graceMaxMs: number;
  /** Time for an idle node to notice a routed task and ask for it, beyond its RTT to the API. */
  leaseWakeMs: number;
  /** With no new events, the router still looks for stale routes (dead nodes) this often. */
  passIntervalMs: number;
  /** Most tasks one routing pass decides (bounds one lease call's work; the rest wait for the next pass). */
  maxRoutesPerPass: number;
  /** Peers offered to a node in each heartbeat ack, to ping now and then. */
  probePeers: number;
  /** How long the list of nodes read from the store is reused between heartbeats and lease calls. */
  nodeCacheMs: number;
  /**
   * How long `GET /v1/nodes/nearby` keeps one array of probe-able nodes while the same nodes are healthy (their
   * loads are read fresh every time): the candidate search caches what it derives from the array (index,
   * learned landmark, nodes by PoP) per array, so a new array per request would redo that work every time.
   * Coordinates, peer RTTs and PoP sightings may be this much older than the store's.
   */
  probeViewMs: number;
  /** Seeds the router's tie-breaking (tests); random when absent. */
  seed: number | undefined;
  route: RouteOptions;
  vivaldi: VivaldiOptions;
  rttFilter: RttFilterOptions;
  candidates: CandidateOptions | undefined;
  /** Per-PoP learning: which PoP is trusted, bounds, decay (pop-learner.ts). */
  popLearning: PopLearnerOptions;
  /**
   * The edge's own RTTs to nodes (edge-rtt-meter.ts): caps, expiry, budget per request. Probe URLs with
   * private addresses are pinged when probeCheck.allowPrivateAddresses is set, unless this says otherwise.
   */
  edgeRtts: EdgeRttMeterOptions;
}

export const ROUTING_POLICY_DEFAULTS: RoutingPolicy = {
  healthIntervals: 3,
  graceMinMs: 1000,
  graceMaxMs: 2000,
  leaseWakeMs: 250,
  passIntervalMs: 1000,
  maxRoutesPerPass: 2000,
  probePeers: 3,
  nodeCacheMs: 250,
  probeViewMs: 2000,
  seed: undefined,
  route: ROUTE_DEFAULTS,
  vivaldi: VIVALDI_DEFAULTS,
  rttFilter: RTT_FILTER_DEFAULTS,
  candidates: undefined,
  popLearning: POP_LEARNER_DEFAULTS,
  edgeRtts: {},
};

/** Grace period (ms) for a task routed to a node with this RTT to the API (ms; null when unmeasured). */
export function graceMs(rttToApiMs: number | null, policy: RoutingPolicy): number {
  const leaseDelay = (rttToApiMs ?? 0) + policy.leaseWakeMs;
  return Math.min(policy.graceMaxMs, Math.max(policy.graceMinMs, 2 * leaseDelay));
}
