/**
 * What an RTT matrix looks like, in the few numbers that tell a real internet from a kind synthetic one:
 * the RTT distribution, how often the triangle inequality fails, how much slower than fibre over the great
 * circle paths are (and how that varies by host), how close hosts in one city are, and hosts' access delays.
 * `tessera sim stats` prints them for any HOSTS.csv/RTT.csv, and for `sim gen`'s output, side by side with
 * the figures of the real matrices (DESIGN.md, "Latency routing").
 */
import { greatCircleKm } from '../api/core/routing/geo.ts';
import { createRandom, randomInt } from '../api/core/routing/seeded-random.ts';
import { hostLocation } from './simulate-routing.ts';
import { pairRtt, type Host, type RttSource } from './rtt-source.ts';

export interface Quantiles {
  p10: number;
  p50: number;
  p90: number;
  p99: number;
}

export interface TopologyStats {
  hosts: number;
  /** Host pairs with an RTT (either direction). */
  pairs: number;
  rttMs: Quantiles;
  /** Triangles (a, b, c) sampled where RTT(a,c) > RTT(a,b) + RTT(b,c), and where it exceeds it by over 50%. */
  triangleViolations: { share: number; over50: number; sampled: number };
  /** RTT ÷ the fibre round trip over the great circle (1 ms per 100 km), located pairs over 500 km apart. */
  fibreRatio: Quantiles | null;
  /** RTTs of located pairs under 100 km apart. */
  closePairsMs: (Quantiles & { pairs: number }) | null;
  /** Per host: half its smallest RTT minus fibre time to any located host (its access delay, roughly). */
  accessDelayMs: Quantiles | null;
  /** Per host: the median fibre ratio of its pairs over 500 km (how far its provider's paths detour). */
  hostDetour: Quantiles | null;
}

export interface StatsOptions {
  seed?: number;
  /** Triangles to sample. */
  triangles?: number;
  /** Hosts to take pairs from (a seeded sample when there are more). */
  maxHosts?: number;
}

export const STATS_DEFAULTS: Required<StatsOptions> = { seed: 1, triangles: 200_000, maxHosts: 2000 };

function quantiles(xs: number[]): Quantiles {
  const s = Float64Array.from(xs).sort();
  const q = (p: number) => {
    if (s.length === 0) return NaN;
    const pos = (s.length - 1) * p;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  };
  return { p10: q(0.1), p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}

/** The statistics of an RTT matrix (a sample of at most maxHosts hosts). */
export function topologyStats(hosts: readonly Host[], truth: RttSource, options: StatsOptions = {}): TopologyStats {
  const o = { ...STATS_DEFAULTS, ...options };
  const rng = createRandom(`stats:${o.seed}`);
  let ids = Array.from({ length: hosts.length }, (_, i) => i);
  if (ids.length > o.maxHosts) {
    for (let i = 0; i < o.maxHosts; i++) {
      const j = i + randomInt(rng, ids.length - i);
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    ids = ids.slice(0, o.maxHosts).sort((a, b) => a - b);
  }
  const n = ids.length;
  const m = new Float64Array(n * n).fill(NaN);
  const loc = ids.map((h) => hostLocation(hosts[h]));
  const rtts: number[] = [];
  const ratios: number[] = [];
  const close: number[] = [];
  const hostRatios: number[][] = ids.map(() => []);
  const minExcess = new Float64Array(n).fill(Infinity);
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const t = pairRtt(truth, ids[a], ids[b]);
      if (!(t >= 0)) continue;
      m[a * n + b] = m[b * n + a] = t;
      rtts.push(t);
      const la = loc[a], lb = loc[b];
      if (!la || !lb) continue;
      const km = greatCircleKm(la, lb);
      const excess = t - km / 100;
      if (excess < minExcess[a]) minExcess[a] = excess;
      if (excess < minExcess[b]) minExcess[b] = excess;
      if (km < 100) close.push(t);
      if (km > 500) {
        const r = t / (km / 100);
        ratios.push(r);
        hostRatios[a].push(r);
        hostRatios[b].push(r);
      }
    }
  }
  let sampled = 0, violations = 0, over50 = 0;
  if (n >= 3) {
    for (let s = 0; s < o.triangles; s++) {
      const a = randomInt(rng, n), b = randomInt(rng, n), c = randomInt(rng, n);
      if (a === b || b === c || a === c) continue;
      const ac = m[a * n + c], ab = m[a * n + b], bc = m[b * n + c];
      if (Number.isNaN(ac) || Number.isNaN(ab) || Number.isNaN(bc)) continue;
      sampled++;
      if (ac > ab + bc) violations++;
      if (ac > 1.5 * (ab + bc)) over50++;
    }
  }
  const access = Array.from(minExcess).filter(Number.isFinite).map((x) => Math.max(0, x) / 2);
  const detours = hostRatios.filter((r) => r.length > 0).map((r) => quantiles(r).p50);
  return {
    hosts: n,
    pairs: rtts.length,
    rttMs: quantiles(rtts),
    triangleViolations: { share: sampled ? violations / sampled : NaN, over50: sampled ? over50 / sampled : NaN, sampled },
    fibreRatio: ratios.length ? quantiles(ratios) : null,
    closePairsMs: close.length ? { ...quantiles(close), pairs: close.length } : null,
    accessDelayMs: access.length ? quantiles(access) : null,
    hostDetour: detours.length ? quantiles(detours) : null,
  };
}

/** The real matrices the maintainers keep aside (DESIGN.md), for side-by-side reports. */
export const REAL_MATRIX_TARGETS = {
  rttMs: { p10: 34, p50: 139, p90: 274, p99: 370 },
  triangleViolations: { share: 0.046, over50: 0.001 },
  fibreRatio: { p10: 1.51, p50: 1.99, p90: 3.49 },
  closePairsMs: { p50: 4.2, p90: 12.9 },
} as const;
