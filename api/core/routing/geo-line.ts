/**
 * Geo lines: per-node models of RTT against great-circle distance, fitted from measured node↔node RTTs
 * (the "bestline" of constraint-based geolocation, Gueye et al. 2006, split between the two ends):
 *
 *   rtt(i, j) ≈ a_i + a_j + km(i, j) · (s_i + s_j) / 2
 *
 * `a` (intercept, ms) is the host's access delay, `s` (ms per km) its paths' slowness: 0.01 is light in
 * fibre on the great circle, typical internet paths are 1.3–2× that. Unlike a network coordinate, a line
 * keeps short-range accuracy (the access delay is explicit), so it ranks the nodes near a located client
 * well. Used only to choose which nodes a client probes; the router decides on measured RTTs and coordinates.
 */
import { greatCircleKm, type GeoPoint } from './geo.ts';

export interface GeoLine {
  /** Access delay (ms) this host adds to every RTT. */
  readonly interceptMs: number;
  /** This host's share of the path slowness (ms of RTT per km). */
  readonly msPerKm: number;
}

/** One measured RTT from the host being fitted to a peer whose line is (for now) known. */
export interface GeoLineSample {
  readonly km: number;
  readonly rttMs: number;
  readonly peer: GeoLine;
}

export interface GeoLineOptions {
  /** Bounds on the slope: no path beats light in fibre (0.01 ms/km of RTT). */
  minMsPerKm?: number;
  maxMsPerKm?: number;
  /** The slope assumed before there is evidence, and how strongly (in samples' worth) it holds. */
  priorMsPerKm?: number;
  priorWeight?: number;
  /** Residual scale: σ = relativeError · rtt + absoluteErrorMs. */
  relativeError?: number;
  absoluteErrorMs?: number;
  /** Reweighting rounds that discount samples far above the line (detours, queueing). */
  robustRounds?: number;
  /** Sweeps over all nodes in fitGeoLines. */
  sweeps?: number;
}

export const GEO_LINE_DEFAULTS: Required<GeoLineOptions> = {
  minMsPerKm: 0.01,
  maxMsPerKm: 0.08,
  priorMsPerKm: 0.015,
  priorWeight: 0.5,
  relativeError: 0.05,
  absoluteErrorMs: 1,
  robustRounds: 3,
  sweeps: 8,
};

/** The RTT two lines predict between hosts `km` apart. */
export function predictGeoRtt(a: GeoLine, b: GeoLine, km: number): number {
  return a.interceptMs + b.interceptMs + (km * (a.msPerKm + b.msPerKm)) / 2;
}

/**
 * The line of one host from its samples (weighted least squares in intercept and slope, a weak prior on
 * the slope, samples far from the line down-weighted by (2σ/residual)²). `fixedSlope` fits the intercept only.
 */
export function fitGeoLine(samples: readonly GeoLineSample[], options: GeoLineOptions = GEO_LINE_DEFAULTS, fixedSlope?: number): GeoLine {
  const o = options === GEO_LINE_DEFAULTS ? GEO_LINE_DEFAULTS : { ...GEO_LINE_DEFAULTS, ...options };
  const n = samples.length;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const w0 = new Float64Array(n);
  const w = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const s = samples[k];
    x[k] = s.km / 2;
    y[k] = s.rttMs - s.peer.interceptMs - (s.km * s.peer.msPerKm) / 2;
    const sd = o.relativeError * s.rttMs + o.absoluteErrorMs;
    w0[k] = w[k] = 1 / (sd * sd);
  }
  let a = 0;
  let slope = fixedSlope ?? o.priorMsPerKm;
  for (let round = 0; round <= o.robustRounds; round++) {
    // Normal equations for y ≈ a + x·slope, plus the prior pulling the slope to priorMsPerKm.
    let sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (let k = 0; k < n; k++) {
      sw += w[k]; sx += w[k] * x[k]; sy += w[k] * y[k]; sxx += w[k] * x[k] * x[k]; sxy += w[k] * x[k] * y[k];
    }
    if (sw === 0) break;
    if (fixedSlope === undefined) {
      // The prior's weight is in units of an average sample's information about the slope.
      const lambda = (o.priorWeight * sxx) / Math.max(1, n);
      const det = sw * (sxx + lambda) - sx * sx;
      slope = det > 0 ? (sw * (sxy + lambda * o.priorMsPerKm) - sx * sy) / det : o.priorMsPerKm;
      slope = Math.min(o.maxMsPerKm, Math.max(o.minMsPerKm, slope));
    }
    a = Math.max(0, (sy - slope * sx) / sw);
    if (round === o.robustRounds) break;
    for (let k = 0; k < n; k++) {
      const sd = 1 / Math.sqrt(w0[k]);
      const e = Math.abs(y[k] - a - slope * x[k]) / sd;
      w[k] = e > 2 ? w0[k] * (2 / e) ** 2 : w0[k];
    }
  }
  return { interceptMs: a, msPerKm: slope };
}

/** A measured RTT between two hosts (indices into the hosts' list). */
export interface GeoEdge {
  readonly a: number;
  readonly b: number;
  readonly rttMs: number;
}

/**
 * Lines for all located hosts from their measured RTTs to each other: every host's line is refitted
 * against its peers' current lines, a few sweeps over all hosts. Hosts without a location, or without
 * located peers, get undefined.
 */
export function fitGeoLines(locations: readonly (GeoPoint | undefined)[], edges: readonly GeoEdge[], options: GeoLineOptions = GEO_LINE_DEFAULTS): (GeoLine | undefined)[] {
  const o = options === GEO_LINE_DEFAULTS ? GEO_LINE_DEFAULTS : { ...GEO_LINE_DEFAULTS, ...options };
  const n = locations.length;
  const byHost: { peer: number; km: number; rttMs: number }[][] = Array.from({ length: n }, () => []);
  for (const e of edges) {
    const pa = locations[e.a];
    const pb = locations[e.b];
    if (!pa || !pb || e.a === e.b || !(e.rttMs > 0)) continue;
    const km = greatCircleKm(pa, pb);
    byHost[e.a].push({ peer: e.b, km, rttMs: e.rttMs });
    byHost[e.b].push({ peer: e.a, km, rttMs: e.rttMs });
  }
  // Start: every host at the prior slope, intercept a quarter of its smallest RTT.
  const lines: (GeoLine | undefined)[] = byHost.map((list) =>
    list.length ? { interceptMs: Math.min(...list.map((s) => s.rttMs)) / 4, msPerKm: o.priorMsPerKm } : undefined,
  );
  // Gauss–Seidel sweeps, damped: both ends of a pair share its residual, so full steps would overshoot.
  for (let sweep = 0; sweep < o.sweeps; sweep++) {
    for (let i = 0; i < n; i++) {
      const list = byHost[i];
      if (!list.length) continue;
      const fit = fitGeoLine(list.map((s) => ({ km: s.km, rttMs: s.rttMs, peer: lines[s.peer]! })), o);
      const old = lines[i]!;
      lines[i] = { interceptMs: (old.interceptMs + fit.interceptMs) / 2, msPerKm: (old.msPerKm + fit.msPerKm) / 2 };
    }
  }
  return lines;
}
