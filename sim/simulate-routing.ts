/**
 * The routing simulator: an internet of hosts with known RTTs is split into render nodes and clients; the
 * nodes' coordinates converge from a bounded number of node↔node measurements; then every client is
 * routed by the real router (pickProbeCandidates → pings → locateClient → routeTask, the functions the API
 * uses) and by baselines, and each choice is compared with the truly nearest node.
 *
 * Baselines: geo-nearest (great-circle distance; random where the client has no location), random,
 * coordinates only (the node with the lowest estimated RTT to the client's session coordinate, which comes
 * from Vivaldi measurements to nodes; no pings at routing time), and the oracle (knows every RTT).
 *
 * Every client draws its random numbers from its own seeded stream, so a run split into shards (one per
 * worker thread, say) gives exactly the numbers of a run in one piece.
 */
import { geoNearest, geoNearestK, locateClient, pickProbeCandidates, type CandidateOptions } from '../api/core/routing/candidates.ts';
import { fitGeoLines, type GeoEdge, type GeoLine } from '../api/core/routing/geo-line.ts';
import { isGeoPoint, type GeoPoint } from '../api/core/routing/geo.ts';
import { PING_DEFAULTS } from '../api/protocol/ping-url.ts';
import { RttFilter } from '../api/protocol/rtt-filter.ts';
import { EDGE_RTT_DEFAULTS, edgeRttView, recordEdgeRtt, type EdgeRttRow } from '../api/core/routing/edge-rtts.ts';
import { learnPop, suggestFromPop, type PopRecord } from '../api/core/routing/pop-learning.ts';
import { freezeRouterNodes, routeTask, type EdgeSighting, type RouteOptions, type RouterNode } from '../api/core/routing/router.ts';
import { createRandom, randomExponential, randomInt, shuffleInPlace, type Random } from '../api/core/routing/seeded-random.ts';
import { createCoordinate, estimateRtt, updateCoordinate, VIVALDI_DEFAULTS, type Coordinate, type VivaldiOptions } from '../api/core/routing/vivaldi.ts';
import type { NodeCard } from '../api/protocol/node-card.ts';
import { nextReprobe, rememberRtt, type RememberedRtt, type ReprobeOptions } from '../api/protocol/reprobe-plan.ts';
import { pairRtt, type Host, type RttSource } from './rtt-source.ts';

export interface SimOptions {
  /** Hosts that become render nodes (the rest are clients). */
  nodes?: number;
  /** Pings each client may send before its job is routed. */
  probes?: number;
  seed?: number;
  /** Route at most this many clients (all when absent). */
  clients?: number;
  /** Node↔node measurements per node while coordinates converge. */
  rounds?: number;
  /** Peers each node measures (half random, half the nearest it knows of). */
  neighbours?: number;
  /** Vivaldi updates per measurement: this one, then the node's stored filtered RTTs to its other peers (up to `neighbours`). */
  replay?: number;
  /** Fit nodes' geo lines (RTT against distance) from their measurements, for located clients' probe choice. */
  geoLines?: boolean;
  /** Ping one candidate at a time, each chosen knowing the RTTs before it (false: all at once). */
  adaptive?: boolean;
  /** Vivaldi measurements from each client to nodes for its session coordinate (the coordinates-only baseline). */
  clientMeasurements?: number;
  /** Mean relative queueing noise of one ping over the true RTT. */
  jitter?: number;
  /**
   * Pings a client sends to each node it probes, keeping the minimum: the SDK's `probe()` sends
   * PING_DEFAULTS.samples (3) and so does the geo top-3 baseline here. 1 = one noisy sample per probed node.
   */
  pingSamples?: number;
  /** Use hosts' lat/lon (false: act as if no host had one). */
  useLocation?: boolean;
  /** Tell clients their lat/lon (false: only nodes are located, clients are found by their RTTs). */
  clientLocation?: boolean;
  /** "Within" means chosen ≤ best × (1 + relative) or ≤ best + absoluteMs. */
  withinRelative?: number;
  withinAbsoluteMs?: number;
  /** Route only clients whose position in the client list is `index` modulo `count`. */
  shard?: { index: number; count: number };
  vivaldi?: VivaldiOptions;
  candidates?: CandidateOptions;
  route?: RouteOptions;
  /** Hosts that act as edge PoPs (0: none); every host reaches the PoP it has the lowest RTT to. */
  edgePops?: number;
  /**
   * Without edge PoPs (edgePops 0), the API itself is one: a Node API answers GET /v1/edge/ping as its own PoP
   * and times nodes from where it runs (its default, TESSERA_EDGE_POP unset), on a seeded host. false: no
   * landmark at all (an API run with TESSERA_EDGE_POP=off).
   */
  apiLandmark?: boolean;
  /** Share of hosts (and clients) that anycast lands on another PoP than their nearest (the second nearest). */
  anycastError?: number;
  /** Times every client is routed; from the second on it starts from what it measured before. */
  sessions?: number;
  /**
   * Of each later session's pings, at most how many re-probe a node measured before: the last ones, each only
   * when the fastest RTT the client holds is a stale remembered one (nextReprobe, the SDK's rule); else it explores.
   */
  reprobes?: number;
  /** Time between a client's sessions (ms): with the default (a day) every remembered RTT is stale by the next. */
  sessionGapMs?: number;
  /** When a remembered RTT is stale enough to re-probe (the SDK's REPROBE_DEFAULTS). */
  reprobe?: ReprobeOptions;
  /**
   * Per-PoP learning: every other client of the split comes first, routes once (first contact, without
   * learning) and teaches its PoP what it measured; the routed client is then suggested what its PoP's
   * earlier clients found best (its own data never in its prior). Needs edgePops.
   */
  popLearning?: boolean;
  /**
   * The edge times its own challenge pings to nodes (the API's EdgeRttMeter): every PoP's RTT to every node
   * is known, the minimum of EDGE_RTT_DEFAULTS.samples pings each (a bound on each). Needs edgePops. On by
   * default, as the API runs (EDGE_RTT_METER_DEFAULTS.enabled): a PoP's row is assumed full, i.e. the PoP served
   * enough requests to time every node within the meter's expiry (it times a few nodes per request).
   */
  edgeRtts?: boolean;
  /**
   * Real drift: the true RTTs in session k are `sessionTruths[k]` (time slices of the same matrix, same hosts):
   * the client's pings and that session's tally use them (nodes still converge on `truth`; the `tessera`
   * method scores session 1's route on `truth`, `bySession[0]` on the first slice). Sessions past the list's
   * end use its last entry.
   */
  sessionTruths?: readonly RttSource[];
  /** Called now and then with progress. */
  onProgress?: (done: number, total: number, phase: 'converge' | 'route') => void;
}

export const SIM_DEFAULTS: Required<Omit<SimOptions, 'clients' | 'onProgress' | 'candidates' | 'route' | 'shard' | 'reprobe' | 'sessionTruths'>> = {
  nodes: 60,
  probes: 3,
  seed: 1,
  rounds: 64,
  neighbours: 16,
  replay: 16,
  geoLines: true,
  adaptive: true,
  clientMeasurements: 16,
  jitter: 0.05,
  pingSamples: PING_DEFAULTS.samples,
  useLocation: true,
  clientLocation: true,
  withinRelative: 0.1,
  withinAbsoluteMs: 5,
  edgePops: 0,
  apiLandmark: true,
  anycastError: 0,
  sessions: 1,
  reprobes: 1,
  sessionGapMs: 24 * 3600 * 1000,
  popLearning: false,
  edgeRtts: true,
  vivaldi: VIVALDI_DEFAULTS,
};

export type MethodName = 'tessera' | 'geo' | 'geoTop3' | 'random' | 'coordsOnly' | 'oracle';
/** Tessera (first session), geo-nearest, "ping the 3 geographically nearest, take the best", random, coordinates only, oracle. */
export const METHODS: readonly MethodName[] = ['tessera', 'geo', 'geoTop3', 'random', 'coordsOnly', 'oracle'];

export interface MethodResult {
  /** Fraction of evaluated clients whose node was within 10% (or 5 ms) of the best true RTT. */
  within10: number;
  medianStretch: number;
  p95Stretch: number;
  /** Clients whose chosen node's true RTT is known. */
  evaluated: number;
  /** Clients routed to a node whose true RTT to them is missing from the data. */
  unevaluated: number;
}

/** Raw counts of one method over some clients; tallies of shards add up (mergeTallies). */
export interface MethodTally {
  stretch: number[];
  within: number;
  unevaluated: number;
}

export interface SimSetup {
  hosts: number;
  nodes: number;
  /** Clients routed (those with a true RTT to some node). */
  clients: number;
  probes: number;
  seed: number;
  nodeMeasurements: number;
  clientSessionMeasurements: number;
  locatedClients: number;
  locatedNodes: number;
  /** Pings Tessera sent (lost pings included). */
  probesSent: number;
  /** Clients with no true RTT to any node (not routed). */
  skippedClients: number;
}

export interface SimReport {
  tessera: MethodResult;
  geo: MethodResult;
  geoTop3: MethodResult;
  random: MethodResult;
  coordsOnly: MethodResult;
  oracle: MethodResult;
  setup: SimSetup & { meanProbes: number };
  /** Relative error of node↔node RTT estimates after convergence (a sample of pairs). */
  coordinateError: { median: number; p90: number };
  timing: { convergeMs: number; routeMs: number; perClientUs: number };
  /** The raw counts, for merging shards. */
  tallies: Record<MethodName, MethodTally>;
  /** Tessera's result in each session (1..sessions; the first is `tessera`). */
  bySession: MethodResult[];
  sessionTallies: MethodTally[];
  /** PoPs in use, the share of hosts whose PoP is not their nearest, and routed clients whose PoP had learned something (popLearning). */
  edge: { pops: number; misrouted: number; withPrior: number };
}

/** The card every simulated node gets: identical nodes, so the best choice is the lowest RTT. */
const SIM_CARD: NodeCard = {
  name: 'sim',
  region: '',
  version: 'sim',
  cpu: { model: 'sim', cores: 8 },
  ramBytes: 16 * 2 ** 30,
  gl: { renderer: 'sim', vendor: 'sim', version: 'sim', maxTextureSize: 16384, maxViewport: [16384, 16384] },
  tilesPerSecond: 10,
  concurrency: 1,
};
const IDLE = { queued: 0, running: 0, concurrency: 1 };
const TASK_PIXELS = 256 * 256;

/** One ping: the true RTT plus queueing noise (exponential, mean `jitter` × RTT); NaN when unreachable. */
function ping(truth: number, jitter: number, rng: Random): number {
  return Number.isNaN(truth) ? NaN : truth * (1 + jitter * randomExponential(rng));
}

/** A client's probe of one node: the minimum of `samples` pings, as the SDK's probe() measures it. */
function probeRtt(truth: number, jitter: number, samples: number, rng: Random): number {
  let best = ping(truth, jitter, rng);
  for (let k = 1; k < samples; k++) best = Math.min(best, ping(truth, jitter, rng));
  return best;
}

function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Summary of one method's tally. */
export function summarizeTally(t: MethodTally): MethodResult {
  const s = Float64Array.from(t.stretch).sort();
  const n = s.length;
  return { within10: n ? t.within / n : NaN, medianStretch: quantile(s, 0.5), p95Stretch: quantile(s, 0.95), evaluated: n, unevaluated: t.unevaluated };
}

/** One report from the reports of shards of the same run (same options but `shard`). */
export function mergeSimReports(reports: readonly SimReport[]): SimReport {
  if (reports.length === 0) throw new RangeError('no reports to merge');
  const first = reports[0];
  const mergeTallies = (list: readonly MethodTally[]): MethodTally => ({ stretch: list.flatMap((t) => t.stretch), within: sum(list.map((t) => t.within)), unevaluated: sum(list.map((t) => t.unevaluated)) });
  const tallies = Object.fromEntries(METHODS.map((m) => [m, mergeTallies(reports.map((r) => r.tallies[m]))])) as Record<MethodName, MethodTally>;
  const sessionTallies = first.sessionTallies.map((_, s) => mergeTallies(reports.map((r) => r.sessionTallies[s])));
  const clients = sum(reports.map((r) => r.setup.clients));
  const probesSent = sum(reports.map((r) => r.setup.probesSent));
  const routeMs = Math.max(...reports.map((r) => r.timing.routeMs));
  return {
    ...(Object.fromEntries(METHODS.map((m) => [m, summarizeTally(tallies[m])])) as Record<MethodName, MethodResult>),
    setup: {
      ...first.setup,
      clients,
      probesSent,
      meanProbes: clients ? probesSent / clients : 0,
      locatedClients: sum(reports.map((r) => r.setup.locatedClients)),
      skippedClients: sum(reports.map((r) => r.setup.skippedClients)),
    },
    coordinateError: first.coordinateError,
    timing: { convergeMs: Math.max(...reports.map((r) => r.timing.convergeMs)), routeMs, perClientUs: clients ? (sum(reports.map((r) => r.timing.routeMs)) * 1000) / clients : 0 },
    tallies,
    bySession: sessionTallies.map(summarizeTally),
    sessionTallies,
    edge: { ...first.edge, withPrior: sum(reports.map((r) => r.edge.withPrior)) },
  };
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** Runs the simulation. Pure and deterministic for a seed. */
export function simulateRouting(hosts: readonly Host[], truth: RttSource, options: SimOptions = {}): SimReport {
  const o = { ...SIM_DEFAULTS, ...options };
  const H = hosts.length;
  if (truth.size !== H) throw new RangeError(`the RTT source covers ${truth.size} hosts, the hosts list ${H}`);
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes >= H) throw new RangeError(`--nodes must be 1 to ${H - 1} (there are ${H} hosts)`);
  if (!Number.isInteger(o.probes) || o.probes < 0 || o.probes > 64) throw new RangeError(`--probes must be 0 to 64 (got ${o.probes})`);
  const viv = { ...VIVALDI_DEFAULTS, ...o.vivaldi };
  const seed = o.seed;
  const { nodeHost, clientHosts } = splitHosts(H, o.nodes, seed, o.clients);
  const N = nodeHost.length;
  const locationOf = (h: number) => hostLocation(hosts[h], o.useLocation);

  // ---- Coordinates converge from node↔node measurements ----
  const t0 = performance.now();
  const edge = assignEdgePops(hosts, truth, o);
  const { nodes, coords, measurements } = convergeNodes(hosts, truth, nodeHost, { ...o, edgeOf: edge?.of });
  const idOf = new Map<string, number>(nodeHost.map((h, j) => [hosts[h].id, j]));
  const convergeMs = performance.now() - t0;

  // ---- The edge times its requests to nodes (edgeRtts): each PoP's RTT row to the nodes is known ----
  const popNodeRtts = new Map<string, Record<string, number>>();
  const edgeView = (h: number): EdgeSighting | undefined => {
    const s = edge?.of(h);
    if (!s || !o.edgeRtts) return s;
    let row = popNodeRtts.get(s.pop);
    if (!row) {
      // What the API's EdgeRttMeter does at a PoP: time each node's challenge ping `samples` times, keep the
      // minimum, and record it through the same pure row (routing/edge-rtts.ts: caps, expiry) it reads back.
      let measured: EdgeRttRow = {};
      const p = edge!.hostOf(s.pop);
      const prng = createRandom(`edge-rtts:${seed}:${p}`);
      const truthMs = (j: number) => (p === nodeHost[j] ? 0.5 : pairRtt(truth, p, nodeHost[j]));
      for (let j = 0; j < N; j++) {
        let sample = Infinity;
        for (let k = 0; k < EDGE_RTT_DEFAULTS.samples; k++) sample = Math.min(sample, ping(truthMs(j), o.jitter, prng));
        if (!Number.isNaN(sample)) measured = recordEdgeRtt(measured, hosts[nodeHost[j]].id, sample, 0);
      }
      row = edgeRttView(measured, 0);
      popNodeRtts.set(s.pop, row);
    }
    return { ...s, nodeRttMs: row };
  };

  // ---- Per-PoP learning: the split's other clients come first and teach their PoPs what they measured ----
  const teachersOf = new Map<string, { c: number; rtt: Record<string, number> }[]>();
  if (o.popLearning && edge) {
    for (let c2 = 0; c2 < clientHosts.length; c2++) {
      const h = clientHosts[c2];
      const sighting = edgeView(h);
      if (!sighting) continue;
      const trng = createRandom(`teach:${seed}:${c2}`);
      const where = (o.clientLocation ? locationOf(h) : undefined) ?? sighting.location;
      const measured: Record<string, number> = {};
      const lost: string[] = [];
      for (let p = 0; p < o.probes; ) {
        const ids = pickProbeCandidates(nodes, { measuredRttMs: measured, location: where, exclude: lost, edge: sighting }, o.adaptive ? 1 : o.probes - p, o.candidates);
        if (ids.length === 0) break;
        for (const id of ids) {
          p++;
          const sample = probeRtt(pairRtt(truth, h, nodeHost[idOf.get(id)!]), o.jitter, o.pingSamples, trng);
          if (Number.isNaN(sample)) lost.push(id);
          else measured[id] = Math.min(sample, measured[id] ?? Infinity);
        }
      }
      let list = teachersOf.get(sighting.pop);
      if (!list) teachersOf.set(sighting.pop, (list = []));
      list.push({ c: c2, rtt: measured });
    }
  }
  /** What client c's PoP learned from the split's other clients (never from c itself). */
  const learnedFor = (c: number, pop: string | undefined): string[] | undefined => {
    if (!pop) return undefined;
    let record: PopRecord | undefined;
    for (const t of teachersOf.get(pop) ?? []) if (t.c !== c) record = learnPop(record, t.rtt, () => true, 0);
    const s = suggestFromPop(record, 0);
    return s.length ? s : undefined;
  };
  let withPrior = 0;
  const errs: number[] = [];
  const qrng = createRandom(`quality:${seed}`);
  for (let s = 0; s < Math.min(20_000, N * (N - 1)); s++) {
    const a = randomInt(qrng, N);
    const b = randomInt(qrng, N);
    const t = a === b ? NaN : pairRtt(truth, nodeHost[a], nodeHost[b]);
    if (!Number.isNaN(t)) errs.push(Math.abs(estimateRtt(coords[a], coords[b]) - t) / t);
  }
  errs.sort((x, y) => x - y);

  // ---- Route every client ----
  const t1 = performance.now();
  const tallies = Object.fromEntries(METHODS.map((m): [MethodName, MethodTally] => [m, { stretch: [], within: 0, unevaluated: 0 }])) as Record<MethodName, MethodTally>;
  let locatedNodes = 0;
  for (let j = 0; j < N; j++) if (locationOf(nodeHost[j])) locatedNodes++;
  // True RTTs are computed on demand (NaN = not yet; Infinity = missing), so a lower bound can skip most.
  const trueRtt = new Float64Array(N).fill(NaN);
  const touched: number[] = [];
  let client = -1;
  const truthOf = (j: number): number => {
    let t = trueRtt[j];
    if (Number.isNaN(t)) {
      t = pairRtt(truth, client, nodeHost[j]);
      trueRtt[j] = Number.isNaN(t) ? Infinity : t;
      touched.push(j);
    }
    return t === Infinity ? NaN : t;
  };
  const lowerBound = truth.lowerBound?.bind(truth);
  let best = Infinity;
  const sessionTallies: MethodTally[] = Array.from({ length: Math.max(1, o.sessions) }, () => ({ stretch: [], within: 0, unevaluated: 0 }));
  const record = (m: MethodName | MethodTally, j: number) => {
    const t = j >= 0 ? truthOf(j) : NaN;
    const tally = typeof m === 'string' ? tallies[m] : m;
    if (Number.isNaN(t)) {
      tally.unevaluated++;
      return;
    }
    tally.stretch.push(t / best);
    if (t <= best * (1 + o.withinRelative) || t <= best + o.withinAbsoluteMs) tally.within++;
  };
  const shard = o.shard ?? { index: 0, count: 1 };
  let probesSent = 0, skippedClients = 0, locatedClients = 0, routed = 0;
  const M = clientHosts.length;
  for (let c = shard.index; c < M; c += shard.count) {
    client = clientHosts[c];
    for (const j of touched) trueRtt[j] = NaN;
    touched.length = 0;
    best = Infinity;
    let oracle = -1;
    if (truth.nearestAmong) {
      const near = truth.nearestAmong(client, nodeHost);
      oracle = near.index;
      best = near.rttMs;
    } else {
      for (let j = 0; j < N; j++) {
        if (lowerBound && !(lowerBound(client, nodeHost[j]) < best)) continue;
        const t = truthOf(j);
        if (t < best) { best = t; oracle = j; }
      }
    }
    if (oracle < 0) {
      skippedClients++;
      continue;
    }
    routed++;
    const rng = createRandom(`client:${seed}:${c}`);
    const own = o.clientLocation ? locationOf(client) : undefined;
    const clientEdge = edgeView(client);
    const learned = o.popLearning ? learnedFor(c, clientEdge?.pop) : undefined;
    if (learned) withPrior++;
    // Without a location of its own, a client is placed at its PoP when the PoP's location is known.
    const location = own ?? clientEdge?.location;
    if (own) locatedClients++;

    // Tessera, session after session: adaptive probing (one ping per round), then the router. From the
    // second session on, the client starts from what it kept: it explores nodes it has not measured and, last,
    // re-probes the RTT that would decide its route if that one is stale (nextReprobe).
    // What the client keeps, as the SDK's probe history does: each node's latest RTT and when it was measured
    // (a fresh RTT replaces the old one; a node that did not answer is forgotten).
    // A run of agreeing RTTs to a node is kept too (rememberRtt: how long the path has held, the SDK's rule).
    let history: Record<string, number> = {};
    let kept: Record<string, RememberedRtt> = {};
    for (let session = 0; session < sessionTallies.length; session++) {
      const now = session * o.sessionGapMs;
      // The truth this session (real drift: a time slice), and its best node's RTT.
      const slice = o.sessionTruths?.length ? o.sessionTruths[Math.min(session, o.sessionTruths.length - 1)] : undefined;
      const truthNow = (j: number) => (slice ? pairRtt(slice, client, nodeHost[j]) : truthOf(j));
      let bestNow = best;
      if (slice) {
        bestNow = Infinity;
        for (let j = 0; j < N; j++) {
          const t = truthNow(j);
          if (t < bestNow) bestNow = t;
        }
      }
      const measured: Record<string, number> = { ...history };
      const held: Record<string, RememberedRtt> = { ...kept };
      const lost: string[] = [];
      const pinged = new Set<string>();
      let p = 0;
      const ping1 = (id: string) => {
        if (session === 0) probesSent++;
        p++;
        const sample = probeRtt(truthNow(idOf.get(id)!), o.jitter, o.pingSamples, rng);
        if (Number.isNaN(sample)) {
          lost.push(id);
          delete measured[id];
          delete held[id];
        } else {
          measured[id] = pinged.has(id) ? Math.min(sample, measured[id]) : sample;
          held[id] = pinged.has(id) ? { ...held[id], rttMs: measured[id] } : rememberRtt(kept[id], id, sample, now, o.reprobe);
        }
        pinged.add(id);
      };
      // The last `reprobes` pings may re-probe: the fastest RTT the client holds, when it is a stale remembered one.
      const reprobeSlots = session > 0 ? Math.min(o.reprobes, o.probes) : 0;
      const known = () => Object.values(held);
      while (p < o.probes) {
        if (p >= o.probes - reprobeSlots) {
          const again = nextReprobe(known(), pinged, now, false, o.reprobe);
          if (again !== undefined) {
            ping1(again);
            continue;
          }
        }
        const want = o.adaptive ? 1 : (p < o.probes - reprobeSlots ? o.probes - reprobeSlots : o.probes) - p;
        let ids = pickProbeCandidates(nodes, { measuredRttMs: measured, location, exclude: lost, edge: clientEdge, learned }, want, o.candidates);
        // No node it has not measured: re-measure remembered ones, best first (the SDK does the same).
        if (ids.length === 0) ids = Object.keys(history).filter((id) => !pinged.has(id) && !lost.includes(id)).sort((a, b) => history[a] - history[b]).slice(0, 1);
        if (ids.length === 0) break;
        for (const id of ids) ping1(id);
      }
      const coord = locateClient(nodes, { measuredRttMs: measured, location }, o.candidates);
      // The job carries the client's PoP and RTT to it: with the edge's row, a bound on every node (the API's job route does the same).
      const decision = routeTask(nodes, { client: { measuredRttMs: measured, coord, edge: clientEdge }, taskPixels: TASK_PIXELS }, rng, o.route);
      const chosen = decision ? idOf.get(decision.nodeId)! : -1;
      if (session === 0) record('tessera', chosen);
      if (!slice) record(sessionTallies[session], chosen);
      else {
        const t = chosen >= 0 ? truthNow(chosen) : NaN;
        const tally = sessionTallies[session];
        if (Number.isNaN(t) || !(bestNow < Infinity)) tally.unevaluated++;
        else {
          tally.stretch.push(t / bestNow);
          if (t <= bestNow * (1 + o.withinRelative) || t <= bestNow + o.withinAbsoluteMs) tally.within++;
        }
      }
      history = measured;
      kept = held;
    }

    // Coordinates only: a session coordinate from Vivaldi measurements (random nodes, and from halfway the
    // nearest it then knows of), then the node with the lowest estimated RTT to it; no pings at routing time.
    let session = createCoordinate(viv);
    const cm = o.clientMeasurements;
    for (let s = 0; s < cm; s++) {
      let j = randomInt(rng, N);
      if (s === cm >> 1 || (s > cm >> 1 && s % 4 === 0)) {
        const [near] = pickProbeCandidates(nodes, { measuredRttMs: {}, coord: session }, 1, o.candidates);
        if (near !== undefined) j = idOf.get(near)!;
      }
      const sample = ping(truthOf(j), o.jitter, rng);
      if (!Number.isNaN(sample)) session = updateCoordinate(session, coords[j], sample, viv, rng);
    }
    const [byCoords] = pickProbeCandidates(nodes, { measuredRttMs: {}, coord: session }, 1, o.candidates);
    record('coordsOnly', byCoords === undefined ? -1 : idOf.get(byCoords)!);

    // Geo-nearest by great-circle distance; random when the client has no location. Geo top-3: ping the
    // three geographically nearest nodes (three random ones without a location) and take the fastest.
    const rnd = randomInt(rng, N);
    const geoId = own ? geoNearest(nodes, own) : undefined;
    const geo = geoId === undefined ? -1 : idOf.get(geoId)!;
    record('geo', geo >= 0 ? geo : rnd);
    const top3 = own ? geoNearestK(nodes, own, 3).map((id) => idOf.get(id)!) : [rnd, randomInt(rng, N), randomInt(rng, N)];
    let top3Best = -1, top3Rtt = Infinity;
    for (const j of top3) {
      const sample = probeRtt(truthOf(j), o.jitter, o.pingSamples, rng);
      if (sample < top3Rtt) { top3Rtt = sample; top3Best = j; }
    }
    record('geoTop3', top3Best >= 0 ? top3Best : rnd);
    record('random', rnd);
    record('oracle', oracle);
    if ((routed & 1023) === 0) o.onProgress?.(c + 1, M, 'route');
  }
  o.onProgress?.(M, M, 'route');
  const routeMs = performance.now() - t1;

  return {
    ...(Object.fromEntries(METHODS.map((m) => [m, summarizeTally(tallies[m])])) as Record<MethodName, MethodResult>),
    setup: {
      hosts: H,
      nodes: N,
      clients: routed,
      probes: o.probes,
      seed,
      nodeMeasurements: measurements,
      clientSessionMeasurements: o.clientMeasurements,
      locatedClients,
      locatedNodes,
      probesSent,
      meanProbes: routed ? probesSent / routed : 0,
      skippedClients,
    },
    coordinateError: { median: quantile(errs, 0.5), p90: quantile(errs, 0.9) },
    timing: { convergeMs, routeMs, perClientUs: routed ? (routeMs * 1000) / routed : 0 },
    tallies,
    bySession: sessionTallies.map(summarizeTally),
    sessionTallies,
    edge: { pops: edge?.pops ?? 0, misrouted: edge?.misrouted ?? 0, withPrior },
  };
}

/**
 * Edge PoPs (`edgePops` hosts, a seeded pick): every host reaches the PoP it has the lowest RTT to, except
 * a share `anycastError` that lands on its second nearest; each knows its PoP and a ping's RTT to it (a
 * host that is a PoP reaches itself in 0.5 ms). A PoP's location is its host's, when locations are in use.
 */
export function assignEdgePops(
  hosts: readonly Host[],
  truth: RttSource,
  options: Pick<SimOptions, 'edgePops' | 'apiLandmark' | 'anycastError' | 'seed' | 'jitter' | 'useLocation'>,
): { of: (host: number) => EdgeSighting | undefined; hostOf: (pop: string) => number; pops: number; misrouted: number } | undefined {
  const o = { ...SIM_DEFAULTS, ...options };
  const H = hosts.length;
  const api = !(o.edgePops >= 1) && o.apiLandmark;
  const P = api ? 1 : Math.min(H, Math.max(0, Math.floor(o.edgePops)));
  if (P === 0) return undefined;
  const popHost = shuffleInPlace(Array.from({ length: H }, (_, i) => i), createRandom(`pops:${o.seed}`)).slice(0, P);
  const sightings: (EdgeSighting | undefined)[] = new Array(H);
  const popName = (h: number) => `pop-${hosts[h].id}`;
  let misrouted = 0;
  for (let h = 0; h < H; h++) {
    const rng = createRandom(`anycast:${o.seed}:${h}`);
    let first = -1, firstRtt = Infinity, second = -1, secondRtt = Infinity;
    for (const p of popHost) {
      const t = p === h ? 0.5 : pairRtt(truth, h, p);
      if (!(t < secondRtt)) continue;
      if (t < firstRtt) { second = first; secondRtt = firstRtt; first = p; firstRtt = t; }
      else { second = p; secondRtt = t; }
    }
    if (first < 0) continue;
    let p = first, t = firstRtt;
    if (second >= 0 && rng() < o.anycastError) { p = second; t = secondRtt; misrouted++; }
    // The API's PoP has no location (a Node API's default PoP names none): it is a landmark, not a place to put clients.
    const location = api ? undefined : hostLocation(hosts[p], o.useLocation);
    const rttMs = ping(t, o.jitter, rng);
    sightings[h] = location ? { pop: popName(p), rttMs, location } : { pop: popName(p), rttMs };
  }
  const hostByPop = new Map(popHost.map((p) => [popName(p), p]));
  return { of: (h) => sightings[h], hostOf: (pop) => hostByPop.get(pop) ?? -1, pops: P, misrouted: misrouted / H };
}

/** Which hosts (by index) become nodes and which clients: a seeded shuffle. */
export function splitHosts(hosts: number, nodes: number, seed: number, maxClients?: number): { nodeHost: number[]; clientHosts: number[] } {
  const order = shuffleInPlace(Array.from({ length: hosts }, (_, i) => i), createRandom(`split:${seed}`));
  return { nodeHost: order.slice(0, nodes), clientHosts: order.slice(nodes, maxClients === undefined ? hosts : nodes + maxClients) };
}

/** A host's location, when it has one and locations are in use. */
export function hostLocation(host: Host, useLocation = true): GeoPoint | undefined {
  return useLocation && isGeoPoint(host as Partial<GeoPoint>) ? { lat: host.lat!, lon: host.lon! } : undefined;
}

/**
 * The render nodes (hosts `nodeHost`) after their coordinates converged: `rounds` rounds in which every node
 * pings one of its peers (half random, half the nearest its coordinate knows of, refreshed three times),
 * filters the samples per peer, and updates its coordinate (Vivaldi) from them.
 */
export function convergeNodes(
  hosts: readonly Host[],
  truth: RttSource,
  nodeHost: readonly number[],
  options: Pick<SimOptions, 'seed' | 'rounds' | 'neighbours' | 'replay' | 'jitter' | 'useLocation' | 'geoLines' | 'vivaldi' | 'onProgress'> & {
    /** Each host's PoP sighting (assignEdgePops), given to its node. */
    edgeOf?: (host: number) => EdgeSighting | undefined;
  } = {},
): { nodes: readonly RouterNode[]; coords: Coordinate[]; measurements: number } {
  const o = { ...SIM_DEFAULTS, ...options };
  const viv = { ...VIVALDI_DEFAULTS, ...o.vivaldi };
  const N = nodeHost.length;
  const locationOf = (h: number) => hostLocation(hosts[h], o.useLocation);
  const rng = createRandom(`converge:${o.seed}`);
  const coords: Coordinate[] = nodeHost.map(() => createCoordinate(viv));
  let lines: (GeoLine | undefined)[] = [];
  let peerRtts: (Record<string, number> | undefined)[] = [];
  const edges = nodeHost.map((h) => options.edgeOf?.(h));
  // A node without a location of its own is placed at its PoP when the PoP's location is known.
  const placeOf = (h: number, j: number) => locationOf(h) ?? edges[j]?.location;
  const makeNodes = (): readonly RouterNode[] =>
    freezeRouterNodes(
      nodeHost.map((h, j) => ({ id: hosts[h].id, card: SIM_CARD, healthy: true, load: IDLE, coord: coords[j], location: placeOf(h, j), geoLine: lines[j], peerRttMs: peerRtts[j], edge: edges[j] })),
    );
  const K = Math.min(o.neighbours, N - 1);
  const half = K >> 1;
  const peers: Int32Array[] = [];
  const filters: RttFilter[][] = [];
  const randomPeer = (j: number) => {
    let p = randomInt(rng, N - 1);
    if (p >= j) p++;
    return p;
  };
  for (let j = 0; j < N; j++) {
    const list = new Int32Array(K);
    for (let s = 0; s < K; s++) list[s] = randomPeer(j);
    peers.push(list);
    filters.push(Array.from({ length: K }, () => new RttFilter()));
  }
  const idOf = new Map<string, number>(nodeHost.map((h, j) => [hosts[h].id, j]));
  let nodes = makeNodes();
  const refreshAt = new Set([Math.floor(o.rounds / 4), Math.floor(o.rounds / 2), Math.floor((3 * o.rounds) / 4)]);
  let measurements = 0;
  for (let r = 0; r < o.rounds && K > 0; r++) {
    if (refreshAt.has(r) && r > 0) {
      // The near half of each node's peers: the nodes its coordinate says are nearest (what it would ask the API for).
      nodes = makeNodes();
      for (let j = 0; j < N; j++) {
        const near = pickProbeCandidates(nodes, { measuredRttMs: {}, coord: coords[j], exclude: [nodes[j].id] }, K - half);
        near.forEach((id, s) => {
          const p = idOf.get(id)!;
          if (peers[j][half + s] !== p) {
            peers[j][half + s] = p;
            filters[j][half + s] = new RttFilter();
          }
        });
      }
    }
    for (let j = 0; j < N; j++) {
      const s = r % K;
      const p = peers[j][s];
      const sample = ping(pairRtt(truth, nodeHost[j], nodeHost[p]), o.jitter, rng);
      measurements++;
      if (Number.isNaN(sample)) {
        peers[j][s] = randomPeer(j);
        filters[j][s] = new RttFilter();
        continue;
      }
      filters[j][s].add(sample);
      // Vivaldi update from this sample, and again from every peer's latest filtered RTT the node keeps
      // (a replay: no extra measurement, so coordinates converge in fewer measurement rounds).
      for (let q = 0; q < Math.max(1, Math.min(K, o.replay)); q++) {
        const slot = (s + K - q) % K;
        const v = filters[j][slot].value;
        if (v !== undefined) coords[j] = updateCoordinate(coords[j], coords[peers[j][slot]], v, viv, rng);
      }
    }
    o.onProgress?.(r + 1, o.rounds, 'converge');
  }
  // Geo lines from the same measurements (each node's latest filtered RTT to each peer).
  const pairs: GeoEdge[] = [];
  for (let j = 0; j < N; j++) {
    for (let s = 0; s < K; s++) {
      const v = filters[j][s].value;
      if (v !== undefined) pairs.push({ a: j, b: peers[j][s], rttMs: v });
    }
  }
  if (o.geoLines) lines = fitGeoLines(nodeHost.map(placeOf), pairs);
  // The measured matrix, both ways: each node's filtered RTT to each peer it measured, or the peer's to it.
  peerRtts = nodeHost.map(() => ({}));
  for (const { a, b, rttMs } of pairs) {
    peerRtts[a]![hosts[nodeHost[b]].id] = Math.min(rttMs, peerRtts[a]![hosts[nodeHost[b]].id] ?? Infinity);
    peerRtts[b]![hosts[nodeHost[a]].id] = Math.min(rttMs, peerRtts[b]![hosts[nodeHost[a]].id] ?? Infinity);
  }
  return { nodes: makeNodes(), coords, measurements };
}

