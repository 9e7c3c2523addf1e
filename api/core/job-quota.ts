/**
 * Per-key job quotas, checked and spent in one step: jobs queued or running at once (`maxActiveJobs`), their
 * tasks not yet done (`maxActiveTasks`, counted from the task rows) and megapixels submitted in a rolling day
 * (`megapixelsPerDay`). The store counts and inserts in one
 * synchronous unit (one SQLite transaction on Node, one coordinator call on Workers), so two submissions
 * racing each other cannot both take the last slot.
 */
import type { SqlDriver } from './sql-driver.ts';
import type { JobRecord } from './job-store.ts';

/** The window `megapixelsPerDay` counts over. */
export const QUOTA_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface JobQuota {
  maxActiveJobs: number;
  maxActiveTasks: number;
  megapixelsPerDay: number;
  /** Now, by the API's clock: the megapixel window ends here. */
  now: number;
}

/** What a submission found: created, or which quota stopped it and how much of it was in use. */
export type JobQuotaVerdict =
  | { ok: true }
  | { ok: false; quota: 'maxActiveJobs'; active: number }
  | { ok: false; quota: 'maxActiveTasks'; active: number; needed: number }
  | { ok: false; quota: 'megapixelsPerDay'; used: number; needed: number };

/** Megapixels a job asks for: frames × width × height × ssaa² (what nodes shade, verification aside). */
export function jobMegapixels(job: Pick<JobRecord, 'frames' | 'view'>): number {
  const ssaa = job.view.ssaa ?? 1;
  return (job.frames.length * job.view.width * job.view.height * ssaa * ssaa) / 1e6;
}

// The same sum as jobMegapixels, over the JSON columns, so no schema change is needed.
const USED_SQL = `SELECT COALESCE(SUM(json_array_length(frames) * json_extract(view, '$.width') * json_extract(view, '$.height')
    * COALESCE(json_extract(view, '$.ssaa'), 1) * COALESCE(json_extract(view, '$.ssaa'), 1)), 0) / 1e6 AS mp
  FROM jobs WHERE owner = ? AND created_at > ?`;
const ACTIVE_SQL = `SELECT COUNT(*) AS n FROM jobs WHERE owner = ? AND state IN ('queued', 'running')`;
/** A maxActiveTasks at or above this is not counted (the store could not hold that many tasks anyway). */
const UNCOUNTED_TASKS = 1e9;
const ACTIVE_TASKS_SQL = `SELECT COUNT(*) AS n FROM tasks WHERE state IN ('queued', 'leased')
  AND job_id IN (SELECT job_id FROM jobs WHERE owner = ? AND state IN ('queued', 'running'))`;

/** Whether `owner` may add `job` under `quota`; synchronous, so the caller can insert before anyone else runs. */
export function checkJobQuota(db: SqlDriver, owner: string, job: Pick<JobRecord, 'frames' | 'view'>, quota: JobQuota, tasks: number): JobQuotaVerdict {
  const [active] = db.all<{ n: number }>(ACTIVE_SQL, [owner]);
  const n = Number(active?.n ?? 0);
  if (n >= quota.maxActiveJobs) return { ok: false, quota: 'maxActiveJobs', active: n };
  // The count reads every open task of the key; a cap no backlog can reach (the admin's) skips it.
  if (quota.maxActiveTasks < UNCOUNTED_TASKS) {
    const [open] = db.all<{ n: number }>(ACTIVE_TASKS_SQL, [owner]);
    const openTasks = Number(open?.n ?? 0);
    if (openTasks + tasks > quota.maxActiveTasks) return { ok: false, quota: 'maxActiveTasks', active: openTasks, needed: tasks };
  }
  const [used] = db.all<{ mp: number }>(USED_SQL, [owner, quota.now - QUOTA_WINDOW_MS]);
  const mp = Number(used?.mp ?? 0);
  const needed = jobMegapixels(job);
  if (mp + needed > quota.megapixelsPerDay) return { ok: false, quota: 'megapixelsPerDay', used: mp, needed };
  return { ok: true };
}
