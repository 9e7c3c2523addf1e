/** The SQL job store's ledger: a line per completed task, credited, pending or voided as verification decides. */
import type { LedgerEntry } from '../protocol/metering.ts';
import type { JobRecord, LedgerFilter, TaskRecord } from './job-store.ts';
import type { SqlDriver, SqlValue } from './sql-driver.ts';
import { type Row, rowToLedger } from './sql-job-rows.ts';

/** Write a ledger line for the node that completed `task`. */
export function addLedger(db: SqlDriver, task: TaskRecord, job: JobRecord, renderMs: number, state: LedgerEntry['state'], now: number): void {
  const pixels = task.kind === 'stitch' || !task.tile ? 0 : task.tile.width * task.tile.height * job.view.ssaa * job.view.ssaa;
  db.run(
    `INSERT INTO ledger (task_id, job_id, node_id, kind, attempt, render_ms, pixels, tiles, state, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [task.taskId, task.jobId, task.nodeId!, task.kind, task.attempts, renderMs, pixels, task.kind === 'stitch' ? 0 : 1, state, now],
  );
}

export function setLedger(db: SqlDriver, where: string, params: SqlValue[], state: LedgerEntry['state']): void {
  db.run(`UPDATE ledger SET state = ? WHERE ${where}`, [state, ...params]);
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
