/**
 * Vivaldi network coordinates with a height component (Dabek, Cox, Kaashoek, Morris: "Vivaldi: a
 * decentralized network coordinate system", SIGCOMM 2004, §5.5). A coordinate is a point in a small
 * Euclidean space plus a height (the access-link delay every path to the host pays); the estimated RTT
 * between two hosts is the distance between their points plus both heights. Every measurement moves the
 * local coordinate a little towards agreeing with it, by a step scaled by how much the local node trusts
 * itself against the remote one (the adaptive timestep).
 */
import { CoordinateSchema, type Coordinate } from '../../protocol/coordinate.ts';
import type { Random } from './seeded-random.ts';

export { CoordinateSchema, type Coordinate };


export interface VivaldiOptions {
  /** Euclidean dimensions (the height is extra). */
  dimensions?: number;
  /** c_e: how fast the error estimate follows the latest sample's relative error. */
  ce?: number;
  /** c_c: the largest fraction of the prediction error one sample may correct. */
  cc?: number;
  /** Errors are capped here; new coordinates start here (no confidence). */
  errorMax?: number;
  /** Heights never go below this (ms). */
  heightMin?: number;
  /** A new coordinate's height (ms). */
  initialHeight?: number;
  /**
   * 0 (default): Dabek's update, which minimises absolute error, so long links dominate. > 0: each step is
   * scaled by min(3, shortLinkMs / rtt), weighting short links more (better near-range estimates).
   */
  shortLinkMs?: number;
}

export const VIVALDI_DEFAULTS: Required<VivaldiOptions> = {
  dimensions: 4,
  ce: 0.25,
  cc: 0.25,
  errorMax: 1.5,
  heightMin: 0.01,
  initialHeight: 0.01,
  shortLinkMs: 0,
};

/** Below this (ms) two points count as one; RTTs below it are raised to it. */
const TINY = 1e-6;

/** A new coordinate at the origin with the largest error: it knows nothing yet. */
export function createCoordinate(options: VivaldiOptions = VIVALDI_DEFAULTS): Coordinate {
  const o = options === VIVALDI_DEFAULTS ? VIVALDI_DEFAULTS : { ...VIVALDI_DEFAULTS, ...options };
  return { vec: new Array<number>(o.dimensions).fill(0), height: Math.max(o.heightMin, o.initialHeight), error: o.errorMax };
}

/** Euclidean distance between the points, without heights. */
export function vecDistance(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/** The RTT (ms) two coordinates predict between their hosts. */
export function estimateRtt(a: Coordinate, b: Coordinate): number {
  return vecDistance(a.vec, b.vec) + a.height + b.height;
}

/**
 * The local coordinate after one RTT sample (ms) to a host at `remote`. Pure: returns a new coordinate.
 * Samples that are not positive finite numbers leave it unchanged. `rng` picks a direction when the
 * two points coincide (every new node starts at the origin).
 */
export function updateCoordinate(
  local: Coordinate,
  remote: Coordinate,
  rttMs: number,
  options: VivaldiOptions = VIVALDI_DEFAULTS,
  rng: Random = Math.random,
): Coordinate {
  if (!(rttMs > 0) || !Number.isFinite(rttMs)) return local;
  const o = options === VIVALDI_DEFAULTS ? VIVALDI_DEFAULTS : { ...VIVALDI_DEFAULTS, ...options };
  const rtt = Math.max(rttMs, TINY);
  const mag = vecDistance(local.vec, remote.vec);
  const dist = mag + local.height + remote.height;
  // Sample weight: how much the local node's error dominates the pair's (Dabek §3, Fig. 3).
  const totalError = Math.max(local.error + remote.error, TINY);
  const w = local.error / totalError;
  const relativeError = Math.abs(dist - rtt) / rtt;
  const error = Math.min(o.errorMax, o.ce * w * relativeError + local.error * (1 - o.ce * w));
  // Adaptive timestep δ = c_c · w; the force moves along the unit height-vector from remote to local.
  // Optional short-link emphasis (not in Dabek): scale the step by min(3, shortLinkMs / rtt).
  const boost = o.shortLinkMs > 0 ? Math.min(3, o.shortLinkMs / rtt) : 1;
  const force = o.cc * w * (rtt - dist) * boost;
  const n = local.vec.length;
  // Filled by push, so the array stays packed doubles (faster to read than a holey one).
  const vec: number[] = [];
  for (let i = 0; i < n; i++) vec.push(0);
  let height = local.height;
  if (mag > TINY) {
    // Height vectors: [x_i − x_j, h_i + h_j], whose norm is `dist`; the force splits between plane and height.
    const k = force / dist;
    for (let i = 0; i < n; i++) vec[i] = local.vec[i] + k * (local.vec[i] - (remote.vec[i] ?? 0));
    height = local.height + k * (local.height + remote.height);
  } else {
    // Coincident points: push apart along a random direction.
    let s = 0;
    for (let i = 0; i < n; i++) {
      vec[i] = rng() - 0.5;
      s += vec[i] * vec[i];
    }
    const k = s > 0 ? force / Math.sqrt(s) : 0;
    for (let i = 0; i < n; i++) vec[i] = local.vec[i] + k * vec[i];
  }
  return { vec, height: Math.max(o.heightMin, height), error };
}
