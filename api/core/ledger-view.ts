/**
 * Turns ledger entries into the client's views: credited totals per job and per node, with what is held (its node
 * not in good standing yet) and what was forfeited (its node a proven liar). A credited entry of a node on
 * probation is shown `held`, one of a blocklisted node `forfeited` (the store forfeits them when it blocklists;
 * this also covers a session closed after that), so the totals count only work of nodes in good standing.
 */
import type { CreditStanding, JobLedger, LedgerEntry, NodeLedger, Usage } from '../protocol/metering.ts';

/** A node's standing for credit, by id (nodes it does not know are in good standing). */
export type StandingOf = (nodeId: string) => CreditStanding;

const GOOD: StandingOf = () => 'good';

const zero = (): Usage => ({ renderSeconds: 0, megapixels: 0, tiles: 0 });

function add(u: Usage, e: LedgerEntry): void {
  u.renderSeconds += e.renderSeconds;
  u.megapixels += e.megapixels;
  u.tiles += e.tiles;
}

/** Sums are rounded so float noise does not show (ms and pixels are integers underneath). */
function tidy(u: Usage): Usage {
  return { renderSeconds: Math.round(u.renderSeconds * 1000) / 1000, megapixels: Math.round(u.megapixels * 1e6) / 1e6, tiles: u.tiles };
}

/** The entry as the views show it: a credited entry of a node not in good standing is held, or forfeited. */
export function entryAsViewed(e: LedgerEntry, standingOf: StandingOf): LedgerEntry {
  if (e.state !== 'credited') return e;
  const standing = standingOf(e.nodeId);
  if (standing === 'probation') return { ...e, state: 'held' };
  if (standing === 'forfeited') return { ...e, state: 'forfeited' };
  return e;
}

/** `GET /v1/jobs/:id/ledger`: credited totals of the job, overall and per node, what is held and forfeited, and every entry. */
export function toJobLedger(jobId: string, stored: LedgerEntry[], standingOf: StandingOf = GOOD): JobLedger {
  const total = zero();
  const held = zero();
  const forfeited = zero();
  const byNode: Record<string, Usage> = {};
  const entries = stored.map((e) => entryAsViewed(e, standingOf));
  for (const e of entries) {
    if (e.state === 'held') add(held, e);
    if (e.state === 'forfeited') add(forfeited, e);
    if (e.state !== 'credited') continue;
    add(total, e);
    add((byNode[e.nodeId] ??= zero()), e);
  }
  return { jobId, total: tidy(total), byNode: Object.fromEntries(Object.entries(byNode).map(([k, v]) => [k, tidy(v)])), held: tidy(held), forfeited: tidy(forfeited), entries };
}

/**
 * `GET /v1/ledger`: per node with accepted work (credited, held or forfeited), its credited totals, how many
 * jobs it was credited for, its standing, and what is held and forfeited.
 */
export function toNodeLedger(stored: LedgerEntry[], standingOf: StandingOf = GOOD): NodeLedger {
  const nodes = new Map<string, { usage: Usage; held: Usage; forfeited: Usage; jobs: Set<string> }>();
  for (const e of stored.map((x) => entryAsViewed(x, standingOf))) {
    if (e.state !== 'credited' && e.state !== 'held' && e.state !== 'forfeited') continue;
    let n = nodes.get(e.nodeId);
    if (!n) nodes.set(e.nodeId, (n = { usage: zero(), held: zero(), forfeited: zero(), jobs: new Set() }));
    if (e.state === 'held') add(n.held, e);
    else if (e.state === 'forfeited') add(n.forfeited, e);
    else {
      add(n.usage, e);
      n.jobs.add(e.jobId);
    }
  }
  return {
    nodes: [...nodes]
      .map(([nodeId, n]) => ({ nodeId, ...tidy(n.usage), jobs: n.jobs.size, standing: standingOf(nodeId), held: tidy(n.held), forfeited: tidy(n.forfeited) }))
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
  };
}
