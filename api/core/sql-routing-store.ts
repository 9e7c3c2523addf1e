/** The SQL job store's routing reads and writes: runnable jobs, routable tasks, routes, kept values (RoutingStore). */
import type { JobRecord, RoutableTask, RouteAssignment } from './job-store.ts';
import type { SqlDriver } from './sql-driver.ts';
import { ROUTABLE_OF_JOB, RUNNABLE_JOBS, type Row, SET_ROUTE, rowToJob, rowToTask, str } from './sql-job-rows.ts';

export function listRoutedNodes(db: SqlDriver): string[] {
  return db.all<Row>(`SELECT DISTINCT route_node AS node FROM tasks WHERE state = 'queued' AND route_node IS NOT NULL`).map((r) => str(r.node));
}

export function listRunnableJobs(db: SqlDriver): JobRecord[] {
  return db.all<Row>(RUNNABLE_JOBS).map(rowToJob);
}

export function listRoutableTasks(db: SqlDriver, input: { jobId: string; now: number; limit: number; rerouteFrom: string[] }): RoutableTask[] {
  if (input.limit <= 0) return [];
  const rows = db.all<Row>(ROUTABLE_OF_JOB, [input.jobId, input.now, JSON.stringify(input.rerouteFrom), input.limit]);
  return rows.map((r) => {
    const task = rowToTask(r);
    const failed =
      task.attempts > 0
        ? db.all<Row>(`SELECT DISTINCT node_id FROM task_failures WHERE task_id = ? AND node_id <> ''`, [task.taskId]).map((f) => str(f.node_id))
        : [];
    // Nodes the task excludes (outvoted on it) are avoided like the ones it failed on.
    return { task, failedOn: [...new Set([...failed, ...task.excludeNodes])] };
  });
}

export function setTaskRoutes(db: SqlDriver, assignments: RouteAssignment[]): number {
  return db.transaction(() => {
    let applied = 0;
    for (const a of assignments) {
      applied += db.run(SET_ROUTE, [a.route.nodeId, a.route.fallbackId, a.route.fallbackAt, a.openAt, JSON.stringify(a.route), a.taskId, a.expectNode]);
    }
    return applied;
  });
}

export function getMeta(db: SqlDriver, key: string): string | null {
  const row = db.all<Row>(`SELECT value FROM meta WHERE key = ?`, [key])[0];
  return row ? str(row.value) : null;
}

export function initMeta(db: SqlDriver, key: string, value: string): string {
  return db.transaction(() => {
    db.run(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, [key, value]);
    return getMeta(db, key)!;
  });
}

export function setMeta(db: SqlDriver, key: string, value: string): void {
  db.run(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, value]);
}
