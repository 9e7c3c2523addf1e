/**
 * A client's network coordinate from a few RTTs to nodes whose coordinates are known: the most probable
 * point and height given the samples and what else is known (maximum a posteriori):
 *
 *   cost(x, h) = Σ_m ½ ((‖x − x_m‖ + h + h_m − rtt_m) / (σ_rel · rtt_m + σ_abs))²   the samples
 *              + h / typicalHeight                                                 heights are mostly small
 *              + ‖x − prior‖² / (2 τ²)                                             near the prior, if any
 *
 * With fewer samples than dimensions the samples alone leave the point undetermined; the priors settle it.
 * The cost has several valleys (one sample puts the client anywhere on a sphere around the node), so the
 * fit scores many starting points (node positions: clients are usually near some node) and refines the best.
 */
import { VIVALDI_DEFAULTS, type Coordinate } from './vivaldi.ts';

/** One measured RTT (ms) to a host at a known coordinate. */
export interface RttSample {
  readonly coord: Coordinate;
  readonly rttMs: number;
}

/** Where the client probably is before its samples are counted. */
export interface ClientPrior {
  /** The expected point (a session coordinate, or a guess from the client's location). */
  readonly vec?: readonly number[];
  /** How far (ms, per axis) the true point may be from `vec`. */
  readonly spreadMs?: number;
  /** The mean of the height prior (ms): the typical node's height is a fair guess. */
  readonly typicalHeightMs?: number;
}

export interface FitOptions {
  /** Relative and absolute (ms) uncertainty of an estimated RTT: the coordinates' own error. */
  relativeError?: number;
  absoluteErrorMs?: number;
  /** Starting points refined after scoring all of them. */
  refineStarts?: number;
  /** Gradient steps per refined start. */
  iterations?: number;
  /** The fitted coordinate's error is at least minError · 3 / (samples + 2). */
  minError?: number;
  heightMin?: number;
}

export const FIT_DEFAULTS: Required<FitOptions> = {
  relativeError: 0.1,
  absoluteErrorMs: 2,
  refineStarts: 2,
  iterations: 40,
  minError: 0.5,
  heightMin: VIVALDI_DEFAULTS.heightMin,
};

/** Mean relative error |estimate − rtt| / rtt of a coordinate over the samples (0 = perfect). */
export function fitResidual(coord: Coordinate, samples: readonly RttSample[]): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const s of samples) sum += Math.abs(distance(coord.vec, s.coord.vec) + coord.height + s.coord.height - s.rttMs) / s.rttMs;
  return sum / samples.length;
}

function distance(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/** The samples and priors, prepared once per fit. */
class FitProblem {
  readonly dim: number;
  readonly w: Float64Array;
  readonly target: Float64Array;
  readonly invTau2: number;
  readonly invHeight: number;
  readonly prior: Float64Array | undefined;
  /** The samples' node points, flat (sample m at m·dim). */
  readonly points: Float64Array;
  constructor(readonly samples: readonly RttSample[], prior: ClientPrior, readonly o: Required<FitOptions>, dim: number) {
    this.dim = dim;
    const n = samples.length;
    this.points = new Float64Array(n * dim);
    for (let m = 0; m < n; m++) for (let k = 0; k < dim; k++) this.points[m * dim + k] = samples[m].coord.vec[k] ?? 0;
    this.w = new Float64Array(n);
    this.target = new Float64Array(n);
    for (let m = 0; m < n; m++) {
      const s = samples[m];
      const sd = o.relativeError * s.rttMs + o.absoluteErrorMs;
      this.w[m] = 1 / (sd * sd);
      this.target[m] = s.rttMs - s.coord.height;
    }
    this.prior = prior.vec ? Float64Array.from({ length: dim }, (_, k) => prior.vec![k] ?? 0) : undefined;
    this.invTau2 = prior.vec && prior.spreadMs ? 1 / (prior.spreadMs * prior.spreadMs) : 0;
    this.invHeight = 1 / Math.max(0.1, prior.typicalHeightMs ?? 5);
  }

  /** The height found by the last score() or refine() call. */
  height = 0;

  /** The cost at point x with its best height (closed form, then clamped; left in `height`). */
  score(x: Float64Array, dists: Float64Array): number {
    const n = this.samples.length;
    const dim = this.dim;
    const pts = this.points;
    let sw = 0, swr = 0;
    for (let m = 0; m < n; m++) {
      let s = 0;
      for (let k = 0; k < dim; k++) { const d = x[k] - pts[m * dim + k]; s += d * d; }
      dists[m] = Math.sqrt(s);
      sw += this.w[m];
      swr += this.w[m] * (this.target[m] - dists[m]);
    }
    const height = Math.max(this.o.heightMin, (swr - this.invHeight) / sw);
    this.height = height;
    let cost = height * this.invHeight;
    for (let m = 0; m < n; m++) {
      const e = dists[m] + height - this.target[m];
      cost += 0.5 * this.w[m] * e * e;
    }
    if (this.invTau2 > 0) {
      let s = 0;
      const p = this.prior!;
      for (let k = 0; k < dim; k++) s += (x[k] - p[k]) ** 2;
      cost += 0.5 * s * this.invTau2;
    }
    return cost;
  }

  /** Gradient descent from x (modified in place) and a height; returns the final cost (height in `height`). */
  refine(x: Float64Array, height: number, dists: Float64Array): number {
    const n = this.samples.length;
    const g = new Float64Array(this.dim);
    let sw = 0;
    for (let m = 0; m < n; m++) sw += this.w[m];
    const step = 0.5 / (sw + this.invTau2);
    for (let it = 0; it < this.o.iterations; it++) {
      g.fill(0);
      let gh = this.invHeight;
      const pts = this.points;
      const dim = this.dim;
      for (let m = 0; m < n; m++) {
        let s = 0;
        for (let k = 0; k < dim; k++) { const d = x[k] - pts[m * dim + k]; s += d * d; }
        const dist = Math.sqrt(s);
        const e = this.w[m] * (dist + height - this.target[m]);
        gh += e;
        if (dist > 1e-9) for (let k = 0; k < dim; k++) g[k] += (e * (x[k] - pts[m * dim + k])) / dist;
      }
      if (this.invTau2 > 0) for (let k = 0; k < dim; k++) g[k] += (x[k] - this.prior![k]) * this.invTau2;
      for (let k = 0; k < this.dim; k++) x[k] -= step * g[k];
      height = Math.max(this.o.heightMin, height - (0.5 / sw) * gh);
    }
    return this.score(x, dists);
  }
}

/**
 * The client's most probable coordinate given its samples, a prior, and starting points to try
 * (node positions). With no samples, the prior's point (or the origin).
 */
export function fitClientCoordinate(
  samples: readonly RttSample[],
  prior: ClientPrior = {},
  starts: readonly ArrayLike<number>[] = [],
  options: FitOptions = FIT_DEFAULTS,
): Coordinate {
  const o = options === FIT_DEFAULTS ? FIT_DEFAULTS : { ...FIT_DEFAULTS, ...options };
  const valid = samples.filter((s) => s.rttMs > 0 && Number.isFinite(s.rttMs));
  let dim = prior.vec?.length ?? 0;
  for (const s of valid) dim = Math.max(dim, s.coord.vec.length);
  const problem = new FitProblem(valid, prior, o, dim);
  const dists = new Float64Array(valid.length);
  if (valid.length === 0) {
    const vec = Array.from({ length: dim }, (_, k) => prior.vec?.[k] ?? 0);
    return { vec, height: Math.max(o.heightMin, prior.typicalHeightMs ?? o.heightMin), error: VIVALDI_DEFAULTS.errorMax };
  }
  // Score every start (allocation-free); refine the best few.
  const asPoint = (v: ArrayLike<number>) => (v instanceof Float64Array && v.length === dim ? v : Float64Array.from({ length: dim }, (_, k) => v[k] ?? 0));
  const all: Float64Array[] = starts.map(asPoint);
  for (let m = 0; m < valid.length; m++) all.push(problem.points.subarray(m * dim, (m + 1) * dim));
  if (problem.prior) all.push(problem.prior);
  const r = Math.min(o.refineStarts, all.length);
  const pick = new Int32Array(r).fill(-1);
  const pickCost = new Float64Array(r).fill(Infinity);
  const pickHeight = new Float64Array(r);
  for (let a = 0; a < all.length; a++) {
    const cost = problem.score(all[a], dists);
    if (!(cost < pickCost[r - 1])) continue;
    let p = r - 1;
    while (p > 0 && pickCost[p - 1] > cost) { pickCost[p] = pickCost[p - 1]; pick[p] = pick[p - 1]; pickHeight[p] = pickHeight[p - 1]; p--; }
    pickCost[p] = cost; pick[p] = a; pickHeight[p] = problem.height;
  }
  let best: { x: Float64Array; height: number; cost: number } | null = null;
  for (let p = 0; p < r && pick[p] >= 0; p++) {
    const start = all[pick[p]];
    const x = Float64Array.from(start);
    const cost = problem.refine(x, pickHeight[p], dists);
    if (!best || cost < best.cost) best = { x, height: problem.height, cost };
  }
  const coord: Coordinate = { vec: Array.from(best!.x), height: best!.height, error: 0 };
  const floor = (o.minError * 3) / (valid.length + 2);
  return { ...coord, error: Math.max(floor, fitResidual(coord, valid)) };
}
