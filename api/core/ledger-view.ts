/** Turns ledger entries into the client's views: credited totals per job and per node. */
import type { JobLedger, LedgerEntry, NodeLedger, Usage } from '../protocol/metering.ts';

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

/** `GET /v1/jobs/:id/ledger`: credited totals of the job, overall and per node, and every entry. */
export function toJobLedger(jobId: string, entries: LedgerEntry[]): JobLedger {
  const total = zero();
  const byNode: Record<string, Usage> = {};
  for (const e of entries) {
    if (e.state !== 'credited') continue;
    add(total, e);
    add((byNode[e.nodeId] ??= zero()), e);
  }
  return { jobId, total: tidy(total), byNode: Object.fromEntries(Object.entries(byNode).map(([k, v]) => [k, tidy(v)])), entries };
}

/** `GET /v1/ledger`: credited totals per node, with how many jobs each worked on. */
export function toNodeLedger(entries: LedgerEntry[]): NodeLedger {
  const nodes = new Map<string, { usage: Usage; jobs: Set<string> }>();
  for (const e of entries) {
    if (e.state !== 'credited') continue;
    let n = nodes.get(e.nodeId);
    if (!n) nodes.set(e.nodeId, (n = { usage: zero(), jobs: new Set() }));
    add(n.usage, e);
    n.jobs.add(e.jobId);
  }
  return { nodes: [...nodes].map(([nodeId, n]) => ({ nodeId, ...tidy(n.usage), jobs: n.jobs.size })).sort((a, b) => a.nodeId.localeCompare(b.nodeId)) };
}
