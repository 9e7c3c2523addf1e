/**
 * Which nodes a client should ping before its job is routed, and where the client sits in coordinate space.
 *
 * A client arrives knowing little: perhaps a location, perhaps a session coordinate, perhaps nothing.
 * Probing is adaptive: each call returns the most promising unmeasured nodes given everything measured so
 * far, so a client that pings one node at a time (`k = 1`, three rounds) homes in on its nearest node:
 *  - located client, nodes with geo lines: rank by the RTT the lines predict, the client's own line
 *    fitted to its measurements (its access delay; with two or more, its path slowness too); an
 *    unlocated client that measured located nodes is placed where their lines best explain its RTTs;
 *  - else with measurements or a session coordinate: fit the client's coordinate, rank by estimated RTT;
 *  - else with a location: rank by geography (km × the ms/km the node coordinates imply) + node height;
 *  - else: the landmark whose RTT best tells clients apart (then other landmarks, spread out).
 * The fit starts from the best prior it has and from the best of a sample of node positions (a client is
 * usually near some node), so a wrong location or a stale session coordinate does not trap it.
 */
import { fitClientCoordinate, FIT_DEFAULTS, type ClientPrior, type FitOptions, type RttSample } from './client-coordinate.ts';
import { geoUnitVector, isGeoPoint, kmFromDot, type GeoPoint } from './geo.ts';
import { dist2, gridFor, indexNodes as indexFor, scanGrid, scanNearest, type NodeIndex } from './node-index.ts';
import { fitGeoLine, GEO_LINE_DEFAULTS, type GeoLine, type GeoLineSample } from './geo-line.ts';
import { meetsRequirements, type TaskRequirements } from './requirements.ts';
import { isBusy, nodeIndex, ROUTE_DEFAULTS, type ClientView, type EdgeSighting, type RouterNode } from './router.ts';
import { VIVALDI_DEFAULTS, type Coordinate } from './vivaldi.ts';

/** A client asking whom to probe: what it measured so far, and what it knows of itself. */
export interface ProbeClient extends ClientView {
  /** Only nodes that can run the client's job are worth probing. */
  readonly requirements?: TaskRequirements;
  /** Node ids never to return (a node choosing neighbours excludes itself). */
  readonly exclude?: readonly string[];
  /**
   * Nodes earlier clients of the same PoP found best, best first (pop-learning.ts): the first
   * `learnedProbes` pings go to those, the rest are chosen as usual knowing what they measured.
   */
  readonly learned?: readonly string[];
}

export interface CandidateOptions {
  /** Node positions tried as hypotheses for an unlocated client. */
  hypotheses?: number;
  /** Geographically nearest nodes whose coordinates make a located client's first guess. */
  geoNeighbours?: number;
  /** How far (ms per axis) a located client's point may be from the guess its location gives. */
  geoSpreadMs?: number;
  /** A session coordinate's spread: spreadBaseMs + spreadPerError × its error. */
  sessionSpreadBaseMs?: number;
  sessionSpreadPerError?: number;
  /** The mean of the prior on a client's height (ms): clients' last miles vary a lot. */
  heightPriorMs?: number;
  maxQueuePerSlot?: number;
  /**
   * How much of a triangle lower bound (|RTT to a probed node − that node's RTT to a peer|) to trust: real
   * matrices violate the triangle inequality now and then, so a bound is a hint, not a fact.
   */
  triangleLowerWeight?: number;
  /** Without a geo line, a bounded node's estimate is lower bound × triangleLowerWeight + upper bound × this. */
  triangleUpperShare?: number;
  /**
   * Without a geo line, how much more a candidate lying beyond a probed node counts against it than one lying
   * on the way to it. For a probed node at r and a candidate at d from it, r − d > 0 puts the candidate between
   * the client and the probed node (its RTT then is about r − d: the lower bound is tight), d − r > 0 puts
   * it farther from the probed node than the client is: on the far side as often as near the client, so its
   * lower bound d − r is loose. The mismatch is max(r − d, 0) + beyondWeight × max(d − r, 0), worst over
   * probed nodes for each side (1: the plain triangle lower bound, both sides alike).
   */
  beyondWeight?: number;
  /**
   * The first landmark (no location, no PoP): how much a candidate's centrality (the mean of its measured
   * row ÷ the mean of all rows, × the pseudo-clients' count) weighs against its pseudo-clients' wins.
   */
  landmarkCentrality?: number;
  /**
   * Unlocated client, no geo lines, at most this many nodes: pairs missing from the measured matrix take the
   * coordinates' estimate in the profile score (0: never). It costs O(nodes) per probed node (4.7 ms a pick at
   * 10,000 nodes, unlocated), so larger farms rank unbounded nodes by the client's fitted coordinate instead.
   */
  coordinateFillMaxNodes?: number;
  /**
   * The first landmark (no location, no PoP): how many pings a pseudo-client makes when a candidate is tried,
   * the candidate first and the rest chosen as pickProbeCandidates would. 1 ranks candidates by how close the
   * candidate alone comes to each pseudo-client's nearest peer: a node near the best of many others.
   */
  landmarkPings?: number;
  /**
   * A located client that has measured nothing pings its geographically nearest eligible node first, whatever
   * the geo lines predict: where a line misjudges a nearby node (a slow or fast access link, a detour), the
   * nearest node still often wins, and its RTT then anchors the client's own line for the next pings. Not when
   * the bounds from measurements (the PoP's row) prove another node faster: a claimed location is only a claim.
   */
  geoNearestFirst?: boolean;
  /** Of a client's first pings, how many go to the nodes its PoP's earlier clients found best (`learned`). */
  learnedProbes?: number;
  /** Lead with learned nodes even when nodes share the client's PoP (whose RTTs to it bound the client's already). */
  learnedWherePopServesNodes?: boolean;
  /**
   * A client without a location that measured at least this many nodes (a returning client: its history
   * plus this session's pings) explores by coverage rather than by the lowest bounded score (0: never):
   * the `posteriorShortlist` best-scored candidates are ranked by how likely each is to bring the client
   * within 10% (or 5 ms) of its best node, over pseudo-clients that sit between two nodes of the shortlist
   * or the probed set (λ × one row + (1 − λ) × the other, plus an access delay), weighted by how well they
   * match the client's RTTs (Cauchy, scale `posteriorSigmaShare` × RTT + `posteriorSigmaMs`). With fewer
   * RTTs the lowest bound ranks better on the real matrices.
   */
  posteriorMinMeasured?: number;
  posteriorShortlist?: number;
  /**
   * Where the client's PoP timed the nodes (its row), the client's RTT to the PoP is one more RTT: it counts
   * toward `posteriorMinMeasured` (from the second ping of first contact on), and pseudo-clients must match it
   * (λ between their two nodes' RTTs to the PoP, plus the access delay). With a Node API as the one PoP, 100
   * splits: first contact 79.5 → 80.9% (WonderNetwork), 61.5 → 62.9% (Seattle); see `posteriorPopMinRttMs`.
   */
  posteriorUsesPop?: boolean;
  /**
   * The PoP counts toward `posteriorMinMeasured` only when the client's RTT to it is at least this (ms): a nearer
   * PoP's row bounds each node within ± that RTT, tight enough that the lowest bound ranks better (seattle-99 with
   * 50 PoPs, 40 splits: 87.6% counting every PoP, 88.3% from 80 ms, 88.4% never; the API as the one PoP: 38.5, 38.7, 37.3%).
   */
  posteriorPopMinRttMs?: number;
  posteriorSigmaShare?: number;
  posteriorSigmaMs?: number;
  /** Where the coverage ranking's pseudo-clients sit between two nodes (λ of the way), and their access delays (ms). */
  posteriorLambdas?: readonly number[];
  posteriorAccessMs?: readonly number[];
  fit?: FitOptions;
}

export const CANDIDATE_DEFAULTS: Required<CandidateOptions> = {
  hypotheses: 256,
  geoNeighbours: 3,
  geoSpreadMs: 8,
  sessionSpreadBaseMs: 5,
  sessionSpreadPerError: 50,
  heightPriorMs: 10,
  maxQueuePerSlot: ROUTE_DEFAULTS.maxQueuePerSlot,
  triangleLowerWeight: 1,
  triangleUpperShare: 0,
  beyondWeight: 1.5,
  landmarkCentrality: 0,
  landmarkPings: 1,
  coordinateFillMaxNodes: 512,
  geoNearestFirst: true,
  learnedProbes: 2,
  learnedWherePopServesNodes: false,
  posteriorMinMeasured: 3,
  posteriorShortlist: 16,
  posteriorUsesPop: true,
  posteriorPopMinRttMs: 80,
  posteriorSigmaShare: 0.25,
  posteriorSigmaMs: 10,
  posteriorLambdas: [0.25, 0.5, 0.75],
  posteriorAccessMs: [3, 15, 40],
  fit: FIT_DEFAULTS,
};

/** What the candidate search derives from the whole index (hypotheses, landmarks, typical values). */
interface Derived {
  hyp: Int32Array;
  hypVecs: Float64Array[];
  landmarks: number[];
  msPerKm: number;
  typicalHeightMs: number;
  medianSlope: number;
  /** The smallest node height (a lower bound for coordinate scans). */
  minHeight: number;
  /** A sample of located nodes with lines: hypotheses for an unlocated client's place. */
  lineHyp: Int32Array;
}

function derivedFor(idx: NodeIndex, o: Required<CandidateOptions>): Derived {
  if (idx.derived && idx.changes <= idx.n / 10) return idx.derived as Derived;
  const withCoord: number[] = [];
  for (let i = 0; i < idx.n; i++) if (idx.hasCoord[i]) withCoord.push(i);
  const step = Math.max(1, withCoord.length / o.hypotheses);
  const hypList: number[] = [];
  for (let x = 0; x < withCoord.length && hypList.length < o.hypotheses; x += step) hypList.push(withCoord[Math.floor(x)]);
  const hyp = Int32Array.from(hypList);
  const H = hyp.length;
  // RTT estimates between hypotheses (node positions), for the landmark choice and ms/km.
  const est = new Float64Array(H * H);
  for (let a = 0; a < H; a++) {
    for (let b = 0; b < H; b++) {
      const i = hyp[a], j = hyp[b];
      let s = 0;
      for (let k = 0; k < idx.dim; k++) {
        const x = idx.vec[i * idx.dim + k] - idx.vec[j * idx.dim + k];
        s += x * x;
      }
      est[a * H + b] = Math.sqrt(s) + idx.height[i] + idx.height[j];
    }
  }
  // Landmark 1: the node whose RTT leaves the fewest hypotheses indistinguishable (within 10% or 5 ms).
  const confusion = (a: number): number => {
    const row = Array.from(est.subarray(a * H, a * H + H)).sort((x, y) => x - y);
    let total = 0, lo = 0, hi = 0;
    for (let b = 0; b < H; b++) {
      const tol = Math.max(5, 0.1 * row[b]);
      while (row[lo] < row[b] - tol) lo++;
      if (hi < b) hi = b;
      while (hi + 1 < H && row[hi + 1] <= row[b] + tol) hi++;
      total += hi - lo + 1;
    }
    return total;
  };
  const landmarks: number[] = [];
  if (H > 0) {
    let bestA = 0, bestC = Infinity;
    for (let a = 0; a < H; a++) {
      const c = confusion(a);
      if (c < bestC) { bestC = c; bestA = a; }
    }
    // Further landmarks: farthest from those chosen (spread), for clients that probe several at once.
    const chosen = [bestA];
    const minEst = Float64Array.from({ length: H }, (_, b) => est[bestA * H + b]);
    // A node's estimate to itself is its two heights, not 0: mark chosen ones so none is picked twice.
    minEst[bestA] = -Infinity;
    while (chosen.length < Math.min(H, 8)) {
      let far = -1, farD = -1;
      for (let b = 0; b < H; b++) if (minEst[b] > farD) { farD = minEst[b]; far = b; }
      if (far < 0 || farD <= 0) break;
      chosen.push(far);
      for (let b = 0; b < H; b++) minEst[b] = Math.min(minEst[b], est[far * H + b]);
      minEst[far] = -Infinity;
    }
    for (const a of chosen) landmarks.push(hyp[a]);
  }
  // ms per km: the median ratio of coordinate distance to great-circle distance over located pairs > 300 km.
  const ratios: number[] = [];
  for (let a = 0; a < H; a++) {
    const i = hyp[a];
    if (!idx.hasLoc[i]) continue;
    for (let b = a + 1; b < H; b++) {
      const j = hyp[b];
      if (!idx.hasLoc[j]) continue;
      const km = kmFromDot(idx.unit[i * 3] * idx.unit[j * 3] + idx.unit[i * 3 + 1] * idx.unit[j * 3 + 1] + idx.unit[i * 3 + 2] * idx.unit[j * 3 + 2]);
      if (km > 300) ratios.push((est[a * H + b] - idx.height[i] - idx.height[j]) / km);
    }
  }
  ratios.sort((x, y) => x - y);
  const msPerKm = ratios.length ? Math.max(0.005, ratios[ratios.length >> 1]) : 0.015;
  const heights = Array.from(hyp, (i) => idx.height[i]).sort((x, y) => x - y);
  const typicalHeightMs = heights.length ? heights[heights.length >> 1] : 5;
  const hypVecs = Array.from(hyp, (i) => idx.vec.slice(i * idx.dim, (i + 1) * idx.dim));
  const slopes: number[] = [];
  for (let i = 0; i < idx.n; i++) if (idx.hasLine[i]) slopes.push(idx.lineS[i]);
  slopes.sort((x, y) => x - y);
  const medianSlope = slopes.length ? slopes[slopes.length >> 1] : GEO_LINE_DEFAULTS.priorMsPerKm;
  let minHeight = Infinity;
  for (let i = 0; i < idx.n; i++) if (idx.hasCoord[i] && idx.height[i] < minHeight) minHeight = idx.height[i];
  const withLine: number[] = [];
  for (let i = 0; i < idx.n; i++) if (idx.hasLine[i]) withLine.push(i);
  const lineStep = Math.max(1, withLine.length / o.hypotheses);
  const lineHyp: number[] = [];
  for (let x = 0; x < withLine.length && lineHyp.length < o.hypotheses; x += lineStep) lineHyp.push(withLine[Math.floor(x)]);
  const derived: Derived = { hyp, hypVecs, landmarks, msPerKm, typicalHeightMs, medianSlope, minHeight: minHeight === Infinity ? 0 : minHeight, lineHyp: Int32Array.from(lineHyp) };
  idx.derived = derived;
  idx.changes = 0;
  return derived;
}

const scratchUnit = new Float64Array(3);
/** Nodes a call must not return (measured, excluded, already picked); cleared before each call returns. */
let skipFlag = new Uint8Array(1024);

/** A first guess of a located client's coordinate: the geographically nearest nodes' points, weighted by nearness. */
function geoPrior(idx: NodeIndex, location: GeoPoint, o: Required<CandidateOptions>): Coordinate | undefined {
  const u = geoUnitVector(location, new Float64Array(3));
  const g = o.geoNeighbours;
  const top = new Int32Array(g).fill(-1);
  const topDot = new Float64Array(g).fill(-2);
  const barKm = () => (top[g - 1] < 0 ? Infinity : kmFromDot(topDot[g - 1]));
  scanGrid(idx, u, (_cell, minKm) => minKm, barKm, (i) => {
    if (!idx.hasCoord[i]) return;
    const dot = idx.unit[i * 3] * u[0] + idx.unit[i * 3 + 1] * u[1] + idx.unit[i * 3 + 2] * u[2];
    if (dot <= topDot[g - 1]) return;
    let p = g - 1;
    while (p > 0 && topDot[p - 1] < dot) { topDot[p] = topDot[p - 1]; top[p] = top[p - 1]; p--; }
    topDot[p] = dot; top[p] = i;
  });
  if (top[0] < 0) return undefined;
  const vec = new Array<number>(idx.dim).fill(0);
  let wSum = 0;
  for (let t = 0; t < g && top[t] >= 0; t++) {
    const w = 1 / (kmFromDot(topDot[t]) + 50);
    wSum += w;
    for (let k = 0; k < idx.dim; k++) vec[k] += w * idx.vec[top[t] * idx.dim + k];
  }
  for (let k = 0; k < idx.dim; k++) vec[k] /= wSum;
  return { vec, height: VIVALDI_DEFAULTS.heightMin, error: VIVALDI_DEFAULTS.errorMax };
}

/** The measured RTTs to nodes with coordinates, as fit samples. */
function samplesOf(nodes: readonly RouterNode[], client: ClientView): RttSample[] {
  const samples: RttSample[] = [];
  for (const id in client.measuredRttMs) {
    const rtt = client.measuredRttMs[id];
    if (!(rtt > 0) || !Number.isFinite(rtt)) continue;
    const i = nodeIndex(nodes, id);
    const coord = i >= 0 ? nodes[i].coord : undefined;
    if (coord) samples.push({ coord, rttMs: rtt });
  }
  return samples;
}

/**
 * The client's network coordinate from what it knows: its measurements (fitted), else its session
 * coordinate, else a guess from its location; undefined when it knows nothing.
 */
export function locateClient(nodes: readonly RouterNode[], client: ClientView, options: CandidateOptions = CANDIDATE_DEFAULTS): Coordinate | undefined {
  const o = options === CANDIDATE_DEFAULTS ? CANDIDATE_DEFAULTS : { ...CANDIDATE_DEFAULTS, ...options };
  const idx = indexFor(nodes);
  const prior = client.coord ?? (isGeoPoint(client.location) ? geoPrior(idx, client.location, o) : undefined);
  const samples = samplesOf(nodes, client);
  if (samples.length === 0) return prior;
  const derived = derivedFor(idx, o);
  const fitPrior: ClientPrior = {
    vec: prior?.vec,
    spreadMs: client.coord ? o.sessionSpreadBaseMs + o.sessionSpreadPerError * client.coord.error : o.geoSpreadMs,
    typicalHeightMs: Math.max(derived.typicalHeightMs, o.heightPriorMs),
  };
  return fitClientCoordinate(samples, fitPrior, derived.hypVecs, o.fit);
}

/**
 * Where an unlocated client probably is, from its RTTs to located nodes with geo lines: of a sample of
 * node locations (clients live where nodes do), the one whose lines best explain the RTTs, allowing the
 * client an access delay of its own (small ones preferred). Undefined without such measurements.
 */
export function estimateClientLocation(nodes: readonly RouterNode[], client: ClientView, options: CandidateOptions = CANDIDATE_DEFAULTS): GeoPoint | undefined {
  const o = options === CANDIDATE_DEFAULTS ? CANDIDATE_DEFAULTS : { ...CANDIDATE_DEFAULTS, ...options };
  const idx = indexFor(nodes);
  if (idx.lines === 0) return undefined;
  const probed: number[] = [];
  const rtts: number[] = [];
  for (const id in client.measuredRttMs) {
    const rtt = client.measuredRttMs[id];
    const i = nodeIndex(nodes, id);
    if (i >= 0 && idx.hasLine[i] && rtt > 0 && Number.isFinite(rtt)) {
      probed.push(i);
      rtts.push(rtt);
    }
  }
  if (probed.length === 0) return undefined;
  const d = derivedFor(idx, o);
  const slope = d.medianSlope;
  const m = probed.length;
  const left = new Float64Array(m);
  let best = -1, bestCost = Infinity;
  const tryAt = (h: number) => {
    for (let s = 0; s < m; s++) {
      const j = probed[s];
      const dot = idx.unit[h * 3] * idx.unit[j * 3] + idx.unit[h * 3 + 1] * idx.unit[j * 3 + 1] + idx.unit[h * 3 + 2] * idx.unit[j * 3 + 2];
      left[s] = rtts[s] - idx.lineA[j] - (kmFromDot(dot) * (slope + idx.lineS[j])) / 2;
    }
    // The client's access delay: the median of what the lines leave over, at least 0.
    const sorted = Array.from(left).sort((a, b) => a - b);
    const access = Math.max(0, sorted[(m - 1) >> 1]);
    let cost = access / o.heightPriorMs;
    for (let s = 0; s < m; s++) {
      const e = (left[s] - access) / (0.05 * rtts[s] + 1);
      cost += 0.5 * e * e;
    }
    if (cost < bestCost) { bestCost = cost; best = h; }
  };
  for (const h of d.lineHyp) tryAt(h);
  for (const h of probed) tryAt(h);
  return best < 0 ? undefined : idx.locRef[best];
}

/**
 * A located client's geo line from its measurements to located nodes with lines: no samples, the median
 * node slope and no access delay (ranking needs neither); one, its access delay; more, its slope too.
 */
export function clientGeoLine(nodes: readonly RouterNode[], client: ClientView, options: CandidateOptions = CANDIDATE_DEFAULTS): GeoLine | undefined {
  const o = options === CANDIDATE_DEFAULTS ? CANDIDATE_DEFAULTS : { ...CANDIDATE_DEFAULTS, ...options };
  if (!isGeoPoint(client.location)) return undefined;
  const idx = indexFor(nodes);
  if (idx.lines === 0) return undefined;
  const slope = derivedFor(idx, o).medianSlope;
  geoUnitVector(client.location, scratchUnit);
  const samples: GeoLineSample[] = [];
  for (const id in client.measuredRttMs) {
    const rtt = client.measuredRttMs[id];
    const i = nodeIndex(nodes, id);
    if (i < 0 || !idx.hasLine[i] || !(rtt > 0) || !Number.isFinite(rtt)) continue;
    samples.push({ km: kmToNode(idx, i), rttMs: rtt, peer: nodes[i].geoLine! });
  }
  if (samples.length === 0) return { interceptMs: 0, msPerKm: slope };
  return fitGeoLine(samples, { ...GEO_LINE_DEFAULTS, priorMsPerKm: slope, priorWeight: 2 }, samples.length === 1 ? slope : undefined);
}

/** Great-circle km from the point in scratchUnit to node i. */
function kmToNode(idx: NodeIndex, i: number): number {
  return kmFromDot(idx.unit[i * 3] * scratchUnit[0] + idx.unit[i * 3 + 1] * scratchUnit[1] + idx.unit[i * 3 + 2] * scratchUnit[2]);
}

/** The healthy node nearest to `location` by great-circle distance (the geo-nearest baseline), if any is located. */
export function geoNearest(nodes: readonly RouterNode[], location: GeoPoint): string | undefined {
  const best = nearestEligibleByKm(indexFor(nodes), location, (i) => nodes[i].healthy);
  return best < 0 ? undefined : nodes[best].id;
}

/** The ids of up to `k` healthy located nodes nearest to `location` by great-circle distance, nearest first. */
export function geoNearestK(nodes: readonly RouterNode[], location: GeoPoint, k: number): string[] {
  if (k <= 0) return [];
  const idx = indexFor(nodes);
  const u = geoUnitVector(location, new Float64Array(3));
  const top = new Int32Array(k).fill(-1);
  const topDot = new Float64Array(k).fill(-2);
  scanGrid(idx, u, (_cell, minKm) => minKm, () => (top[k - 1] < 0 ? Infinity : kmFromDot(topDot[k - 1])), (i) => {
    if (!nodes[i].healthy) return;
    const dot = idx.unit[i * 3] * u[0] + idx.unit[i * 3 + 1] * u[1] + idx.unit[i * 3 + 2] * u[2];
    if (dot <= topDot[k - 1]) return;
    let p = k - 1;
    while (p > 0 && topDot[p - 1] < dot) { topDot[p] = topDot[p - 1]; top[p] = top[p - 1]; p--; }
    topDot[p] = dot; top[p] = i;
  });
  const out: string[] = [];
  for (const i of top) if (i >= 0) out.push(nodes[i].id);
  return out;
}

/** The eligible located node nearest to `location` by great-circle distance (-1: none). */
function nearestEligibleByKm(idx: NodeIndex, location: GeoPoint, eligible: (i: number) => boolean): number {
  const u = geoUnitVector(location, new Float64Array(3));
  let best = -1, bestDot = -2;
  scanGrid(idx, u, (_cell, minKm) => minKm, () => (best < 0 ? Infinity : kmFromDot(bestDot)), (i) => {
    const dot = idx.unit[i * 3] * u[0] + idx.unit[i * 3 + 1] * u[1] + idx.unit[i * 3 + 2] * u[2];
    if (dot > bestDot && eligible(i)) { bestDot = dot; best = i; }
  });
  return best;
}

/** Part credit a landmark earns for a pseudo-client it did not serve, × (best + 5 ms) ÷ what it got. */
const LANDMARK_NEAR_MISS_CREDIT = 0.5;

/** Landmark orders learned from the measured matrix, per node array. */
const matrixLandmarksOf = new WeakMap<readonly RouterNode[], Map<string, number[]>>();

/**
 * The first node to ping for a client that knows nothing, learned from the measured node↔node matrix:
 * every sampled node plays a client (its own RTTs to its peers are the truth; it is never its own candidate)
 * and pings a candidate landmark (then `landmarkPings` − 1 more nodes chosen by the triangle bounds as
 * pickProbeCandidates would); the landmarks are ranked by how often that finds the pseudo-client's nearest
 * peer (within 10% or 5 ms; a near miss earns part credit, so landmarks that tie on whole wins are told apart
 * by how close they came). With `landmarkPings` 1 (the default) that is the node nearest the best peer of most
 * other nodes: later pings simulated on node rows (which lack the pseudo-client's own node) chose worse first
 * pings on the real matrices. Empty when too few nodes report peer RTTs. Computed once per node array.
 */
function matrixLandmarks(nodes: readonly RouterNode[], o: Required<CandidateOptions>): number[] {
  const key = `${o.landmarkPings}:${o.landmarkCentrality}:${o.beyondWeight}:${o.triangleUpperShare}:${o.triangleLowerWeight}`;
  let byKey = matrixLandmarksOf.get(nodes);
  if (!byKey) matrixLandmarksOf.set(nodes, (byKey = new Map()));
  const cached = byKey.get(key);
  if (cached) return cached;
  const n = nodes.length;
  const peers: (Map<number, number> | undefined)[] = new Array(n);
  const withPeers: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = nodes[i].peerRttMs;
    if (!p || !nodes[i].healthy) continue;
    const m = new Map<number, number>();
    for (const id in p) {
      const j = nodeIndex(nodes, id);
      if (j >= 0 && j !== i && p[id] > 0) m.set(j, p[id]);
    }
    peers[i] = m;
    if (m.size >= 2) withPeers.push(i);
  }
  const out: number[] = [];
  byKey.set(key, out);
  if (withPeers.length < 4) return out;
  const sample = (list: number[], max: number) => {
    const step = Math.max(1, list.length / max);
    const s: number[] = [];
    for (let x = 0; x < list.length && s.length < max; x += step) s.push(list[Math.floor(x)]);
    return s;
  };
  const pseudo = sample(withPeers, 256);
  const candidates = sample(withPeers, 48);
  const on = new Float64Array(n), beyond = new Float64Array(n), hi = new Float64Array(n), seen = new Int32Array(n).fill(-1);
  let stamp = 0;
  const wins = candidates.map((L) => {
    let won = 0;
    for (const c of pseudo) {
      const row = peers[c]!;
      const first = row.get(L);
      if (c === L || first === undefined) continue;
      let best = Infinity;
      for (const d of row.values()) if (d < best) best = d;
      const probed = [L];
      let got = first;
      for (let step = 1; step < o.landmarkPings; step++) {
        stamp++;
        let pick = -1, pickScore = Infinity;
        for (const a of probed) {
          const r = row.get(a)!;
          for (const [j, d] of peers[a] ?? []) {
            if (j === c || probed.includes(j)) continue;
            if (seen[j] !== stamp) { seen[j] = stamp; on[j] = -Infinity; beyond[j] = -Infinity; hi[j] = Infinity; }
            on[j] = Math.max(on[j], r - d);
            beyond[j] = Math.max(beyond[j], d - r);
            hi[j] = Math.min(hi[j], r + d);
          }
        }
        for (const a of probed) {
          for (const j of (peers[a] ?? new Map()).keys()) {
            if (seen[j] !== stamp || !row.has(j) || probed.includes(j)) continue;
            const score = boundedScore(on[j], beyond[j], hi[j], o);
            if (score < pickScore) { pickScore = score; pick = j; }
          }
        }
        if (pick < 0) break;
        probed.push(pick);
        got = Math.min(got, row.get(pick)!);
      }
      // A near miss earns part credit: with few pseudo-clients, whole wins alone tie too often to rank by.
      if (got <= best * 1.1 || got <= best + 5) won++;
      else won += LANDMARK_NEAR_MISS_CREDIT * Math.min(1, (best + 5) / got);
    }
    return won;
  });
  // Centrality: a landmark near many nodes is near many clients too, and often their best node itself, which
  // pseudo-clients (each excluded from its own candidates) never credit; the mean of its measured row,
  // relative to the mean over all rows, costs `landmarkCentrality` × the pseudo-clients' count.
  const lam = o.landmarkCentrality;
  if (lam > 0) {
    const meanOf = (i: number) => {
      let s = 0;
      for (const d of peers[i]!.values()) s += d;
      return s / peers[i]!.size;
    };
    let all = 0;
    for (const i of withPeers) all += meanOf(i);
    all /= withPeers.length;
    if (all > 0) candidates.forEach((L, x) => { wins[x] -= (lam * pseudo.length * meanOf(L)) / all; });
  }
  const order = candidates.map((L, x) => ({ L, w: wins[x] })).sort((a, b) => b.w - a.w);
  for (const { L } of order) out.push(L);
  return out;
}

/**
 * A bounded node's estimated RTT without a geo line, from the client's profile mismatch with its row: `on`,
 * the worst r − d over probed nodes (the candidate on the way to a probed node), `beyond`, the worst d − r
 * (the candidate beyond one), and the least r + d (the upper bound). See `beyondWeight`.
 */
function boundedScore(on: number, beyond: number, hi: number, o: Required<CandidateOptions>): number {
  const mismatch = Math.max(on, 0) + o.beyondWeight * Math.max(beyond, 0);
  return Math.min(o.triangleLowerWeight * mismatch + o.triangleUpperShare * hi, hi);
}


/**
 * The shortlist (node ids) reordered by the posterior chance that pinging each brings the client within
 * 10% (or 5 ms) of its best node (see `posteriorMinMeasured`). Pseudo-clients are built over the pool of
 * shortlisted and probed nodes only, so a call costs O(pool² × pool), whatever the farm's size.
 */
function rankByCoverage(nodes: readonly RouterNode[], idx: NodeIndex, probed: readonly number[], rtts: readonly number[], shortlist: readonly string[], o: Required<CandidateOptions>, edge?: EdgeSighting): string[] {
  const cand = shortlist.map((id) => nodeIndex(nodes, id));
  const pool = [...probed, ...cand];
  const P = probed.length, m = pool.length;
  // The client's PoP, where it timed the pool's nodes: one more RTT each pseudo-client must match (λ between
  // its two nodes' RTTs to the PoP, plus its access delay), as a probed node's.
  const popRow = Float64Array.from(pool, (i) => edge?.nodeRttMs?.[nodes[i].id] ?? NaN);
  const popRtt = o.posteriorUsesPop && edge && edge.rttMs >= 0 && Number.isFinite(edge.rttMs) ? edge.rttMs : NaN;
  const popSigma = o.posteriorSigmaShare * popRtt + o.posteriorSigmaMs;
  // The node↔node RTTs of the pool: measured (either end), else the coordinates' estimate, else NaN.
  const D = new Float64Array(m * m).fill(NaN);
  for (let a = 0; a < m; a++) {
    const ia = pool[a];
    for (let b = a + 1; b < m; b++) {
      const ib = pool[b];
      let d = nodes[ia].peerRttMs?.[nodes[ib].id] ?? nodes[ib].peerRttMs?.[nodes[ia].id];
      if (d === undefined && idx.hasCoord[ia] && idx.hasCoord[ib]) d = Math.sqrt(dist2(idx, ia, idx.vec, ib * idx.dim)) + idx.height[ia] + idx.height[ib];
      if (d !== undefined && d >= 0 && Number.isFinite(d)) D[a * m + b] = D[b * m + a] = d;
    }
  }
  const sigma = rtts.map((r) => o.posteriorSigmaShare * r + o.posteriorSigmaMs);
  const x = new Float64Array(m);
  const C = cand.length;
  const score = new Float64Array(C);
  const POSTERIOR_LAMBDAS = o.posteriorLambdas, POSTERIOR_ACCESS_MS = o.posteriorAccessMs;
  // One row per pseudo-client: its log-likelihood, and which candidates would bring it within 10% / 5 ms.
  const most = ((m * (m - 1)) / 2) * POSTERIOR_LAMBDAS.length * POSTERIOR_ACCESS_MS.length;
  const lls = new Float64Array(most);
  const oks = new Uint8Array(most * C);
  let count = 0;
  let maxLl = -Infinity;
  for (let a = 0; a < m; a++) {
    for (let b = a + 1; b < m; b++) {
      const dab = D[a * m + b];
      if (Number.isNaN(dab)) continue;
      for (const lam of POSTERIOR_LAMBDAS) {
        let complete = true;
        for (let j = 0; j < m && complete; j++) {
          if (j === a) x[j] = (1 - lam) * dab;
          else if (j === b) x[j] = lam * dab;
          else {
            const v = lam * D[a * m + j] + (1 - lam) * D[b * m + j];
            if (Number.isNaN(v)) complete = false;
            x[j] = v;
          }
        }
        if (!complete) continue;
        const viaPop = lam * popRow[a] + (1 - lam) * popRow[b];
        for (const acc of POSTERIOR_ACCESS_MS) {
          let ll = 0, cur = Infinity, best = Infinity;
          if (!Number.isNaN(popRtt) && !Number.isNaN(viaPop)) {
            const z = (viaPop + acc - popRtt) / popSigma;
            ll -= Math.log1p(z * z);
          }
          for (let s = 0; s < P; s++) {
            const v = x[s] + acc;
            const z = (v - rtts[s]) / sigma[s];
            ll -= Math.log1p(z * z);
            if (v < cur) cur = v;
          }
          for (let j = 0; j < m; j++) if (x[j] + acc < best) best = x[j] + acc;
          for (let c = 0; c < C; c++) {
            const g = Math.min(cur, x[P + c] + acc);
            oks[count * C + c] = g <= best * 1.1 || g <= best + 5 ? 1 : 0;
          }
          lls[count++] = ll;
          if (ll > maxLl) maxLl = ll;
        }
      }
    }
  }
  for (let q = 0; q < count; q++) {
    const w = Math.exp(lls[q] - maxLl);
    for (let c = 0; c < C; c++) if (oks[q * C + c]) score[c] += w;
  }
  // Ties (no pseudo-client speaks for either) keep the shortlist's order.
  return cand.map((i, c) => ({ id: nodes[i].id, s: score[c], c })).sort((p, q) => q.s - p.s || p.c - q.c).map((e) => e.id);
}

/** Per node: lower and upper triangle bounds on the client's RTT (valid where boundSet is 1). */
let boundLo = new Float64Array(1024);
let boundHi = new Float64Array(1024);
let boundSet = new Uint8Array(1024);
/** Per node: the worst r − d (on the way) and d − r (beyond) over probed nodes (boundedScore). */
let boundOn = new Float64Array(1024);
let boundBeyond = new Float64Array(1024);

/** Node indexes by PoP, per node array. */
const popMembersOf = new WeakMap<readonly RouterNode[], Map<string, number[]>>();

function popMembers(nodes: readonly RouterNode[], pop: string): readonly number[] {
  let map = popMembersOf.get(nodes);
  if (!map) {
    map = new Map();
    nodes.forEach((n, i) => {
      if (!n.edge) return;
      let list = map!.get(n.edge.pop);
      if (!list) map!.set(n.edge.pop, (list = []));
      list.push(i);
    });
    popMembersOf.set(nodes, map);
  }
  return map.get(pop) ?? [];
}

/**
 * Fills boundLo/boundHi for every node the client's measurements reach through the measured matrix
 * (|r − d| ≤ RTT ≤ r + d for a probed node at r with a peer at d), and through its PoP (the client and a
 * node that reach the same PoP at r and d). Returns the indexes set; the caller clears boundSet.
 */
function triangleBounds(nodes: readonly RouterNode[], client: ProbeClient, fill?: NodeIndex): number[] {
  const n = nodes.length;
  if (boundSet.length < n) {
    const size = Math.max(n, boundSet.length * 2);
    boundLo = new Float64Array(size);
    boundHi = new Float64Array(size);
    boundSet = new Uint8Array(size);
    boundOn = new Float64Array(size);
    boundBeyond = new Float64Array(size);
  }
  const touched: number[] = [];
  const add = (j: number, r: number, d: number) => {
    if (!(d >= 0) || !Number.isFinite(d)) return;
    if (!boundSet[j]) {
      boundSet[j] = 1;
      boundLo[j] = 0;
      boundHi[j] = Infinity;
      boundOn[j] = -Infinity;
      boundBeyond[j] = -Infinity;
      touched.push(j);
    }
    const lo = Math.abs(r - d);
    if (r - d > boundOn[j]) boundOn[j] = r - d;
    if (d - r > boundBeyond[j]) boundBeyond[j] = d - r;
    if (lo > boundLo[j]) boundLo[j] = lo;
    if (r + d < boundHi[j]) boundHi[j] = r + d;
  };
  for (const id in client.measuredRttMs) {
    const r = client.measuredRttMs[id];
    if (!(r > 0) || !Number.isFinite(r)) continue;
    const a = nodeIndex(nodes, id);
    const peers = a >= 0 ? nodes[a].peerRttMs : undefined;
    if (!peers) continue;
    for (const pid in peers) {
      const j = nodeIndex(nodes, pid);
      if (j >= 0 && j !== a) add(j, r, peers[pid]);
    }
  }
  if (fill) {
    // Pairs nobody measured: the coordinates' estimate stands in for the measured RTT, so every node with a
    // coordinate gets a profile score of the same kind as its measured peers (a sparse matrix bounds only
    // some nodes per probe; the rest would be ranked by a coordinate fitted to one or two RTTs).
    const { dim, vec, height, hasCoord } = fill;
    for (const id in client.measuredRttMs) {
      const r = client.measuredRttMs[id];
      const a = nodeIndex(nodes, id);
      if (!(r > 0) || !Number.isFinite(r) || a < 0 || !hasCoord[a]) continue;
      const peers = nodes[a].peerRttMs ?? {};
      for (let j = 0; j < n; j++) {
        if (j === a || !hasCoord[j] || nodes[j].id in peers) continue;
        let s2 = 0;
        for (let k = 0; k < dim; k++) {
          const x = vec[a * dim + k] - vec[j * dim + k];
          s2 += x * x;
        }
        add(j, r, Math.sqrt(s2) + height[a] + height[j]);
      }
    }
  }
  const edge = client.edge;
  if (edge && edge.rttMs >= 0 && Number.isFinite(edge.rttMs)) {
    // The PoP's own RTTs to nodes (the edge timed their challenge pings) bound the client's RTT to each of
    // them. Nodes' own word on their RTTs to the PoP (their heartbeats' sightings) counts only while the PoP
    // has measured nothing: measured, not claimed (a node that claims to sit at the PoP, or fails to prove
    // its ping, gets no bound from its claim).
    let measuredAny = false;
    for (const id in edge.nodeRttMs ?? {}) {
      measuredAny = true;
      const j = nodeIndex(nodes, id);
      if (j >= 0) add(j, edge.rttMs, edge.nodeRttMs![id]);
    }
    if (!measuredAny) for (const j of popMembers(nodes, edge.pop)) add(j, edge.rttMs, nodes[j].edge!.rttMs);
  }
  return touched;
}

/**
 * The ids of up to `k` nodes the client should ping next, best first: healthy, not busy, able to run its
 * job, not measured yet. Serves `GET /v1/nodes/nearby` and the simulator alike.
 */
export function pickProbeCandidates(nodes: readonly RouterNode[], client: ProbeClient, k: number, options: CandidateOptions = CANDIDATE_DEFAULTS): string[] {
  const o = options === CANDIDATE_DEFAULTS ? CANDIDATE_DEFAULTS : { ...CANDIDATE_DEFAULTS, ...options };
  if (k <= 0 || nodes.length === 0) return [];
  // A PoP that serves nodes bounds the client's RTT to them already: its earlier clients add little there.
  if (!client.learned?.length || (!o.learnedWherePopServesNodes && client.edge && popMembers(nodes, client.edge.pop).length > 0)) return pickRanked(nodes, client, k, o);
  // What the PoP's earlier clients found best comes first, as far as the client has not pinged that many yet.
  const lead = learnedLead(nodes, client, Math.min(k, o.learnedProbes - Object.keys(client.measuredRttMs).length), o);
  if (lead.length >= k) return lead;
  const rest = pickRanked(nodes, { ...client, learned: undefined, exclude: [...(client.exclude ?? []), ...lead] }, k - lead.length, o);
  return [...lead, ...rest];
}

/** Up to `k` of the client's learned nodes, in order: eligible, not measured, not excluded. */
function learnedLead(nodes: readonly RouterNode[], client: ProbeClient, k: number, o: Required<CandidateOptions>): string[] {
  const out: string[] = [];
  if (k <= 0) return out;
  const skip = new Set(client.exclude ?? []);
  for (const id of client.learned ?? []) {
    if (out.length >= k) break;
    if (skip.has(id) || id in client.measuredRttMs || out.includes(id)) continue;
    const i = nodeIndex(nodes, id);
    if (i < 0) continue;
    const node = nodes[i];
    const req = client.requirements;
    if (node.healthy && node.card.tilesPerSecond > 0 && !isBusy(node.load, o.maxQueuePerSlot) && (!req || meetsRequirements(node.card, req))) out.push(id);
  }
  return out;
}

/** pickProbeCandidates without the learned lead. */
function pickRanked(nodes: readonly RouterNode[], client: ProbeClient, k: number, o: Required<CandidateOptions>): string[] {
  const idx = indexFor(nodes);
  if (o.posteriorMinMeasured > 0 && !isGeoPoint(client.location) && idx.lines === 0) {
    const probed: number[] = [];
    const rtts: number[] = [];
    for (const id in client.measuredRttMs) {
      const r = client.measuredRttMs[id];
      const i = nodeIndex(nodes, id);
      if (i >= 0 && r > 0 && Number.isFinite(r)) { probed.push(i); rtts.push(r); }
    }
    // The client's RTT to its PoP counts as one more where the PoP timed the nodes (the ranking matches it too).
    const pop = client.edge;
    const popCounts = o.posteriorUsesPop && pop?.nodeRttMs && Number.isFinite(pop.rttMs) && pop.rttMs >= o.posteriorPopMinRttMs && Object.keys(pop.nodeRttMs).length > 0 ? 1 : 0;
    if (probed.length > 0 && probed.length + popCounts >= o.posteriorMinMeasured) {
      const shortlist = pickRanked(nodes, client, Math.max(k, o.posteriorShortlist), { ...o, posteriorMinMeasured: 0 });
      return shortlist.length <= k ? shortlist : rankByCoverage(nodes, idx, probed, rtts, shortlist, o, client.edge).slice(0, k);
    }
  }
  const req = client.requirements;
  if (skipFlag.length < idx.n) skipFlag = new Uint8Array(Math.max(idx.n, skipFlag.length * 2));
  const marked: number[] = [];
  const mark = (id: string) => {
    const i = nodeIndex(nodes, id);
    if (i >= 0 && !skipFlag[i]) { skipFlag[i] = 1; marked.push(i); }
  };
  for (const id in client.measuredRttMs) mark(id);
  for (const id of client.exclude ?? []) mark(id);
  const maxQ = o.maxQueuePerSlot;
  // Checked only for nodes that would make the top k, so the loops below mostly touch typed arrays.
  const eligible = (i: number): boolean => {
    if (skipFlag[i]) return false;
    const node = nodes[i];
    return node.healthy && node.card.tilesPerSecond > 0 && !isBusy(node.load, maxQ) && (!req || meetsRequirements(node.card, req));
  };
  const top = new Int32Array(k).fill(-1);
  const topScore = new Float64Array(k).fill(Infinity);
  const offer = (i: number, score: number) => {
    if (!(score < topScore[k - 1]) || !eligible(i)) return;
    // A node offered twice (by a scan and by its bounds) keeps its better score.
    let p = k - 1;
    for (let t = 0; t < k; t++) {
      if (top[t] !== i) continue;
      if (topScore[t] <= score) return;
      p = t;
      break;
    }
    while (p > 0 && topScore[p - 1] > score) { topScore[p] = topScore[p - 1]; top[p] = top[p - 1]; p--; }
    topScore[p] = score; top[p] = i;
  };

  // Triangle bounds from the measured matrix: the client's RTT to a probed node and that node's RTTs to its
  // peers (and its RTT to its PoP and other nodes' RTTs to the same PoP) bound its RTT to those peers.
  const bounded = triangleBounds(nodes, client, idx.n <= o.coordinateFillMaxNodes && !isGeoPoint(client.location) && idx.lines === 0 ? idx : undefined);
  const w = o.triangleLowerWeight;
  /** Bounded nodes: a geo line's estimate kept within the bounds; a coordinate estimate (or none) gives way to them. */
  let fromLine = false;
  const clamp = (i: number, score: number): number => {
    if (!boundSet[i]) return score;
    if (fromLine && Number.isFinite(score)) return Math.min(Math.max(score, w * boundLo[i]), boundHi[i]);
    return boundedScore(boundOn[i], boundBeyond[i], boundHi[i], o);
  };

  // An unlocated client that measured located nodes gets a location guessed from those RTTs.
  const guessed = !isGeoPoint(client.location) && marked.length > 0 ? estimateClientLocation(nodes, client, o) : undefined;
  const line = clientGeoLine(nodes, guessed ? { ...client, location: guessed } : client, o);
  const hasSamples = marked.length > 0 && Object.keys(client.measuredRttMs).length > 0;
  // A coordinate is needed unless every node is ranked by its line.
  const coord = (hasSamples || client.coord) && !(line && idx.lines === idx.n) ? locateClient(nodes, client, o) : undefined;
  const { unit, hasLine, hasCoord, lineA, lineS, height } = idx;
  if (o.geoNearestFirst && isGeoPoint(client.location) && !hasSamples) {
    // Unless measurements (the PoP's row) prove it cannot be the best: a node's claimed location is only a claim.
    const near = nearestEligibleByKm(idx, client.location, eligible);
    let minHi = Infinity;
    for (const i of bounded) if (boundHi[i] < minHi && eligible(i)) minHi = boundHi[i];
    if (near >= 0 && !(boundSet[near] && w * boundLo[near] > minHi)) offer(near, -Infinity);
  }
  /** The estimate of the client's RTT to node i before the bounds (Infinity: no estimate). */
  let base: (i: number) => number = () => Infinity;
  if (line) {
    const u = geoUnitVector(guessed ?? client.location!, new Float64Array(3));
    fromLine = true;
    base = (i) => {
      if (!hasLine[i]) return coord && hasCoord[i] ? Math.sqrt(dist2(idx, i, coord.vec)) + coord.height + height[i] : Infinity;
      const dot = unit[i * 3] * u[0] + unit[i * 3 + 1] * u[1] + unit[i * 3 + 2] * u[2];
      return line.interceptMs + lineA[i] + (kmFromDot(dot) * (line.msPerKm + lineS[i])) / 2;
    };
    const lineScore = (i: number) => {
      const score = clamp(i, base(i));
      if (score < topScore[k - 1]) offer(i, score);
    };
    const grid = gridFor(idx);
    for (const i of grid.unlocated) lineScore(i);
    scanGrid(idx, u, (cell, minKm) => line.interceptMs + grid.minA[cell] + (minKm * (line.msPerKm + grid.minS[cell])) / 2, () => topScore[k - 1], lineScore);
  } else if (coord) {
    const dim = idx.dim;
    const vec = idx.vec;
    const cv = Float64Array.from({ length: dim }, (_, d) => coord.vec[d] ?? 0);
    const minHeight = derivedFor(idx, o).minHeight;
    base = (i) => {
      if (!hasCoord[i]) return Infinity;
      const b0 = i * dim;
      let s2 = 0;
      for (let d = 0; d < dim; d++) {
        const x = vec[b0 + d] - cv[d];
        s2 += x * x;
      }
      return Math.sqrt(s2) + height[i];
    };
    scanNearest(idx, cv, minHeight, () => topScore[k - 1], (i) => {
      const score = clamp(i, base(i));
      if (score < topScore[k - 1]) offer(i, score);
    });
  } else if (isGeoPoint(client.location)) {
    const u = geoUnitVector(client.location, new Float64Array(3));
    const msPerKm = derivedFor(idx, o).msPerKm;
    const grid = gridFor(idx);
    base = (i) => {
      if (!idx.hasLoc[i]) return Infinity;
      const dot = unit[i * 3] * u[0] + unit[i * 3 + 1] * u[1] + unit[i * 3 + 2] * u[2];
      return kmFromDot(dot) * msPerKm + (hasCoord[i] ? height[i] : 0);
    };
    scanGrid(idx, u, (cell, minKm) => minKm * msPerKm + grid.minH[cell], () => topScore[k - 1], (i) => {
      const score = clamp(i, base(i));
      if (score < topScore[k - 1]) offer(i, score);
    });
  } else if (bounded.length === 0) {
    // Nothing known: the landmarks learned from the measured matrix, else those from the coordinates.
    const learned = matrixLandmarks(nodes, o);
    const landmarks = learned.length ? learned : derivedFor(idx, o).landmarks;
    let rank = 0;
    for (const i of landmarks) if (eligible(i)) offer(i, rank++);
  }
  // Nodes the bounds speak for, whether or not the scans above reached them (a low upper bound can make a
  // node whose estimate was pruned the best candidate).
  for (const i of bounded) {
    const score = clamp(i, base(i));
    if (score < topScore[k - 1]) offer(i, score);
  }
  for (const i of bounded) boundSet[i] = 0;
  // Too few ranked (no coordinates yet, say): fill with any eligible nodes in list order.
  const out: string[] = [];
  for (let t = 0; t < k; t++) if (top[t] >= 0) { out.push(nodes[top[t]].id); skipFlag[top[t]] = 1; marked.push(top[t]); }
  for (let i = 0; i < idx.n && out.length < k; i++) if (eligible(i)) { out.push(nodes[i].id); skipFlag[i] = 1; marked.push(i); }
  for (const i of marked) skipFlag[i] = 0;
  return out;
}
