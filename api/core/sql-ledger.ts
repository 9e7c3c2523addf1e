/**
 * The SQL job store's ledger: a line per completed task, credited, pending or voided as verification decides, and
 * forfeited when its node is proven a liar. Crediting a render result measures its node; a node whose card claims
 * far more than it measures is proven to lie (checkClaims).
 */
import type { LedgerEntry } from '../protocol/metering.ts';
import type { JobRecord, LedgerFilter, TaskRecord } from './job-store.ts';
import type { SqlDriver, SqlValue } from './sql-driver.ts';
import { num, type Row, rowToLedger, rowToNode, str } from './sql-job-rows.ts';
import { chargedMs, inflatedClaim, type ClaimRules } from './node-trust.ts';
import { getNode } from './sql-node-store.ts';
import { REFERENCE_TILE_PIXELS } from './routing/router.ts';

/** Write a ledger line for the node that completed `task`; `wall_ms` is what the API saw, lease to completion. */
export function addLedger(db: SqlDriver, task: TaskRecord, job: JobRecord, renderMs: number, state: LedgerEntry['state'], now: number): void {
  const pixels = task.kind === 'stitch' || !task.tile ? 0 : task.tile.width * task.tile.height * job.view.ssaa * job.view.ssaa;
  const wallMs = Math.max(1, now - (task.leasedAt ?? now));
  db.run(
    `INSERT INTO ledger (task_id, job_id, node_id, kind, attempt, render_ms, pixels, tiles, state, at, wall_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [task.taskId, task.jobId, task.nodeId!, task.kind, task.attempts, renderMs, pixels, task.kind === 'stitch' || !task.tile ? 0 : 1, state, now, wallMs],
  );
  if (state === 'credited') measure(db, task.nodeId!, pixels, chargedMs(renderMs, wallMs));
}

export function setLedger(db: SqlDriver, where: string, params: SqlValue[], state: LedgerEntry['state']): void {
  if (state === 'credited') {
    // Accepted results are what a node's measured speed is made of (never its card's claim).
    for (const r of db.all<Row>(`SELECT node_id, pixels, render_ms, wall_ms FROM ledger WHERE (${where}) AND state <> 'credited'`, params)) {
      measure(db, str(r.node_id), num(r.pixels), chargedMs(num(r.render_ms), num(r.wall_ms ?? 0)));
    }
  }
  db.run(`UPDATE ledger SET state = ? WHERE ${where}`, [state, ...params]);
}

/** Add one accepted render result to the node's measured throughput. */
function measure(db: SqlDriver, nodeId: string, pixels: number, ms: number): void {
  if (pixels <= 0 || ms <= 0) return;
  const tilesPerSecond = pixels / REFERENCE_TILE_PIXELS / (ms / 1000);
  db.run(
    `UPDATE nodes SET measured_pixels = measured_pixels + ?, measured_ms = measured_ms + ?, measured_results = measured_results + 1,
       measured_best = MAX(measured_best, ?) WHERE node_id = ?`,
    [pixels, ms, tilesPerSecond, nodeId],
  );
}

export function listLedger(db: SqlDriver, filter: LedgerFilter): LedgerEntry[] {
  return db
    .all<Row>(`SELECT * FROM ledger WHERE (? IS NULL OR job_id = ?) AND (? IS NULL OR node_id = ?) ORDER BY seq`, [
      filter.jobId ?? null,
      filter.jobId ?? null,
      filter.nodeId ?? null,
      filter.nodeId ?? null,
    ])
    .map(rowToLedger);
}

/** Peers an inflated-claim check compares with: the most recently seen measured nodes. */
const CLAIM_PEERS = 64;

/**
 * Of `nodeIds` (nodes just measured), those whose cards are proven inflated now, with why (node-trust.ts
 * inflatedClaim): not blocklisted, with enough accepted results, compared with the other measured nodes in good
 * standing. Checked at the thresholds (the `inflatedClaimAfter`th result, its next three multiples, then powers of
 * two): a node's fastest result only gets faster, so its claim looks worst early, and the check stays cheap.
 */
export function inflatedClaims(db: SqlDriver, nodeIds: readonly string[], rules: ClaimRules): { nodeId: string; reason: string }[] {
  const out: { nodeId: string; reason: string }[] = [];
  for (const nodeId of new Set(nodeIds)) {
    const node = getNode(db, nodeId);
    const results = node?.throughput?.results ?? 0;
    if (!node || node.reputation?.blocklisted || results < rules.inflatedClaimAfter) continue;
    const due = results <= 4 * rules.inflatedClaimAfter ? results % rules.inflatedClaimAfter === 0 : (results & (results - 1)) === 0;
    if (!due) continue;
    const peers = db
      .all<Row>(`SELECT * FROM nodes WHERE node_id <> ? AND blocklisted_at IS NULL AND measured_results > 0 ORDER BY last_seen_at DESC LIMIT ?`, [nodeId, CLAIM_PEERS])
      .map(rowToNode);
    const reason = inflatedClaim(node, peers, rules);
    if (reason) out.push({ nodeId, reason });
  }
  return out;
}
