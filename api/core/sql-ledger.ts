/** The SQL job store's ledger: a line per completed task, credited, pending or voided as verification decides. */
import type { LedgerEntry } from '../protocol/metering.ts';
import type { JobRecord, LedgerFilter, TaskRecord } from './job-store.ts';
import type { SqlDriver, SqlValue } from './sql-driver.ts';
import { num, type Row, rowToLedger, str } from './sql-job-rows.ts';
import { chargedMs } from './node-trust.ts';
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
