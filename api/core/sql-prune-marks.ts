/**
 * The SQL job store's storage clean-up marks (see prune-schedule.ts): an ended job's `prune_due_at`, stamped when
 * it ends (`markPruneDue`, from saveJob), listed by the sweep once due, and settled by it (cleared, or moved on
 * when storage failed). A settle names the due time it read, so two sweeps never undo each other's work.
 */
import type { PruneDue } from './job-store.ts';
import { PRUNE_DELAY_DEFAULT_MS, PRUNE_DELAY_META } from './prune-schedule.ts';
import type { SqlDriver, SqlValue } from './sql-driver.ts';

type Row = Record<string, SqlValue>;
const num = (v: SqlValue): number => Number(v);

/** Keep `ms` as the delay jobs ending from now on are stamped with. */
export function setPruneDelay(db: SqlDriver, ms: number): void {
  db.run(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [PRUNE_DELAY_META, String(Math.max(0, Math.round(ms)))]);
}

/** Stamp the job's clean-up as due `delay` after `endedAt`, unless it has a mark already (a job ends once). */
export function markPruneDue(db: SqlDriver, jobId: string, endedAt: number): void {
  const kept = db.all<Row>(`SELECT value FROM meta WHERE key = ?`, [PRUNE_DELAY_META])[0];
  const delay = kept ? num(kept.value) : PRUNE_DELAY_DEFAULT_MS;
  db.run(`UPDATE jobs SET prune_due_at = ? WHERE job_id = ? AND prune_due_at IS NULL`, [endedAt + delay, jobId]);
}

/** Jobs whose clean-up is due by `now`, earliest first, at most `limit`. */
export function listDuePrunes(db: SqlDriver, input: { now: number; limit: number }): PruneDue[] {
  const limit = Math.max(0, Math.floor(input.limit));
  if (limit === 0) return [];
  return db
    .all<Row>(`SELECT job_id, prune_due_at FROM jobs WHERE prune_due_at IS NOT NULL AND prune_due_at <= ? ORDER BY prune_due_at, seq LIMIT ?`, [input.now, limit])
    .map((r) => ({ jobId: String(r.job_id), dueAt: num(r.prune_due_at) }));
}

/** Clear the job's mark (`retryAt` null) or move it to `retryAt`, if it is still `dueAt`; whether it did. */
export function settlePrune(db: SqlDriver, input: { jobId: string; dueAt: number; retryAt: number | null }): boolean {
  return db.run(`UPDATE jobs SET prune_due_at = ? WHERE job_id = ? AND prune_due_at = ?`, [input.retryAt, input.jobId, input.dueAt]) > 0;
}

/** The earliest clean-up due, or null when none is pending. */
export function nextPruneDueAt(db: SqlDriver): number | null {
  const row = db.all<Row>(`SELECT MIN(prune_due_at) AS at FROM jobs WHERE prune_due_at IS NOT NULL`)[0];
  return row && row.at !== null && row.at !== undefined ? num(row.at) : null;
}
