/**
 * What a verification round decides. A round holds the results for one render task: the original result
 * first, then each verifying render in the order they arrived (at most two). Each new result is compared with
 * every earlier one (same renderer version: equal checksums; different versions: a perceptual tolerance).
 *
 *   2 results, agreeing            → verified (both nodes agree)
 *   2 results, disagreeing         → escalate: a third node renders the tile
 *   3rd agrees with the original only   → verified; the first verifier is outvoted
 *   3rd agrees with the first verifier only → disproven: the original is outvoted and the tile re-rendered
 *   3rd agrees with both (tolerance)    → verified, nobody outvoted
 *   3rd agrees with neither             → inconclusive: the tile is re-rendered, nobody outvoted
 */
export type VoteOutcome =
  | { kind: 'verified'; winners: number[]; losers: number[] }
  | { kind: 'escalate' }
  | { kind: 'disproven'; winners: number[]; losers: number[] }
  | { kind: 'inconclusive' };

/**
 * Weigh a tally by the nodes' records (`established[i]`: result i's node has enough verified results to be
 * off probation). Fresh identities are cheap, so they may not overturn a node with a record on their own: a
 * disproof whose winners are all on probation while the original's node is established stands as the
 * original's result, and nobody is blamed (an established liar is still caught by the next established
 * node that renders one of its tiles). Everything else stands as tallied.
 */
export function weighVote(outcome: VoteOutcome, established: readonly boolean[]): VoteOutcome {
  if (outcome.kind !== 'disproven') return outcome;
  const [loser] = outcome.losers;
  if (established[loser] && outcome.winners.every((i) => !established[i])) return { kind: 'verified', winners: [loser], losers: [] };
  return outcome;
}

/** Tally a round of `count` results (the newest last); `agrees[i]`: the newest agrees with result i. */
export function tallyVote(count: number, agrees: readonly boolean[]): VoteOutcome {
  if (count === 2) return agrees[0] ? { kind: 'verified', winners: [0, 1], losers: [] } : { kind: 'escalate' };
  if (count !== 3) throw new RangeError(`a verification round holds 2 or 3 results, not ${count}`);
  const [original, first] = agrees;
  if (original && first) return { kind: 'verified', winners: [0, 1, 2], losers: [] };
  if (original) return { kind: 'verified', winners: [0, 2], losers: [1] };
  if (first) return { kind: 'disproven', winners: [1, 2], losers: [0] };
  return { kind: 'inconclusive' };
}
