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
import { meetsRequirements, type JobRequirements } from './requirements.ts';
import { isBusy, nodeIndex, ROUTE_DEFAULTS, type ClientView, type RouterNode } from './router.ts';
import { VIVALDI_DEFAULTS, type Coordinate } from './vivaldi.ts';

/** A client asking whom to probe: what it measured so far, and what it knows of itself. */
export interface ProbeClient extends ClientView {
  /** Only nodes that can run the client's job are worth probing. */
  readonly requirements?: JobRequirements;
  /** Node ids never to return (a node choosing neighbours excludes itself). */
  readonly exclude?: readonly string[];
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
  const idx = indexFor(nodes);
  const u = geoUnitVector(location, new Float64Array(3));
  let best = -1, bestDot = -2;
  scanGrid(idx, u, (_cell, minKm) => minKm, () => (best < 0 ? Infinity : kmFromDot(bestDot)), (i) => {
    const dot = idx.unit[i * 3] * u[0] + idx.unit[i * 3 + 1] * u[1] + idx.unit[i * 3 + 2] * u[2];
    if (dot > bestDot && nodes[i].healthy) { bestDot = dot; best = i; }
  });
  return best < 0 ? undefined : nodes[best].id;
}

/**
 * The ids of up to `k` nodes the client should ping next, best first: healthy, not busy, able to run its
 * job, not measured yet. Serves `GET /v1/nodes/nearby` and the simulator alike.
 */
export function pickProbeCandidates(nodes: readonly RouterNode[], client: ProbeClient, k: number, options: CandidateOptions = CANDIDATE_DEFAULTS): string[] {
  const o = options === CANDIDATE_DEFAULTS ? CANDIDATE_DEFAULTS : { ...CANDIDATE_DEFAULTS, ...options };
  if (k <= 0 || nodes.length === 0) return [];
  const idx = indexFor(nodes);
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
    let p = k - 1;
    while (p > 0 && topScore[p - 1] > score) { topScore[p] = topScore[p - 1]; top[p] = top[p - 1]; p--; }
    topScore[p] = score; top[p] = i;
  };

  // An unlocated client that measured located nodes gets a location guessed from those RTTs.
  const guessed = !isGeoPoint(client.location) && marked.length > 0 ? estimateClientLocation(nodes, client, o) : undefined;
  const line = clientGeoLine(nodes, guessed ? { ...client, location: guessed } : client, o);
  const hasSamples = marked.length > 0 && Object.keys(client.measuredRttMs).length > 0;
  // A coordinate is needed unless every node is ranked by its line.
  const coord = (hasSamples || client.coord) && !(line && idx.lines === idx.n) ? locateClient(nodes, client, o) : undefined;
  const { unit, hasLine, hasCoord, lineA, lineS, height } = idx;
  if (line) {
    const u = geoUnitVector(guessed ?? client.location!, new Float64Array(3));
    const bar = () => topScore[k - 1];
    const lineScore = (i: number) => {
      if (!hasLine[i]) {
        if (coord && hasCoord[i]) offer(i, Math.sqrt(dist2(idx, i, coord.vec)) + coord.height + height[i]);
        return;
      }
      const dot = unit[i * 3] * u[0] + unit[i * 3 + 1] * u[1] + unit[i * 3 + 2] * u[2];
      const score = line.interceptMs + lineA[i] + (kmFromDot(dot) * (line.msPerKm + lineS[i])) / 2;
      if (score < topScore[k - 1]) offer(i, score);
    };
    const grid = gridFor(idx);
    for (const i of grid.unlocated) lineScore(i);
    scanGrid(idx, u, (cell, minKm) => line.interceptMs + grid.minA[cell] + (minKm * (line.msPerKm + grid.minS[cell])) / 2, bar, lineScore);
  } else if (coord) {
    const dim = idx.dim;
    const vec = idx.vec;
    const cv = Float64Array.from({ length: dim }, (_, d) => coord.vec[d] ?? 0);
    const minHeight = derivedFor(idx, o).minHeight;
    scanNearest(idx, cv, minHeight, () => topScore[k - 1], (i) => {
      const base = i * dim;
      let s2 = 0;
      for (let d = 0; d < dim; d++) {
        const x = vec[base + d] - cv[d];
        s2 += x * x;
      }
      const score = Math.sqrt(s2) + height[i];
      if (score < topScore[k - 1]) offer(i, score);
    });
  } else if (isGeoPoint(client.location)) {
    const u = geoUnitVector(client.location, new Float64Array(3));
    const msPerKm = derivedFor(idx, o).msPerKm;
    const grid = gridFor(idx);
    scanGrid(idx, u, (cell, minKm) => minKm * msPerKm + grid.minH[cell], () => topScore[k - 1], (i) => {
      const dot = unit[i * 3] * u[0] + unit[i * 3 + 1] * u[1] + unit[i * 3 + 2] * u[2];
      const score = kmFromDot(dot) * msPerKm + (hasCoord[i] ? height[i] : 0);
      if (score < topScore[k - 1]) offer(i, score);
    });
  } else {
    const { landmarks } = derivedFor(idx, o);
    let rank = 0;
    for (const i of landmarks) if (eligible(i)) offer(i, rank++);
  }
  // Too few ranked (no coordinates yet, say): fill with any eligible nodes in list order.
  const out: string[] = [];
  for (let t = 0; t < k; t++) if (top[t] >= 0) { out.push(nodes[top[t]].id); skipFlag[top[t]] = 1; marked.push(top[t]); }
  for (let i = 0; i < idx.n && out.length < k; i++) if (eligible(i)) { out.push(nodes[i].id); skipFlag[i] = 1; marked.push(i); }
  for (const i of marked) skipFlag[i] = 0;
  return out;
}
