/**
 * Whether two references that agree with each other against a session's signed frame may convict its node
 * (session-verification.ts). The attack: two colluding nodes, when handed a sample's references, draw the same
 * wrong picture and get an honest node blocklisted. Two rules, after batch verification's (verification-vote.ts
 * weighVote: fresh identities are cheap):
 * - **Records**: a node with a verified record (off probation, node-trust.ts) is convicted only by references
 *   that have records of their own; fresh identities may convict only a fresh node.
 * - **One operator, one voice**: references that share a join token, or their registration address's network
 *   (node-origin.ts), which the accused does not share, may be one operator: they count as one vote. A farm whose
 *   nodes all share both (one operator, one network: a small farm, a test farm on loopback) still convicts its own.
 * Otherwise the sample is `inconclusive` and nobody is blamed. Origins are unknown for nodes registered before
 * they were kept, and `unknown` networks are never taken as shared (nothing proves it).
 */
import type { NodeRecord } from './job-store.ts';
import { onProbation, type TrustOptions } from './node-trust.ts';

export type VoteTrust = { ok: true } | { ok: false; why: string };

/** Whether `references` (their records, null when gone) may convict `accused` (see the module comment). */
export function sessionVoteTrust(accused: NodeRecord | null, references: readonly (NodeRecord | null)[], trust: Pick<TrustOptions, 'probationResults'>): VoteTrust {
  if (!accused) return { ok: false, why: 'the session\'s node is gone' };
  const refs = references.filter((r): r is NodeRecord => r !== null);
  if (refs.length !== references.length || refs.length < 2) return { ok: false, why: 'a reference node is gone' };
  const fresh = refs.filter((r) => onProbation(r, trust));
  if (!onProbation(accused, trust) && fresh.length) {
    return { ok: false, why: `node ${accused.nodeId} has a verified record and ${fresh.map((r) => r.nodeId).join(' and ')} ${fresh.length > 1 ? 'are' : 'is'} on probation (fewer than ${trust.probationResults} verified results): fresh identities do not convict an established node` };
  }
  const shared = sharedAgainst(refs[0], refs[1], accused);
  if (shared.length) {
    return { ok: false, why: `the references share ${shared.join(' and ')} that node ${accused.nodeId} does not: they may be one operator, one voice` };
  }
  return { ok: true };
}

/** What references `a` and `b` share (a join token, a network) that `accused` does not: empty when they are two voices. */
function sharedAgainst(a: NodeRecord, b: NodeRecord, accused: NodeRecord): string[] {
  const shared: string[] = [];
  const mine = accused.origin ?? null;
  if (!a.origin || !b.origin) return shared;
  const key = a.origin.joinKey;
  if (key !== null && key === b.origin.joinKey && mine?.joinKey !== key) shared.push(`a join token (${key})`);
  const net = a.origin.network;
  if (net !== 'unknown' && net === b.origin.network && mine?.network !== net) shared.push(`a network (${net})`);
  return shared;
}

/**
 * Whether `candidate` could be a reference whose vote counts against `accused` (with `first`, the first reference,
 * when it asks for the second): the references are drawn from such nodes while any is healthy (session-verification.ts),
 * so a liar is not let off for want of a trusted vote where one could be had.
 */
export function mayVote(accused: NodeRecord, first: NodeRecord | null, candidate: NodeRecord, trust: Pick<TrustOptions, 'probationResults'>): boolean {
  if (!onProbation(accused, trust) && onProbation(candidate, trust)) return false;
  return !first || sharedAgainst(first, candidate, accused).length === 0;
}
