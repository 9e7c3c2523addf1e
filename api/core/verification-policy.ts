/**
 * Options of verification by re-issue, with their defaults, and the sampling decision. Renders are
 * deterministic for a pinned renderer, so a sampled render task is rendered again by a different node and
 * the two results compared (see verification-vote.ts for what a comparison decides).
 */
import { createRandom } from './routing/seeded-random.ts';

export interface VerificationOptions {
  /** Share of accepted render results re-issued to another node (0 – 1). */
  sampleRate: number;
  /**
   * Seed of the sampling decisions: equal seeds sample the same tasks. Undefined: a random secret per API
   * process, so nodes cannot predict which of their results get checked.
   */
  seed: string | undefined;
  /** A node whose results were outvoted this many times is blocklisted. */
  blocklistAfter: number;
  /** A tile whose renders disagreed (inconclusive votes) this many rounds fails its job: the scene is not deterministic. */
  maxRounds: number;
  /** A verification nobody eligible (healthy, not excluded) can take for this long is skipped (accepted unverified). */
  abandonAfterMs: number;
  /** Renders of different renderer versions agree when at most this share of pixels differ (pixelmatch threshold 0.1). */
  maxDiffRatio: number;
}

export const SAMPLE_RATE = 0.03;
export const BLOCKLIST_AFTER = 3;
export const MAX_VERIFY_ROUNDS = 3;
export const ABANDON_VERIFY_AFTER_MS = 10_000;
export const MAX_DIFF_RATIO = 0.001;

export const VERIFICATION_DEFAULTS: VerificationOptions = {
  sampleRate: SAMPLE_RATE,
  seed: undefined,
  blocklistAfter: BLOCKLIST_AFTER,
  maxRounds: MAX_VERIFY_ROUNDS,
  abandonAfterMs: ABANDON_VERIFY_AFTER_MS,
  maxDiffRatio: MAX_DIFF_RATIO,
};

/** What the store needs to apply a vote. */
export type VerificationRules = Pick<VerificationOptions, 'blocklistAfter' | 'maxRounds'> & {
  /** Nodes with fewer verified results are on probation: their votes alone cannot outvote a node with a record. Absent: 0. */
  probationResults?: number;
};

/** Whether the result of `taskId` in verification round `round` is re-issued: a seeded draw below `rate`. */
export function isSampled(taskId: string, round: number, rate: number, seed: string): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  return createRandom(`${seed}:${taskId}:${round}`)() < rate;
}
