/** Each node's standing for credit (node-trust.ts `creditStanding`), read for the ledger views. */
import type { CreditStanding } from '../protocol/metering.ts';
import type { NodeRecord, NodeStore } from './job-store.ts';
import type { StandingOf } from './ledger-view.ts';
import { creditStanding, type TrustOptions } from './node-trust.ts';

/**
 * The standing of the nodes named (each read once), or of every node when `nodeIds` is undefined; a node the store
 * does not know stands good (it has no record to hold against it).
 */
export async function creditStandings(
  nodes: Pick<NodeStore, 'getNode' | 'listNodes'>,
  nodeIds: readonly string[] | undefined,
  verificationOn: boolean,
  trust: Pick<TrustOptions, 'probationResults' | 'holdCreditOnProbation'>,
): Promise<StandingOf> {
  const records: (NodeRecord | null)[] = nodeIds === undefined ? await nodes.listNodes() : await Promise.all([...new Set(nodeIds)].map((id) => nodes.getNode(id)));
  const standing = new Map<string, CreditStanding>();
  for (const r of records) if (r) standing.set(r.nodeId, creditStanding(r, verificationOn, trust));
  return (nodeId) => standing.get(nodeId) ?? 'good';
}
