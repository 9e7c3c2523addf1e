/**
 * How much the API believes a render node: a card is a claim, so routing, quotes and probe candidates read
 * the node's *effective* card, where the speed is what the API measured from the node's accepted results
 * (pixels over the wall time between lease and completion) and, until there are enough of them, the
 * smaller of the claim and a conservative prior; a location that measured RTTs refuted is dropped. A new
 * node is on probation: its first results are verified far more often than an established node's.
 * Pure functions; the node directory and the verifier apply them.
 */
import type { CreditStanding } from '../protocol/metering.ts';
import type { NodeCard } from '../protocol/node-card.ts';
import type { NodeRecord } from './job-store.ts';
import { greatCircleKm, type GeoPoint } from './routing/geo.ts';
import { REFERENCE_TILE_PIXELS } from './routing/router.ts';

export interface TrustOptions {
  /**
   * Tiles per second assumed for a node with too few accepted results: never more than it claims, nor
   * more than the slowest node measured so far (see priorTilesPerSecond).
   */
  priorTilesPerSecond: number;
  /** Accepted render results after which the measured speed replaces the prior. */
  measuredAfter: number;
  /** A node with fewer verified results than this is on probation. */
  probationResults: number;
  /** Share of a probationary node's render results re-issued for verification. */
  probationSampleRate: number;
  /**
   * A card is proven inflated when its claimed speed is at least this many times the node's measured speed (see
   * inflatedClaim)...
   */
  inflatedClaimFactor: number;
  /** ...and at least this many times the claim-to-measured ratio of the median other measured node (see inflatedClaim)... */
  inflatedClaimPeerFactor: number;
  /** ...once it has at least this many accepted render results. */
  inflatedClaimAfter: number;
  /**
   * Hold the credit of nodes on probation (fewer than probationResults verified results while verification is
   * on): their accepted work shows as `held` and counts once they have a verified record (pending credit, as
   * BOINC grants it). Off: it counts at once and is clawed back (forfeited) if the node is proven a liar.
   */
  holdCreditOnProbation: boolean;
}

export const PRIOR_TILES_PER_SECOND = 10;
export const MEASURED_AFTER = 3;
export const PROBATION_RESULTS = 5;
export const PROBATION_SAMPLE_RATE = 0.5;
/**
 * Bounds of the inflated-card proof. A card's speed is the node's own benchmark of a 256×256 reference tile; what
 * it measures on real work is slower by the work's fixed costs (small tiles, heavy scenes, a loaded machine), so
 * honest nodes' claims run ahead of their measured speed by a factor that depends on the work (2.2–2.4× as the
 * median of the honest nodes on the soak's 48×48 tiles here, on 2 cores at load 19–28). The same work slows every node alike, hence the comparison with
 * the other nodes' ratio; the absolute floor keeps a farm of modest claims from convicting an honest node that
 * is merely a few times slower than its own benchmark.
 */
export const INFLATED_CLAIM_FACTOR = 100;
export const INFLATED_CLAIM_PEER_FACTOR = 20;
export const INFLATED_CLAIM_AFTER = 5;

export const TRUST_DEFAULTS: TrustOptions = {
  priorTilesPerSecond: PRIOR_TILES_PER_SECOND,
  measuredAfter: MEASURED_AFTER,
  probationResults: PROBATION_RESULTS,
  probationSampleRate: PROBATION_SAMPLE_RATE,
  inflatedClaimFactor: INFLATED_CLAIM_FACTOR,
  inflatedClaimPeerFactor: INFLATED_CLAIM_PEER_FACTOR,
  inflatedClaimAfter: INFLATED_CLAIM_AFTER,
  holdCreditOnProbation: false,
};

/** What the store needs to check a card's claim when it measures a node (see inflatedClaim). */
export type ClaimRules = Pick<TrustOptions, 'inflatedClaimFactor' | 'inflatedClaimPeerFactor' | 'inflatedClaimAfter'>;

/**
 * Per accepted result, the time charged to a node's measured speed is its reported compute time (what the
 * card's figure measures too), but at least this share of the wall time the API saw between lease and
 * completion: fixed costs per task (download, upload, round trips) do not make an honest node look slow, and
 * a node that under-reports its compute time cannot look more than 1 / MIN_WALL_SHARE times faster than its
 * wall time shows.
 */
export const MIN_WALL_SHARE = 0.1;

/** The time (ms) one accepted result charges to its node's measured speed (see MIN_WALL_SHARE). */
export function chargedMs(reportedMs: number, wallMs: number): number {
  return Math.max(reportedMs, wallMs * MIN_WALL_SHARE);
}

/** Light in fibre covers about 200 km per ms: no round trip over `km` of great circle beats km / 100 ms. */
export const MIN_RTT_MS_PER_KM = 0.01;

/**
 * The speed (reference tiles per second per slot) measured from the node's accepted results: its fastest
 * single result (a scene's first task carries its download and warm-up, which an average would let dominate),
 * each charged at least MIN_WALL_SHARE of its wall time; undefined with too few results.
 */
export function measuredTilesPerSecond(record: Pick<NodeRecord, 'throughput'>, options: TrustOptions = TRUST_DEFAULTS): number | undefined {
  const t = record.throughput;
  if (!t || t.results < options.measuredAfter || !(t.best > 0)) return undefined;
  return t.best;
}

/**
 * The speed a node without a record is assumed to have: the configured prior, or the slowest speed measured
 * among `nodes` when that is lower, so a newcomer never outbids a node that proved its speed.
 */
export function priorTilesPerSecond(nodes: readonly Pick<NodeRecord, 'throughput'>[], options: TrustOptions = TRUST_DEFAULTS): number {
  let prior = options.priorTilesPerSecond;
  for (const n of nodes) {
    const m = measuredTilesPerSecond(n, options);
    if (m !== undefined && m < prior) prior = m;
  }
  return prior;
}

/** The speed routing and quotes use: measured (never above the claim), else the smaller of the claim and the prior. */
export function effectiveTilesPerSecond(record: Pick<NodeRecord, 'card' | 'throughput'>, options: TrustOptions = TRUST_DEFAULTS, prior = options.priorTilesPerSecond): number {
  const measured = measuredTilesPerSecond(record, options);
  return Math.min(record.card.tilesPerSecond, measured ?? prior);
}

/**
 * The card as the API believes it: the effective speed in place of the claimed one, and no location once
 * measurements refuted it. A fresh object (routing snapshots index cards once; never edit one in place).
 */
export function effectiveCard(
  record: Pick<NodeRecord, 'card' | 'throughput' | 'locationRefuted'>,
  options: TrustOptions = TRUST_DEFAULTS,
  prior = options.priorTilesPerSecond,
): NodeCard {
  const card: NodeCard = { ...record.card, tilesPerSecond: effectiveTilesPerSecond(record, options, prior) };
  if (record.locationRefuted) delete card.location;
  return card;
}

/** Whether the node is still on probation: too few of its results were verified by other nodes. */
export function onProbation(record: Pick<NodeRecord, 'reputation'>, options: Pick<TrustOptions, 'probationResults'> = TRUST_DEFAULTS): boolean {
  return (record.reputation?.verified ?? 0) < options.probationResults;
}

/**
 * Whether a round trip of `rttMs` between two claimed locations is physically impossible (faster than light
 * in fibre over the great circle, with 1 ms of slack for clock granularity): then at least one claim is false.
 */
export function locationsRefuted(a: GeoPoint, b: GeoPoint, rttMs: number): boolean {
  return rttMs + 1 < greatCircleKm(a, b) * MIN_RTT_MS_PER_KM;
}

/**
 * Of two nodes whose claimed locations a measurement refuted, the ones to stop believing: the one with
 * fewer verified results, or both when neither has a better record.
 */
export function refutedParties<T extends Pick<NodeRecord, 'nodeId' | 'reputation'>>(a: T, b: T): T[] {
  const va = a.reputation?.verified ?? 0;
  const vb = b.reputation?.verified ?? 0;
  if (va > vb) return [b];
  if (vb > va) return [a];
  return [a, b];
}

/** How many times a node's claimed speed exceeds its measured one; undefined until measured. */
export function claimRatio(record: Pick<NodeRecord, 'card' | 'throughput'>): number | undefined {
  const t = record.throughput;
  if (!t || !(t.results > 0) || !(t.best > 0)) return undefined;
  return record.card.tilesPerSecond / t.best;
}

/**
 * Why the node's card is proven inflated (a sentence), or null when it is not (yet). Proven when, over at least
 * `inflatedClaimAfter` accepted render results, its claimed speed is at least `inflatedClaimFactor` times its
 * measured (fastest) speed, and at least `inflatedClaimPeerFactor` times the median claim-to-measured ratio of
 * the `peers` (other measured nodes in good standing; at least one): the same work slows honest nodes alike, so
 * a ratio far beyond theirs is the claim, not the work. With no peer to compare with nothing is proven (a farm
 * of one cannot tell a heavy scene from a lie, and routing believes measurements anyway).
 */
export function inflatedClaim(
  record: Pick<NodeRecord, 'card' | 'throughput'>,
  peers: readonly Pick<NodeRecord, 'card' | 'throughput'>[],
  rules: ClaimRules = TRUST_DEFAULTS,
): string | null {
  const ratio = claimRatio(record);
  if (ratio === undefined || (record.throughput?.results ?? 0) < rules.inflatedClaimAfter || ratio < rules.inflatedClaimFactor) return null;
  const ratios = peers.map((p) => claimRatio(p)).filter((r): r is number => r !== undefined).sort((a, b) => a - b);
  if (ratios.length === 0) return null;
  const median = ratios.length % 2 ? ratios[(ratios.length - 1) / 2] : (ratios[ratios.length / 2 - 1] + ratios[ratios.length / 2]) / 2;
  if (ratio < rules.inflatedClaimPeerFactor * median) return null;
  const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
  return `inflated card: it claims ${fmt(record.card.tilesPerSecond)} tiles/s, ${fmt(ratio)}× the ${fmt(record.throughput!.best)} tiles/s measured from its fastest of ${record.throughput!.results} accepted results (other nodes' claims run ${fmt(median)}× ahead of theirs)`;
}

/** Why a node is blocklisted when its probe URL answered the API's challenge without its key's proof (a sentence). */
export function forgedProbeReason(probeUrl: string, what: 'edge RTT meter' | 'reachability check'): string {
  return `forged probe: ${probeUrl} answered the API's ${what} challenge as this node without its probe key's proof, so it is not the node`;
}

/**
 * A node's standing for credit: `forfeited` once blocklisted (a proven liar: everything it earned is forfeited),
 * `probation` while its credit is held (holdCreditOnProbation, verification on, fewer than probationResults
 * verified results), else `good`.
 */
export function creditStanding(
  record: Pick<NodeRecord, 'reputation'>,
  verificationOn: boolean,
  options: Pick<TrustOptions, 'probationResults' | 'holdCreditOnProbation'> = TRUST_DEFAULTS,
): CreditStanding {
  if (record.reputation?.blocklisted) return 'forfeited';
  if (options.holdCreditOnProbation && verificationOn && onProbation(record, options)) return 'probation';
  return 'good';
}
