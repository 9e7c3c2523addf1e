/**
 * The router: each task goes to the capable node with the earliest expected finish,
 *   score = RTT(client, node) + queue wait + expected render time (+ expected scene load, 0 on a node that
 *   holds the task's scene, when the request names the scene),
 * where the RTT is the client's measurement when it probed the node, else the network-coordinate
 * estimate made pessimistic by the coordinates' error (a measurement beats a guess unless the guess is
 * clearly better). Unhealthy, busy and incapable nodes are never chosen. Ties go to a random node (seeded
 * by the caller's rng); the runner-up is kept as the fallback.
 *
 * Hot path: one pass over the nodes with no allocation per node (module-scope scratch arrays). On a frozen
 * snapshot (freezeRouterNodes) the pass reads typed arrays only: ~0.25 ms for 10,000 nodes here.
 */
import type { NodeCard } from '../../protocol/node-card.ts';
import type { GeoPoint } from './geo.ts';
import type { GeoLine } from './geo-line.ts';
import { indexNodes, routingArraysFor } from './node-index.ts';
import { meetsRequirements, type TaskRequirements } from './requirements.ts';
import type { Random } from './seeded-random.ts';
import type { Coordinate } from './vivaldi.ts';

/** Pixels of the reference tile that `tilesPerSecond` on the card was measured on (256×256). */
export const REFERENCE_TILE_PIXELS = 256 * 256;

/** A node's work in hand, from its heartbeats and the leases the API handed out. */
export interface NodeLoad {
  /** Tasks leased to it and not started. */
  readonly queued: number;
  /** Tasks it is rendering now. */
  readonly running: number;
  /** Tasks it renders at once (the card's concurrency unless the node said otherwise). */
  readonly concurrency: number;
}

/** What the router knows about one registered node. */
export interface RouterNode {
  readonly id: string;
  readonly card: NodeCard;
  /** False when heartbeats stopped, or the node failed its checks. */
  readonly healthy: boolean;
  readonly load: NodeLoad;
  /** Its network coordinate; absent until it has one. */
  readonly coord?: Coordinate;
  /** Where it says it is; used only to choose probe candidates, never to route. */
  readonly location?: GeoPoint;
  /** Its RTT-versus-distance line (fitGeoLines), with `location`: ranks probe candidates for located clients. */
  readonly geoLine?: GeoLine;
  /**
   * Filtered RTTs (ms) it measured to other nodes, or they to it, by node id: the measured matrix (not only
   * the coordinates fitted to it). A client's RTT to one of these peers bounds its RTT to the others.
   */
  readonly peerRttMs?: Readonly<Record<string, number>>;
  /** The edge location (PoP) its requests reach, and its RTT to it. */
  readonly edge?: EdgeSighting;
}

/** An edge location (Cloudflare colo, or a simulated PoP) and the RTT (ms) one host measured to it. */
export interface EdgeSighting {
  readonly pop: string;
  readonly rttMs: number;
  /** Where the PoP is, when known (the colo table). */
  readonly location?: GeoPoint;
  /** RTTs the PoP itself measured to nodes (ms by node id): the edge as a landmark with a bound on each. */
  readonly nodeRttMs?: Readonly<Record<string, number>>;
}

/**
 * A RouterNode with every field present, in one fixed order. Nodes built here share one hidden class, which
 * keeps the router's loop over 10,000 of them monomorphic (objects of mixed shapes made it ten times slower).
 * The load object is kept as given (callers may update it in place).
 */
export function createRouterNode(fields: RouterNode): RouterNode {
  return {
    id: fields.id,
    card: fields.card,
    healthy: fields.healthy,
    load: fields.load,
    coord: fields.coord,
    location: fields.location,
    geoLine: fields.geoLine,
    peerRttMs: fields.peerRttMs,
    edge: fields.edge,
  };
}

/**
 * A frozen snapshot of the nodes: fresh copies (one shape), frozen with their coordinates, locations, lines
 * and loads. Routing and candidate searches index a frozen snapshot once into typed arrays (cards are read
 * then too: replace a card, never edit one in place) instead of checking a live array for changes on every
 * call: build one after changes (the API after heartbeats, the simulator after each convergence step).
 */
export function freezeRouterNodes(nodes: readonly RouterNode[]): readonly RouterNode[] {
  const out: RouterNode[] = [];
  for (const n of nodes) {
    const c = n.coord;
    out.push(
      Object.freeze(
        createRouterNode({
          id: n.id,
          card: n.card,
          healthy: n.healthy,
          load: Object.freeze({ queued: n.load.queued, running: n.load.running, concurrency: n.load.concurrency }),
          // Not coord.vec: a frozen number array loses its unboxed doubles (slower reads); its type is readonly.
          coord: c ? Object.freeze({ vec: c.vec, height: c.height, error: c.error }) : undefined,
          location: n.location ? Object.freeze({ lat: n.location.lat, lon: n.location.lon }) : undefined,
          geoLine: n.geoLine ? Object.freeze({ interceptMs: n.geoLine.interceptMs, msPerKm: n.geoLine.msPerKm }) : undefined,
          peerRttMs: n.peerRttMs ? Object.freeze({ ...n.peerRttMs }) : undefined,
          edge: n.edge ? Object.freeze({ ...n.edge }) : undefined,
        }),
      ),
    );
  }
  return Object.freeze(out);
}

/** What the router knows about the client a task's results go to. */
export interface ClientView {
  /** Filtered RTTs (ms) the client measured to nodes, by node id. */
  readonly measuredRttMs: Readonly<Record<string, number>>;
  /** The client's network coordinate (session, or fitted from its probes by locateClient). */
  readonly coord?: Coordinate;
  readonly location?: GeoPoint;
  /** The edge location its requests reach and its RTT to it (`GET /v1/edge/ping`, timed by the client). */
  readonly edge?: EdgeSighting;
}

export interface RouteRequest {
  readonly requirements?: TaskRequirements;
  readonly client: ClientView;
  /** Pixels the task renders (tile width × height). */
  readonly taskPixels: number;
  /**
   * The task's scene: its size, and the nodes believed to hold it already (their heartbeats' scene caches, a
   * hint). Every other node's score gains the expected scene load (sceneLoadMs).
   */
  readonly scene?: { readonly bytes: number; readonly cachedOn: ReadonlySet<string> };
}

/** Where the RTT in a decision came from. */
export type RttSource = 'measured' | 'estimated' | 'unknown';

export interface RouteDecision {
  nodeId: string;
  /** The runner-up, to use if the chosen node refuses or fails; null when no other node can run the task. */
  fallbackId: string | null;
  predictedRttMs: number;
  rttSource: RttSource;
  queueMs: number;
  renderMs: number;
  /** Expected scene load on the chosen node: 0 when it holds the scene (or the request named none). */
  sceneLoadMs: number;
  /** predictedRttMs + queueMs + renderMs + sceneLoadMs: the expected finish (ms from now). */
  score: number;
  fallbackScore: number | null;
  /** Nodes that could run the task. */
  capable: number;
  /** Nodes passed over, by reason. */
  skipped: { unhealthy: number; busy: number; incapable: number; tooFar: number };
  /** One sentence: why this node. */
  reason: string;
}

export interface RouteOptions {
  /** A node whose queue holds this many tasks per slot is busy and gets no more. */
  maxQueuePerSlot?: number;
  /** Scores closer than this (ms) are a tie, broken at random. */
  tieMs?: number;
  /**
   * An estimated RTT counts as estimate × (1 + estimatePenalty × mean coordinate error of the pair): a
   * measurement beats an estimate unless the estimate is clearly better. Vivaldi's error figure is an
   * average over all its links and understates the error on short ones, hence the factor. On real RTT
   * matrices (test/routing/data) coordinates mislead more than on synthetic ones: 12, not 4, stops the
   * router from trading a measured node for an estimated one that turns out slower.
   */
  estimatePenalty?: number;
  /** Coordinate errors above this are capped when computing the penalty. */
  maxPenaltyError?: number;
  /** The RTT assumed (ms) for a node the client neither measured nor can estimate. */
  unknownRttMs?: number;
  /** Fixed cost (ms) of loading a scene a node does not hold (download start, parse, GPU upload). */
  sceneLoadBaseMs?: number;
  /** Scene download + parse throughput (bytes per ms), for the size-dependent part of a scene load. */
  sceneBytesPerMs?: number;
}

export const ROUTE_DEFAULTS: Required<RouteOptions> = {
  maxQueuePerSlot: 4,
  tieMs: 0.1,
  estimatePenalty: 12,
  maxPenaltyError: 1,
  unknownRttMs: 100,
  sceneLoadBaseMs: 150,
  sceneBytesPerMs: 20_000, // 20 MB/s
};

/** Expected time (ms) to load a scene of `bytes` on a node that does not hold it. */
export function sceneLoadMs(bytes: number, options: RouteOptions = ROUTE_DEFAULTS): number {
  const o = options === ROUTE_DEFAULTS ? ROUTE_DEFAULTS : { ...ROUTE_DEFAULTS, ...options };
  return o.sceneLoadBaseMs + bytes / o.sceneBytesPerMs;
}

/** Expected time (ms) for a node with this card to render `pixels`; Infinity when it has no measured speed. */
export function expectedRenderMs(card: NodeCard, pixels: number): number {
  return card.tilesPerSecond > 0 ? (1000 * pixels) / REFERENCE_TILE_PIXELS / card.tilesPerSecond : Infinity;
}

/**
 * Expected wait (ms) before a new task starts: zero with a free slot, else the tasks ahead of it beyond the
 * free slots, drained `concurrency` at a time, each taking about `renderMs` (queued tasks' sizes are unknown).
 */
export function expectedQueueMs(load: NodeLoad, renderMs: number): number {
  const slots = Math.max(1, load.concurrency);
  const ahead = load.queued + load.running - slots + 1;
  return ahead > 0 ? (ahead / slots) * renderMs : 0;
}

/** Whether the node's queue is full (it takes no more tasks until it drains). */
export function isBusy(load: NodeLoad, maxQueuePerSlot: number): boolean {
  return load.queued >= maxQueuePerSlot * Math.max(1, load.concurrency);
}

// ---- scratch shared by calls (the router never awaits, so calls cannot interleave) ----
let measuredFlag = new Uint8Array(1024);
let measuredRtt = new Float64Array(1024);
/** 1 for nodes that hold the request's scene (only set while a call with `scene` runs). */
let cachedFlag = new Uint8Array(1024);
/** Nodes the client's edge row bounds (edgeBound), and the bounds. */
let boundFlag = new Uint8Array(1024);
let boundLo = new Float64Array(1024);
let boundHi = new Float64Array(1024);
const indexCache = new WeakMap<readonly RouterNode[], Map<string, number>>();
/** A PoP row's entries as node indexes and RTTs, per row object and node array (rows are reused across decisions). */
const rowIndexCache = new WeakMap<object, WeakMap<readonly RouterNode[], { at: Int32Array; rtt: Float64Array }>>();

/** The valid entries of a PoP row (known nodes, finite RTTs ≥ 0) as node indexes and RTTs. */
function rowIndex(nodes: readonly RouterNode[], row: Readonly<Record<string, number>>): { at: Int32Array; rtt: Float64Array } {
  let byNodes = rowIndexCache.get(row);
  const hit = byNodes?.get(nodes);
  if (hit) return hit;
  const at: number[] = [];
  const rtt: number[] = [];
  for (const id in row) {
    const d = row[id];
    const i = nodeIndex(nodes, id);
    if (i < 0 || !(d >= 0) || !Number.isFinite(d)) continue;
    at.push(i);
    rtt.push(d);
  }
  const out = { at: Int32Array.from(at), rtt: Float64Array.from(rtt) };
  if (!byNodes) rowIndexCache.set(row, (byNodes = new WeakMap()));
  byNodes.set(nodes, out);
  return out;
}

/**
 * The index of node `id` in `nodes` (-1 when absent), via a map cached per array. The map is checked on
 * every hit and rebuilt when the array changed under it, so callers may mutate their node list.
 */
export function nodeIndex(nodes: readonly RouterNode[], id: string): number {
  const map = indexCache.get(nodes);
  const i = map?.get(id);
  if (i !== undefined && nodes[i]?.id === id) return i;
  if (map && i === undefined) {
    // Absent from the map: a plain scan (cheap) decides whether the map is stale.
    let found = -1;
    for (let j = 0; j < nodes.length; j++) if (nodes[j].id === id) { found = j; break; }
    if (found < 0) return -1;
  }
  const fresh = new Map<string, number>();
  for (let j = 0; j < nodes.length; j++) fresh.set(nodes[j].id, j);
  indexCache.set(nodes, fresh);
  return fresh.get(id) ?? -1;
}

/** The RTT (ms) the router would predict between the client and one node, and where it came from. */
export function predictRtt(node: RouterNode, client: ClientView, options: RouteOptions = ROUTE_DEFAULTS): { rttMs: number; source: RttSource } {
  const o = options === ROUTE_DEFAULTS ? ROUTE_DEFAULTS : { ...ROUTE_DEFAULTS, ...options };
  const m = client.measuredRttMs[node.id];
  if (m !== undefined && m > 0) return { rttMs: m, source: 'measured' };
  const a = client.coord;
  const b = node.coord;
  const bound = edgeBound(client, node.id);
  if (!a || !b) return bound ? { rttMs: bound.hi, source: 'estimated' } : { rttMs: o.unknownRttMs, source: 'unknown' };
  const err = Math.min(o.maxPenaltyError, (a.error + b.error) / 2);
  const n = Math.min(a.vec.length, b.vec.length);
  let s = 0;
  for (let i = 0; i < n; i++) s += (a.vec[i] - b.vec[i]) ** 2;
  const est = (Math.sqrt(s) + a.height + b.height) * (1 + o.estimatePenalty * err);
  return { rttMs: bound ? Math.min(Math.max(est, bound.lo), bound.hi) : est, source: 'estimated' };
}

/**
 * The client's edge row as a bound on its RTT to one node: the client reaches its PoP in r ms, the PoP timed
 * the node at d ms (the edge's own proven measurement, EdgeSighting.nodeRttMs), so |r − d| ≤ RTT ≤ r + d.
 * Undefined without a row entry for the node.
 */
export function edgeBound(client: ClientView, nodeId: string): { lo: number; hi: number } | undefined {
  const e = client.edge;
  const d = e?.nodeRttMs?.[nodeId];
  if (!e || d === undefined || !(d >= 0) || !Number.isFinite(d) || !(e.rttMs >= 0) || !Number.isFinite(e.rttMs)) return undefined;
  return { lo: Math.abs(e.rttMs - d), hi: e.rttMs + d };
}

/**
 * Chooses the node for one task: the capable node with the earliest expected finish, or null when no
 * node can take it (see {@link explainNoRoute}). `rng` breaks ties (pass a seeded one for repeatable runs).
 */
export function routeTask(nodes: readonly RouterNode[], request: RouteRequest, rng: Random, options: RouteOptions = ROUTE_DEFAULTS): RouteDecision | null {
  const o = options === ROUTE_DEFAULTS ? ROUTE_DEFAULTS : { ...ROUTE_DEFAULTS, ...options };
  const { client, requirements: req, taskPixels } = request;
  const n = nodes.length;
  if (measuredFlag.length < n) {
    measuredFlag = new Uint8Array(Math.max(n, measuredFlag.length * 2));
    measuredRtt = new Float64Array(measuredFlag.length);
    cachedFlag = new Uint8Array(measuredFlag.length);
    boundFlag = new Uint8Array(measuredFlag.length);
    boundLo = new Float64Array(measuredFlag.length);
    boundHi = new Float64Array(measuredFlag.length);
  }
  // The scene term: nodes holding the scene load nothing, the others the expected scene load.
  const loadMs = request.scene ? sceneLoadMs(request.scene.bytes, o) : 0;
  const cachedMarked: number[] = [];
  if (request.scene) {
    for (const id of request.scene.cachedOn) {
      const i = nodeIndex(nodes, id);
      if (i < 0) continue;
      cachedFlag[i] = 1;
      cachedMarked.push(i);
    }
  }
  // Mark the measured nodes once, so the loop needs no string lookups.
  const marked: number[] = [];
  for (const id in client.measuredRttMs) {
    const v = client.measuredRttMs[id];
    if (!(v > 0) || !Number.isFinite(v)) continue;
    const i = nodeIndex(nodes, id);
    if (i < 0) continue;
    measuredFlag[i] = 1;
    measuredRtt[i] = v;
    marked.push(i);
  }
  // The edge's RTTs to nodes bound the client's RTT to the nodes it did not measure (edgeBound).
  const bounded: number[] = [];
  const e = client.edge;
  if (e?.nodeRttMs && e.rttMs >= 0 && Number.isFinite(e.rttMs)) {
    const { at, rtt } = rowIndex(nodes, e.nodeRttMs);
    const r = e.rttMs;
    for (let k = 0; k < at.length; k++) {
      const i = at[k];
      if (measuredFlag[i] === 1) continue;
      const d = rtt[k];
      boundFlag[i] = 1;
      boundLo[i] = r > d ? r - d : d - r;
      boundHi[i] = r + d;
      bounded.push(i);
    }
  }
  const cc = client.coord;
  const cv = cc ? cc.vec : undefined;
  const ch = cc ? cc.height : 0;
  const ce = cc ? cc.error : 0;
  const maxRtt = req?.maxRttMs ?? Infinity;
  const checkCard = req !== undefined && (req.webgl2 === true || req.minRamBytes !== undefined || req.minTextureSize !== undefined || (req.allowedRegions?.length ?? 0) > 0 || (req.deniedRegions?.length ?? 0) > 0);
  const maxQueuePerSlot = o.maxQueuePerSlot, tieMs = o.tieMs, penalty = o.estimatePenalty, maxErr = o.maxPenaltyError, unknownRtt = o.unknownRttMs;
  const pixelsMs = (1000 * taskPixels) / REFERENCE_TILE_PIXELS;

  let best = -1, second = -1, ties = 0;
  let bestScore = Infinity, secondScore = Infinity;
  let unhealthy = 0, busy = 0, incapable = 0, tooFar = 0, capable = 0;
  /** Keeps the best two; called only for scores that can enter them. */
  const consider = (i: number, score: number) => {
    if (score < bestScore - tieMs) {
      second = best; secondScore = bestScore;
      best = i; bestScore = score; ties = 1;
    } else if (score <= bestScore + tieMs) {
      // Reservoir sampling keeps every tied node equally likely to win.
      ties++;
      if (rng() * ties < 1) {
        second = best; secondScore = bestScore;
        best = i; bestScore = score;
      } else if (second < 0 || score < secondScore - tieMs || rng() < 0.5) {
        second = i; secondScore = score;
      }
    } else if (score < secondScore) {
      second = i; secondScore = score;
    }
  };

  // A frozen snapshot has typed arrays of everything the loop reads (contiguous, no pointer chasing).
  const idx = Object.isFrozen(nodes) ? indexNodes(nodes) : null;
  const arrays = idx ? routingArraysFor(idx, nodes) : null;
  if (idx && arrays) {
    const dim = idx.dim, ivec = idx.vec, iheight = idx.height, ierror = idx.error, ihas = idx.hasCoord;
    const { healthy, tilesPerSecond, queued, running, slots: slotsOf, ramBytes, maxTextureSize, webgl2, region, regions } = arrays;
    const cvf = new Float64Array(dim);
    if (cv) for (let k = 0; k < dim; k++) cvf[k] = cv[k] ?? 0;
    // Requirements compiled to numbers and region flags.
    const minRam = req?.minRamBytes ?? -Infinity;
    const minTex = req?.minTextureSize ?? -Infinity;
    const needsWebgl2 = req?.webgl2 === true;
    let regionOk: Uint8Array | null = null;
    if (checkCard && ((req!.allowedRegions?.length ?? 0) > 0 || (req!.deniedRegions?.length ?? 0) > 0)) {
      regionOk = new Uint8Array(regions.size).fill(req!.allowedRegions?.length ? 0 : 1);
      for (const name of req!.allowedRegions ?? []) { const r = regions.get(name); if (r !== undefined) regionOk[r] = 1; }
      for (const name of req!.deniedRegions ?? []) { const r = regions.get(name); if (r !== undefined) regionOk[r] = 0; }
    }
    for (let i = 0; i < n; i++) {
      if (healthy[i] === 0) { unhealthy++; continue; }
      const tps = tilesPerSecond[i];
      if (tps <= 0 || ramBytes[i] < minRam || maxTextureSize[i] < minTex || (needsWebgl2 && webgl2[i] === 0) || (regionOk !== null && regionOk[region[i]] === 0)) { incapable++; continue; }
      const slots = slotsOf[i];
      if (queued[i] >= maxQueuePerSlot * slots) { busy++; continue; }
      let rtt: number;
      let known = true;
      if (measuredFlag[i] === 1) rtt = measuredRtt[i];
      else if (cv === undefined || ihas[i] === 0) {
        rtt = unknownRtt;
        known = false;
        if (boundFlag[i] === 1) { rtt = boundHi[i]; known = true; }
      } else {
        const base = i * dim;
        let s = 0;
        for (let k = 0; k < dim; k++) { const x = cvf[k] - ivec[base + k]; s += x * x; }
        let err = (ce + ierror[i]) * 0.5;
        if (err > maxErr) err = maxErr;
        rtt = (Math.sqrt(s) + ch + iheight[i]) * (1 + penalty * err);
        if (boundFlag[i] === 1) rtt = rtt < boundLo[i] ? boundLo[i] : rtt > boundHi[i] ? boundHi[i] : rtt;
      }
      // An unknown RTT cannot be shown to meet maxRttMs.
      if (rtt > maxRtt || (!known && maxRtt !== Infinity)) { tooFar++; continue; }
      capable++;
      const renderMs = pixelsMs / tps;
      const ahead = queued[i] + running[i] - slots + 1;
      const score = rtt + (ahead > 0 ? (ahead / slots) * renderMs : 0) + renderMs + (cachedFlag[i] === 1 ? 0 : loadMs);
      if (score <= secondScore + tieMs) consider(i, score);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const node = nodes[i];
      if (!node.healthy) { unhealthy++; continue; }
      const card = node.card;
      if (card.tilesPerSecond <= 0 || (checkCard && !meetsRequirements(card, req))) { incapable++; continue; }
      const load = node.load;
      const slots = load.concurrency > 1 ? load.concurrency : 1;
      if (load.queued >= maxQueuePerSlot * slots) { busy++; continue; }
      let rtt: number;
      let known = true;
      const nc = node.coord;
      if (measuredFlag[i] === 1) rtt = measuredRtt[i];
      else if (cv === undefined || nc === undefined) {
        rtt = unknownRtt;
        known = false;
        if (boundFlag[i] === 1) { rtt = boundHi[i]; known = true; }
      } else {
        const nv = nc.vec;
        const d = cv.length < nv.length ? cv.length : nv.length;
        let s = 0;
        for (let k = 0; k < d; k++) { const x = cv[k] - nv[k]; s += x * x; }
        let err = (ce + nc.error) * 0.5;
        if (err > maxErr) err = maxErr;
        rtt = (Math.sqrt(s) + ch + nc.height) * (1 + penalty * err);
        if (boundFlag[i] === 1) rtt = rtt < boundLo[i] ? boundLo[i] : rtt > boundHi[i] ? boundHi[i] : rtt;
      }
      if (rtt > maxRtt || (!known && maxRtt !== Infinity)) { tooFar++; continue; }
      capable++;
      const renderMs = pixelsMs / card.tilesPerSecond;
      const ahead = load.queued + load.running - slots + 1;
      const score = rtt + (ahead > 0 ? (ahead / slots) * renderMs : 0) + renderMs + (cachedFlag[i] === 1 ? 0 : loadMs);
      if (score <= secondScore + tieMs) consider(i, score);
    }
  }
  for (const i of marked) measuredFlag[i] = 0;
  for (const i of bounded) boundFlag[i] = 0;
  const bestCached = best >= 0 && cachedFlag[best] === 1;
  for (const i of cachedMarked) cachedFlag[i] = 0;
  if (best < 0) return null;

  const node = nodes[best];
  const renderMs = expectedRenderMs(node.card, taskPixels);
  const queueMs = expectedQueueMs(node.load, renderMs);
  const { rttMs, source } = predictRtt(node, client, o);
  const load = request.scene && !bestCached ? loadMs : 0;
  const score = rttMs + queueMs + renderMs + load;
  const fallbackId = second >= 0 ? nodes[second].id : null;
  const f = (x: number) => x.toFixed(1);
  const sceneTerm = request.scene ? ` + scene load ${f(load)} ms${bestCached ? ' (cached)' : ''}` : '';
  const reason =
    `earliest expected finish ${f(score)} ms = RTT ${f(rttMs)} ms (${source}) + queue ${f(queueMs)} ms + render ${f(renderMs)} ms${sceneTerm}, ` +
    `best of ${capable} capable node${capable === 1 ? '' : 's'}` +
    (ties > 1 ? ` (tie among ${ties}, broken at random)` : '') +
    (fallbackId ? `; fallback ${fallbackId} at ${f(secondScore)} ms` : '; no fallback');
  return {
    nodeId: node.id,
    fallbackId,
    predictedRttMs: rttMs,
    rttSource: source,
    queueMs,
    renderMs,
    sceneLoadMs: load,
    score,
    fallbackScore: second >= 0 ? secondScore : null,
    capable,
    skipped: { unhealthy, busy, incapable, tooFar },
    reason,
  };
}

/** Why no node can take the task: counts by reason, as one sentence (for a 503 or a log line). */
export function explainNoRoute(nodes: readonly RouterNode[], request: RouteRequest, options: RouteOptions = ROUTE_DEFAULTS): string {
  const o = { ...ROUTE_DEFAULTS, ...options };
  let unhealthy = 0, busy = 0, incapable = 0, tooFar = 0;
  for (const node of nodes) {
    if (!node.healthy) unhealthy++;
    else if (node.card.tilesPerSecond <= 0 || !meetsRequirements(node.card, request.requirements)) incapable++;
    else if (isBusy(node.load, o.maxQueuePerSlot)) busy++;
    else if (request.requirements?.maxRttMs !== undefined) {
      const p = predictRtt(node, request.client, o);
      if (p.source === 'unknown' || p.rttMs > request.requirements.maxRttMs) tooFar++;
    }
  }
  return `no node can take the task: ${nodes.length} registered, ${unhealthy} unhealthy, ${incapable} lack the requirements, ${busy} busy, ${tooFar} beyond maxRttMs`;
}
