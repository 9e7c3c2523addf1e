/**
 * A synthetic internet for tests and benchmarks: hosts clustered around world cities, and RTTs made of
 *   fibre propagation (1 ms RTT per 100 km) over the great circle, or through the exchange hubs the two
 *   hosts' providers meet at (hosts of one city meet locally), × a path factor (cables are not great circles),
 *   × route inflation (per host: its provider's peering; per pair: the path actually taken),
 *   + a congested link's delay for hosts of some cities (every RTT leaving the city),
 *   + occasional detours (traffic between nearby hosts hauled through a distant exchange),
 *   + each end's last-mile delay (access link: fibre, cable, DSL, Wi-Fi, mobile),
 *   + measurement noise (so the two directions of a pair differ).
 * Everything is a pure function of the seed and the host indices, so the RTT of any pair can be computed
 * on demand: a 110,000-host internet needs no 12-billion-cell matrix.
 */
import { EARTH_RADIUS_KM } from '../api/core/routing/geo.ts';
import { createRandom, hashUnit, randomExponential, randomNormal, type Random } from '../api/core/routing/seeded-random.ts';
import type { Host, RttSource } from './rtt-source.ts';
import { WORLD_CITIES } from './world-cities.ts';

export interface TopologyOptions {
  hosts: number;
  seed?: number;
  /** Median last-mile delay (ms) a host adds to every RTT; log-normal across hosts. */
  lastMileMs?: number;
  /** Log-normal σ of the last-mile delay (0.8: 5% of hosts above 3.7× the median). */
  lastMileSpread?: number;
  /** Mean route inflation over the great-circle fibre path (0.5: paths 1.5× as long on average). */
  inflation?: number;
  /** Share of the inflation that belongs to the pair rather than to either host (unpredictable). */
  pairShare?: number;
  /** Fraction of pairs that take a detour, and the mean extra RTT (ms) of one. */
  detourRate?: number;
  detourMs?: number;
  /** Mean relative noise of each stored (directed) RTT. */
  noise?: number;
  /** Fraction of directed pairs with no RTT. */
  missing?: number;
  /** Fraction of hosts whose lat/lon are unknown. */
  unlocated?: number;
  /** Typical distance (km) of a host from its city's centre. */
  spreadKm?: number;
  /** Share of cities whose hosts sit behind a congested link (every RTT leaving the city pays its delay). */
  congestedShare?: number;
  /** Mean extra RTT (ms) of a congested city's link (exponential across cities). */
  congestionMs?: number;
  /**
   * Exchange hubs (the heaviest cities): traffic between hosts of different networks meets at the hubs their
   * providers use (host → its hub → the other's hub → host), so hosts close on the map can be far apart on
   * the network. 0: every pair takes the great circle.
   */
  hubs?: number;
  /** Share of hosts whose provider uses their second nearest hub rather than the nearest. */
  hubMiss?: number;
  /** Share of pairs that peer directly (great circle) rather than through their hubs. */
  peering?: number;
  /** Every path's length over the great circle (or the hub route) before inflation: cables do not follow great circles. */
  pathFactor?: number;
}

/**
 * Calibrated on real matrices (DESIGN.md, "Latency routing"; the WonderNetwork subset in
 * test/routing/data): `tessera sim stats` shows RTT p10/p50/p90/p99 45/163/280/391 ms against the real
 * 34/139/274/370, triangle-inequality violations 5.1% (0.10% by over 50%) against 4.6% (0.1%), RTT ÷ fibre
 * over 500 km 1.50/1.83/2.83 against 1.51/1.99/3.49, pairs under 100 km 4.6/12.7 ms against 4.2/12.9
 * (`sim gen --hosts 500 --seed 1`). Paths meet at exchange hubs (the detours), a quarter of the cities sit
 * behind congested links, access delays are heavy-tailed; per-pair randomness is small (it is what breaks
 * the triangle inequality, and real matrices break it less than random noise does).
 */
export const TOPOLOGY_DEFAULTS: Required<Omit<TopologyOptions, 'hosts'>> = {
  seed: 1,
  lastMileMs: 1.4,
  lastMileSpread: 1.1,
  inflation: 0.2,
  pairShare: 0.2,
  detourRate: 0.01,
  detourMs: 10,
  noise: 0.02,
  missing: 0,
  unlocated: 0,
  spreadKm: 60,
  congestedShare: 0.25,
  congestionMs: 15,
  hubs: 20,
  hubMiss: 0.1,
  peering: 0.1,
  pathFactor: 1.25,
};

/**
 * The generator's settings before it was calibrated on real matrices: great-circle paths, per-pair
 * detours and noise, no hubs or congestion. A kinder internet (routing scores 3–5 points higher on it),
 * kept so tests written against it still test the same thing.
 */
export const KIND_TOPOLOGY: Partial<TopologyOptions> = {
  lastMileMs: 4,
  lastMileSpread: 0.8,
  inflation: 0.5,
  pairShare: 0.5,
  detourRate: 0.1,
  detourMs: 10,
  noise: 0.05,
  spreadKm: 100,
  congestedShare: 0,
  congestionMs: 0,
  hubs: 0,
  hubMiss: 0,
  peering: 0,
  pathFactor: 1,
};

/** A generated internet: hosts, and their RTTs computed on demand. */
export interface Topology extends RttSource {
  readonly hosts: readonly Host[];
  /** True positions even for hosts listed without lat/lon. */
  readonly positions: Float64Array;
  readonly options: Required<TopologyOptions>;
}

const RAD = Math.PI / 180;

/** Generates an internet of `options.hosts` hosts. */
export function generateTopology(options: TopologyOptions): Topology {
  const o: Required<TopologyOptions> = { ...TOPOLOGY_DEFAULTS, ...options };
  if (!Number.isInteger(o.hosts) || o.hosts < 2) throw new RangeError(`a topology needs at least 2 hosts (got ${o.hosts})`);
  const rng: Random = createRandom(`topology:${o.seed}`);
  const n = o.hosts;
  const weights = WORLD_CITIES.map((c) => c[3]);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const unit = new Float64Array(n * 3);
  const positions = new Float64Array(n * 2);
  const lastMile = new Float64Array(n);
  const hostInflation = new Float64Array(n);
  const cityOf = new Int32Array(n);
  // Congested cities: every RTT between one of their hosts and a host elsewhere pays the link's delay.
  const crng = createRandom(`congestion:${o.seed}`);
  const cityCongestion = WORLD_CITIES.map(() => (crng() < o.congestedShare ? o.congestionMs * randomExponential(crng) : 0));
  const hosts: Host[] = [];
  const perCity = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    let pick = rng() * totalWeight;
    let c = 0;
    while (pick >= weights[c] && c < weights.length - 1) pick -= weights[c++];
    const [city, clat, clon] = WORLD_CITIES[c];
    cityOf[i] = c;
    // Offset from the centre: mostly suburbs, some hosts far out (rural).
    const km = o.spreadKm * Math.abs(randomNormal(rng)) * (rng() < 0.1 ? 3 : 1);
    const bearing = 2 * Math.PI * rng();
    const lat = Math.max(-89, Math.min(89, clat + (km / 111.2) * Math.cos(bearing)));
    let lon = clon + (km / (111.2 * Math.max(0.2, Math.cos(clat * RAD)))) * Math.sin(bearing);
    lon = ((((lon + 180) % 360) + 360) % 360) - 180;
    positions[i * 2] = lat;
    positions[i * 2 + 1] = lon;
    const cl = Math.cos(lat * RAD);
    unit[i * 3] = cl * Math.cos(lon * RAD);
    unit[i * 3 + 1] = cl * Math.sin(lon * RAD);
    unit[i * 3 + 2] = Math.sin(lat * RAD);
    lastMile[i] = Math.min(150, o.lastMileMs * Math.exp(o.lastMileSpread * randomNormal(rng)));
    hostInflation[i] = randomExponential(rng);
    const k = (perCity.get(city) ?? 0) + 1;
    perCity.set(city, k);
    const located = rng() >= o.unlocated;
    const name = `${city.toLowerCase().replace(/[^a-z]+/g, '-')}-${k}`;
    hosts.push(located ? { id: `h${i + 1}`, name, lat: round(lat, 4), lon: round(lon, 4) } : { id: `h${i + 1}`, name });
  }
  // Hubs: the heaviest cities; each host's provider meets others at its nearest (or second nearest) hub.
  const hubCities = WORLD_CITIES.map((c, i) => ({ i, w: c[3] })).sort((a, b) => b.w - a.w || a.i - b.i).slice(0, Math.max(0, Math.min(WORLD_CITIES.length, o.hubs)));
  const H = hubCities.length;
  const hubUnit = new Float64Array(H * 3);
  hubCities.forEach(({ i }, h) => {
    const [, lat, lon] = WORLD_CITIES[i];
    hubUnit.set([Math.cos(lat * RAD) * Math.cos(lon * RAD), Math.cos(lat * RAD) * Math.sin(lon * RAD), Math.sin(lat * RAD)], h * 3);
  });
  const kmDot = (dot: number) => EARTH_RADIUS_KM * Math.acos(dot > 1 ? 1 : dot < -1 ? -1 : dot);
  const hubOf = new Int32Array(n).fill(-1);
  const toHubKm = new Float64Array(n);
  if (H > 0) {
    const hrng = createRandom(`hubs:${o.seed}`);
    for (let i = 0; i < n; i++) {
      let best = -1, bestKm = Infinity, second = -1, secondKm = Infinity;
      for (let h = 0; h < H; h++) {
        const km = kmDot(unit[i * 3] * hubUnit[h * 3] + unit[i * 3 + 1] * hubUnit[h * 3 + 1] + unit[i * 3 + 2] * hubUnit[h * 3 + 2]);
        if (km < bestKm) { second = best; secondKm = bestKm; best = h; bestKm = km; }
        else if (km < secondKm) { second = h; secondKm = km; }
      }
      const miss = second >= 0 && hrng() < o.hubMiss;
      hubOf[i] = miss ? second : best;
      toHubKm[i] = miss ? secondKm : bestKm;
    }
  }
  const seed = o.seed | 0;
  const hostShare = o.inflation * (1 - o.pairShare);
  const pairShare = o.inflation * o.pairShare;
  const rtt = (src: number, dst: number): number => {
    if (src === dst) return NaN;
    if (o.missing > 0 && hashUnit(seed ^ 0x51ed, src, dst) < o.missing) return NaN;
    const a = src < dst ? src : dst;
    const b = src < dst ? dst : src;
    const dot = unit[a * 3] * unit[b * 3] + unit[a * 3 + 1] * unit[b * 3 + 1] + unit[a * 3 + 2] * unit[b * 3 + 2];
    let km = EARTH_RADIUS_KM * Math.acos(dot > 1 ? 1 : dot < -1 ? -1 : dot);
    if (H > 0 && cityOf[a] !== cityOf[b] && !(hashUnit(seed ^ 0x9ee7, a, b) < o.peering)) {
      // Through the hubs (hosts of one city meet at its local exchange): never shorter than the great circle.
      const ha = hubOf[a], hb = hubOf[b];
      const between = ha === hb ? 0 : kmDot(hubUnit[ha * 3] * hubUnit[hb * 3] + hubUnit[ha * 3 + 1] * hubUnit[hb * 3 + 1] + hubUnit[ha * 3 + 2] * hubUnit[hb * 3 + 2]);
      km = Math.max(km, toHubKm[a] + between + toHubKm[b]);
    }
    const pair = -Math.log(1 - hashUnit(seed, a, b));
    let ms = ((km * Math.max(1, o.pathFactor)) / 100) * (1 + hostShare * 0.5 * (hostInflation[a] + hostInflation[b]) + pairShare * pair);
    if (o.detourRate > 0 && hashUnit(seed ^ 0x0de7, a, b) < o.detourRate) ms += o.detourMs * -Math.log(1 - hashUnit(seed ^ 0xd7, a, b));
    ms += lastMile[a] + lastMile[b];
    if (cityOf[a] !== cityOf[b]) ms += cityCongestion[cityOf[a]] + cityCongestion[cityOf[b]];
    ms *= 1 + o.noise * -Math.log(1 - hashUnit(seed ^ 0x7a11, src, dst));
    return Math.round(ms * 1000) / 1000;
  };
  // Inflation ≥ 1, detours and noise ≥ 0, and a chord is shorter than its arc: fibre over the chord plus
  // both last miles never exceeds the RTT (less a rounding margin).
  const lowerBound = (src: number, dst: number): number => {
    const dot = unit[src * 3] * unit[dst * 3] + unit[src * 3 + 1] * unit[dst * 3 + 1] + unit[src * 3 + 2] * unit[dst * 3 + 2];
    return (EARTH_RADIUS_KM * Math.sqrt(Math.max(0, 2 - 2 * dot))) / 100 + lastMile[src] + lastMile[dst] - 0.001;
  };
  // nearestAmong: the destinations bucketed in 5° cells (per destination list), cells visited nearest first
  // by their lower bound (fibre over the shortest possible arc + both smallest last miles).
  const grids = new WeakMap<readonly number[], { centre: Float64Array; members: number[][]; minLastMile: Float64Array; order: Int32Array; bound: Float64Array }>();
  const gridOf = (dsts: readonly number[]) => {
    let grid = grids.get(dsts);
    if (grid) return grid;
    const cells = new Map<number, number[]>();
    dsts.forEach((h, k) => {
      const key = Math.min(35, Math.floor((positions[h * 2] + 90) / 5)) * 100 + Math.min(71, Math.floor((positions[h * 2 + 1] + 180) / 5));
      let list = cells.get(key);
      if (!list) cells.set(key, (list = []));
      list.push(k);
    });
    const c = cells.size;
    grid = { centre: new Float64Array(c * 3), members: [], minLastMile: new Float64Array(c), order: new Int32Array(c), bound: new Float64Array(c) };
    let j = 0;
    for (const [key, list] of cells) {
      const lat = (Math.floor(key / 100) * 5 - 90 + 2.5) * RAD;
      const lon = ((key % 100) * 5 - 180 + 2.5) * RAD;
      grid.centre.set([Math.cos(lat) * Math.cos(lon), Math.cos(lat) * Math.sin(lon), Math.sin(lat)], j * 3);
      grid.members.push(list);
      grid.minLastMile[j] = Math.min(...list.map((k) => lastMile[dsts[k]]));
      j++;
    }
    grids.set(dsts, grid);
    return grid;
  };
  const nearestAmong = (src: number, dsts: readonly number[]): { index: number; rttMs: number } => {
    const grid = gridOf(dsts);
    const c = grid.members.length;
    for (let j = 0; j < c; j++) {
      const dot = grid.centre[j * 3] * unit[src * 3] + grid.centre[j * 3 + 1] * unit[src * 3 + 1] + grid.centre[j * 3 + 2] * unit[src * 3 + 2];
      // Every point of a 5° cell is within 400 km of its centre.
      const km = Math.max(0, EARTH_RADIUS_KM * Math.acos(Math.max(-1, Math.min(1, dot))) - 400);
      grid.bound[j] = km / 100 + lastMile[src] + grid.minLastMile[j] - 0.001;
      grid.order[j] = j;
    }
    grid.order.sort((x, y) => grid.bound[x] - grid.bound[y]);
    let best = Infinity, index = -1;
    for (let r = 0; r < c; r++) {
      const j = grid.order[r];
      if (grid.bound[j] >= best) break;
      for (const k of grid.members[j]) {
        const d = dsts[k];
        if (!(lowerBound(src, d) < best)) continue;
        let t = rtt(src, d);
        if (Number.isNaN(t)) t = rtt(d, src);
        if (t < best) { best = t; index = k; }
      }
    }
    return { index, rttMs: best };
  };
  return { hosts, positions, options: o, size: n, rtt, lowerBound, nearestAmong };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** HOSTS.csv text (`id,name,lat,lon`, empty lat/lon when unknown). */
export function hostsCsv(hosts: readonly Host[]): string {
  const lines = ['id,name,lat,lon'];
  for (const h of hosts) lines.push(`${h.id},${h.name},${h.lat ?? ''},${h.lon ?? ''}`);
  return lines.join('\n') + '\n';
}

/** RTT.csv text in chunks (`src,dst,rtt_ms`, one line per measured directed pair), for streaming to a file. */
export function* rttCsvChunks(hosts: readonly Host[], source: RttSource, linesPerChunk = 50_000): Generator<string> {
  let chunk: string[] = ['src,dst,rtt_ms'];
  for (let a = 0; a < source.size; a++) {
    for (let b = 0; b < source.size; b++) {
      const x = source.rtt(a, b);
      if (Number.isNaN(x)) continue;
      chunk.push(`${hosts[a].id},${hosts[b].id},${x}`);
      if (chunk.length >= linesPerChunk) {
        yield chunk.join('\n') + '\n';
        chunk = [];
      }
    }
  }
  if (chunk.length) yield chunk.join('\n') + '\n';
}
