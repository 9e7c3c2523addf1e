/**
 * A flat, typed-array copy of what the routing code reads in its loops over all nodes: coordinates,
 * locations, geo lines, and a geo grid. One index per node array, kept in a WeakMap; a frozen array of
 * frozen nodes (freezeRouterNodes) is indexed once, any other array is checked for changed references on
 * every use (one pointer comparison per node and field).
 */
import { cardHasWebgl2 } from '../../protocol/node-card.ts';
import { geoUnitVector, isGeoPoint, kmFromDot, type GeoPoint } from './geo.ts';
import type { GeoLine } from './geo-line.ts';
import type { RouterNode } from './router.ts';
import type { Coordinate } from './vivaldi.ts';

/** Flat copies of the nodes' coordinates and locations, refreshed per call by reference checks (cheap). */
export interface NodeIndex {
  n: number;
  dim: number;
  coordRef: (Coordinate | undefined)[];
  locRef: (GeoPoint | undefined)[];
  vec: Float64Array;
  height: Float64Array;
  error: Float64Array;
  hasCoord: Uint8Array;
  unit: Float64Array;
  hasLoc: Uint8Array;
  lineRef: (GeoLine | undefined)[];
  lineA: Float64Array;
  lineS: Float64Array;
  /** 1 where the node has a location and a geo line. */
  hasLine: Uint8Array;
  lines: number;
  /** The array and everything indexed from its nodes is frozen: the index never goes stale. */
  frozen: boolean;
  /** Located nodes bucketed by latitude/longitude cell; rebuilt after any location or line changed. */
  grid: GeoGrid | null;
  /** Coordinate changes since the derived fields below were computed. */
  changes: number;
  /** Values computed from the index by its users, dropped when a tenth of the coordinates changed. */
  derived: unknown;
  /** A k-d tree over the coordinates (frozen indexes only), for pruned nearest searches. */
  kd: KdTree | null;
  /** Health, load and card fields as typed arrays (frozen indexes only), for the router's loop. */
  routing: RoutingArrays | null;
}

const indexes = new WeakMap<readonly RouterNode[], NodeIndex>();

function buildIndex(nodes: readonly RouterNode[]): NodeIndex {
  let dim = 0;
  for (const node of nodes) if (node.coord && node.coord.vec.length > dim) dim = node.coord.vec.length;
  const n = nodes.length;
  const idx: NodeIndex = {
    n, dim,
    coordRef: new Array(n), locRef: new Array(n),
    vec: new Float64Array(n * dim), height: new Float64Array(n), error: new Float64Array(n), hasCoord: new Uint8Array(n),
    unit: new Float64Array(n * 3), hasLoc: new Uint8Array(n),
    lineRef: new Array(n), lineA: new Float64Array(n), lineS: new Float64Array(n), hasLine: new Uint8Array(n), lines: 0, frozen: false, grid: null,
    changes: 0, derived: null, kd: null, routing: null,
  };
  for (let i = 0; i < n; i++) {
    setCoord(idx, i, nodes[i].coord);
    setLoc(idx, i, nodes[i].location, nodes[i].geoLine);
  }
  return idx;
}

function isDeepFrozen(nodes: readonly RouterNode[]): boolean {
  if (!Object.isFrozen(nodes)) return false;
  for (const node of nodes) {
    if (!Object.isFrozen(node)) return false;
    const c = node.coord;
    if (c && !Object.isFrozen(c)) return false;
    if (node.location && !Object.isFrozen(node.location)) return false;
    if (node.geoLine && !Object.isFrozen(node.geoLine)) return false;
    if (!Object.isFrozen(node.load)) return false;
  }
  return true;
}

function setCoord(idx: NodeIndex, i: number, c: Coordinate | undefined): void {
  idx.grid = null; // its per-cell minimum heights
  idx.coordRef[i] = c;
  idx.hasCoord[i] = c ? 1 : 0;
  if (!c) return;
  for (let k = 0; k < idx.dim; k++) idx.vec[i * idx.dim + k] = c.vec[k] ?? 0;
  idx.height[i] = c.height;
  idx.error[i] = c.error;
}

function setLoc(idx: NodeIndex, i: number, p: GeoPoint | undefined, line: GeoLine | undefined): void {
  idx.locRef[i] = p;
  idx.hasLoc[i] = isGeoPoint(p) ? 1 : 0;
  if (idx.hasLoc[i]) geoUnitVector(p!, idx.unit, i * 3);
  idx.grid = null;
  idx.lineRef[i] = line;
  idx.lines -= idx.hasLine[i];
  idx.hasLine[i] = idx.hasLoc[i] && line ? 1 : 0;
  idx.lines += idx.hasLine[i];
  if (line) {
    idx.lineA[i] = line.interceptMs;
    idx.lineS[i] = line.msPerKm;
  }
}

export function indexNodes(nodes: readonly RouterNode[]): NodeIndex {
  let idx = indexes.get(nodes);
  // Frozen nodes cannot change: no need to look for changes (see freezeRouterNodes).
  if (idx?.frozen) return idx;
  if (!idx || idx.n !== nodes.length || nodes.some((x) => x.coord !== undefined && x.coord.vec.length > idx!.dim)) {
    idx = buildIndex(nodes);
    idx.frozen = isDeepFrozen(nodes);
    indexes.set(nodes, idx);
    return idx;
  }
  for (let i = 0; i < idx.n; i++) {
    const node = nodes[i];
    if (node.coord !== idx.coordRef[i]) {
      setCoord(idx, i, node.coord);
      idx.changes++;
    }
    if (node.location !== idx.locRef[i] || node.geoLine !== idx.lineRef[i]) {
      setLoc(idx, i, node.location, node.geoLine);
      idx.changes++;
    }
  }
  return idx;
}

export function dist2(idx: NodeIndex, i: number, v: readonly number[] | Float64Array, offset = 0): number {
  const d = idx.dim;
  const base = i * d;
  let s = 0;
  for (let k = 0; k < d; k++) {
    const x = idx.vec[base + k] - (v[offset + k] ?? 0);
    s += x * x;
  }
  return s;
}

/** Hypothesis nodes, landmark order and ms/km, recomputed when a tenth of the coordinates moved. */

/** Cell size of the geo grid (degrees); every point of a cell is within GRID_RADIUS_KM of its centre. */
const GRID_DEG = 5;
const GRID_RADIUS_KM = 400;

/** Located nodes by grid cell, with per-cell minima for lower bounds. */
export interface GeoGrid {
  /** Per non-empty cell: centre unit vector (3 each), node list, smallest intercept, slope and height. */
  centre: Float64Array;
  members: Int32Array[];
  minA: Float64Array;
  minS: Float64Array;
  minH: Float64Array;
  /** Nodes with no location (always visited). */
  unlocated: Int32Array;
  /** Scratch for per-query cell ordering. */
  bound: Float64Array;
  order: Int32Array;
}

export function gridFor(idx: NodeIndex): GeoGrid {
  if (idx.grid) return idx.grid;
  const cells = new Map<number, number[]>();
  const unlocated: number[] = [];
  for (let i = 0; i < idx.n; i++) {
    const p = idx.locRef[i];
    if (!idx.hasLoc[i] || !p) { unlocated.push(i); continue; }
    const key = Math.min(180 / GRID_DEG - 1, Math.floor((p.lat + 90) / GRID_DEG)) * 1000 + Math.min(360 / GRID_DEG - 1, Math.floor((p.lon + 180) / GRID_DEG));
    let list = cells.get(key);
    if (!list) cells.set(key, (list = []));
    list.push(i);
  }
  const c = cells.size;
  const grid: GeoGrid = {
    centre: new Float64Array(c * 3), members: [], minA: new Float64Array(c), minS: new Float64Array(c), minH: new Float64Array(c),
    unlocated: Int32Array.from(unlocated), bound: new Float64Array(c), order: new Int32Array(c),
  };
  let j = 0;
  for (const [key, list] of cells) {
    const lat = Math.floor(key / 1000) * GRID_DEG - 90 + GRID_DEG / 2;
    const lon = (key % 1000) * GRID_DEG - 180 + GRID_DEG / 2;
    geoUnitVector({ lat, lon }, grid.centre, j * 3);
    grid.members.push(Int32Array.from(list));
    let a = Infinity, sl = Infinity, h = Infinity;
    for (const i of list) {
      // A node without a line is ranked by its coordinate, which the line bound does not cover: bound 0.
      if (idx.hasLine[i]) { a = Math.min(a, idx.lineA[i]); sl = Math.min(sl, idx.lineS[i]); }
      else { a = 0; sl = 0; }
      h = Math.min(h, idx.hasCoord[i] ? idx.height[i] : 0);
    }
    grid.minA[j] = a === Infinity ? 0 : a;
    grid.minS[j] = sl === Infinity ? 0 : sl;
    grid.minH[j] = h === Infinity ? 0 : h;
    j++;
  }
  idx.grid = grid;
  return grid;
}

/**
 * Visits located nodes cell by cell, nearest cells first by a lower bound on what any node in the cell can
 * score (`cellBound(cell, minKm)`), and stops once that bound reaches `bar()`: the top-k search touches a
 * few cells instead of every node.
 */
export function scanGrid(idx: NodeIndex, u: Float64Array, cellBound: (cell: number, minKm: number) => number, bar: () => number, visit: (i: number) => void): void {
  const grid = gridFor(idx);
  const c = grid.members.length;
  const { centre, bound, order } = grid;
  for (let j = 0; j < c; j++) {
    const dot = centre[j * 3] * u[0] + centre[j * 3 + 1] * u[1] + centre[j * 3 + 2] * u[2];
    bound[j] = cellBound(j, Math.max(0, kmFromDot(dot) - GRID_RADIUS_KM));
    order[j] = j;
  }
  order.sort((x, y) => bound[x] - bound[y]);
  for (let r = 0; r < c; r++) {
    const j = order[r];
    if (bound[j] >= bar()) break;
    const list = grid.members[j];
    for (let m = 0; m < list.length; m++) visit(list[m]);
  }
}


/** A static k-d tree over the coordinates of a frozen index (implicit children: node t has 2t+1, 2t+2). */
interface KdTree {
  /** Node indices, permuted so every tree node covers a contiguous range. */
  order: Int32Array;
  start: Int32Array;
  end: Int32Array;
  /** Split axis, or -1 for a leaf. */
  axis: Int8Array;
  split: Float64Array;
}

const KD_LEAF = 12;

function buildKd(idx: NodeIndex): KdTree {
  const list: number[] = [];
  for (let i = 0; i < idx.n; i++) if (idx.hasCoord[i]) list.push(i);
  const order = Int32Array.from(list);
  const { dim, vec } = idx;
  let size = 1;
  while (size * KD_LEAF < order.length) size *= 2;
  const cap = 2 * size + 1;
  const tree: KdTree = { order, start: new Int32Array(cap), end: new Int32Array(cap), axis: new Int8Array(cap).fill(-1), split: new Float64Array(cap) };
  const build = (t: number, lo: number, hi: number) => {
    tree.start[t] = lo;
    tree.end[t] = hi;
    if (hi - lo <= KD_LEAF || 2 * t + 2 >= cap || dim === 0) return;
    // Split on the widest axis at the median.
    let axis = 0, widest = -1;
    for (let k = 0; k < dim; k++) {
      let mn = Infinity, mx = -Infinity;
      for (let p = lo; p < hi; p++) { const x = vec[order[p] * dim + k]; if (x < mn) mn = x; if (x > mx) mx = x; }
      if (mx - mn > widest) { widest = mx - mn; axis = k; }
    }
    const mid = (lo + hi) >> 1;
    const part = Array.from(order.subarray(lo, hi)).sort((a, b) => vec[a * dim + axis] - vec[b * dim + axis]);
    order.set(part, lo);
    tree.axis[t] = axis;
    tree.split[t] = vec[order[mid] * dim + axis];
    build(2 * t + 1, lo, mid);
    build(2 * t + 2, mid, hi);
  };
  build(0, 0, order.length);
  return tree;
}

/**
 * Visits nodes with coordinates near the query point first, skipping every part of space whose distance
 * from the query, plus `minExtra`, reaches `bar()` (a k-d tree; frozen indexes only, others scan all).
 */
export function scanNearest(idx: NodeIndex, q: Float64Array, minExtra: number, bar: () => number, visit: (i: number) => void): void {
  const { n, hasCoord } = idx;
  if (!idx.frozen || idx.dim === 0) {
    for (let i = 0; i < n; i++) if (hasCoord[i]) visit(i);
    return;
  }
  const tree = (idx.kd ??= buildKd(idx));
  const { order, start, end, axis, split } = tree;
  const search = (t: number): void => {
    const a = axis[t];
    if (a < 0) {
      for (let p = start[t]; p < end[t]; p++) visit(order[p]);
      return;
    }
    const diff = q[a] - split[t];
    search(diff < 0 ? 2 * t + 1 : 2 * t + 2);
    if (Math.abs(diff) + minExtra < bar()) search(diff < 0 ? 2 * t + 2 : 2 * t + 1);
  };
  if (order.length) search(0);
}

/** What the router reads per node, flat. Valid only for frozen snapshots (nothing in them changes). */
export interface RoutingArrays {
  healthy: Uint8Array;
  tilesPerSecond: Float64Array;
  queued: Float64Array;
  running: Float64Array;
  /** max(1, concurrency). */
  slots: Float64Array;
  ramBytes: Float64Array;
  maxTextureSize: Float64Array;
  /** 1 where the card lists a WebGL 2 backend. */
  webgl2: Uint8Array;
  /** Index into `regions` of each node's region label. */
  region: Int32Array;
  regions: Map<string, number>;
}

/** The routing arrays of a frozen index (built on first use); null for indexes that may change. */
export function routingArraysFor(idx: NodeIndex, nodes: readonly RouterNode[]): RoutingArrays | null {
  if (!idx.frozen) return null;
  if (idx.routing) return idx.routing;
  const n = idx.n;
  const r: RoutingArrays = {
    healthy: new Uint8Array(n), tilesPerSecond: new Float64Array(n), queued: new Float64Array(n), running: new Float64Array(n),
    slots: new Float64Array(n), ramBytes: new Float64Array(n), maxTextureSize: new Float64Array(n), webgl2: new Uint8Array(n), region: new Int32Array(n), regions: new Map(),
  };
  for (let i = 0; i < n; i++) {
    const node = nodes[i];
    r.healthy[i] = node.healthy ? 1 : 0;
    r.tilesPerSecond[i] = node.card.tilesPerSecond;
    r.queued[i] = node.load.queued;
    r.running[i] = node.load.running;
    r.slots[i] = Math.max(1, node.load.concurrency);
    r.ramBytes[i] = node.card.ramBytes;
    r.maxTextureSize[i] = node.card.gl.maxTextureSize;
    r.webgl2[i] = cardHasWebgl2(node.card) ? 1 : 0;
    let id = r.regions.get(node.card.region);
    if (id === undefined) r.regions.set(node.card.region, (id = r.regions.size));
    r.region[i] = id;
  }
  idx.routing = r;
  return r;
}
