/**
 * The JobStore on any synchronous SQLite (`SqlDriver`): better-sqlite3 in the Node adapter, a Durable
 * Object's SQL storage on Workers. Each operation runs in one transaction and applies the state machine's
 * decisions, so concurrent lease calls can never hand one task to two nodes.
 */
import { TesseraError } from '../protocol/errors.ts';
import type { JobState, TaskState } from '../protocol/job-status.ts';
import type { NodeCard } from '../protocol/node-card.ts';
import type { EncodeSpec, TileRect, ViewSpec } from '../protocol/render-spec.ts';
import { JOB_STORE_SCHEMA } from './job-store-schema.ts';
import type {
  CompleteInput,
  FailInput,
  HeartbeatInput,
  JobRecord,
  JobStore,
  LeaseInput,
  NodeRecord,
  SceneRecord,
  TaskCounts,
  TaskKind,
  TaskOutcome,
  TaskRecord,
} from './job-store.ts';
import type { SceneInfo } from './scene-inspector.ts';
import type { SqlDriver, SqlValue } from './sql-driver.ts';
import { stepJob, stepTask, type StatusChange } from './state-machine.ts';
import type { TaskPolicy } from './task-policy.ts';

type Row = Record<string, SqlValue>;

const str = (v: SqlValue): string => String(v);
const num = (v: SqlValue): number => Number(v);
const optNum = (v: SqlValue): number | null => (v === null ? null : Number(v));
const optStr = (v: SqlValue): string | null => (v === null ? null : String(v));

function rowToScene(r: Row): SceneRecord {
  return {
    sceneId: str(r.scene_id),
    bytes: num(r.bytes),
    stats: JSON.parse(str(r.stats)) as Record<string, unknown>,
    info: JSON.parse(str(r.info)) as SceneInfo,
    createdAt: num(r.created_at),
  };
}

function rowToJob(r: Row): JobRecord {
  return {
    jobId: str(r.job_id),
    sceneId: str(r.scene_id),
    state: str(r.state) as JobState,
    priority: num(r.priority),
    view: JSON.parse(str(r.view)) as ViewSpec,
    encode: JSON.parse(str(r.encode)) as EncodeSpec,
    frames: JSON.parse(str(r.frames)) as number[],
    tile: optNum(r.tile),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    startedAt: optNum(r.started_at),
    finishedAt: optNum(r.finished_at),
    error: optStr(r.error),
  };
}

function rowToTask(r: Row): TaskRecord {
  return {
    taskId: str(r.task_id),
    jobId: str(r.job_id),
    kind: str(r.kind) as TaskKind,
    frame: num(r.frame),
    index: num(r.idx),
    tile: r.tile === null ? null : (JSON.parse(str(r.tile)) as TileRect),
    final: num(r.final) === 1,
    outputKey: str(r.output_key),
    state: str(r.state) as TaskState,
    attempts: num(r.attempts),
    nodeId: optStr(r.node_id),
    leaseId: optStr(r.lease_id),
    leaseExpiresAt: optNum(r.lease_expires_at),
    notBefore: num(r.not_before),
    error: optStr(r.error),
    result: r.result_checksum === null ? null : { bytes: num(r.result_bytes), checksum: str(r.result_checksum) },
    updatedAt: num(r.updated_at),
  };
}

function rowToNode(r: Row): NodeRecord {
  return {
    nodeId: str(r.node_id),
    tokenHash: str(r.token_hash),
    card: JSON.parse(str(r.card)) as NodeCard,
    registeredAt: num(r.registered_at),
    lastSeenAt: num(r.last_seen_at),
    load: num(r.load),
  };
}

const INSERT_TASK = `INSERT INTO tasks (task_id, job_id, kind, frame, idx, tile, final, output_key, state, attempts, node_id,
  lease_id, lease_expires_at, not_before, error, result_bytes, result_checksum, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

const UPDATE_TASK = `UPDATE tasks SET state = ?, attempts = ?, node_id = ?, lease_id = ?, lease_expires_at = ?, not_before = ?,
  error = ?, result_bytes = ?, result_checksum = ?, updated_at = ? WHERE task_id = ?`;

const UPDATE_JOB = `UPDATE jobs SET state = ?, updated_at = ?, started_at = ?, finished_at = ?, error = ? WHERE job_id = ?`;

/** Jobs that may hand out tasks, in lease order: highest priority, then oldest. */
const RUNNABLE_JOBS = `SELECT job_id FROM jobs WHERE state IN ('queued', 'running') ORDER BY priority DESC, created_at, seq`;

/**
 * A job's next leasable task in frame order (renders before the stitch): queued, past its backoff, and
 * for a stitch task every render task of its frame done. Walks the tasks_queue index, so it reads only
 * the first open tasks of the job, however many it has.
 */
const NEXT_TASK_OF_JOB = `SELECT t.* FROM tasks t
  WHERE t.job_id = ? AND t.state = 'queued' AND t.not_before <= ?
    AND (t.kind = 'render' OR NOT EXISTS (
      SELECT 1 FROM tasks r WHERE r.job_id = t.job_id AND r.frame = t.frame AND r.kind = 'render' AND r.state <> 'done'))
  ORDER BY t.frame, t.kind, t.idx
  LIMIT 1`;

/** The JobStore over a synchronous SQLite connection; creates the schema if missing. */
export class SqlJobStore implements JobStore {
  readonly #db: SqlDriver;

  constructor(db: SqlDriver) {
    this.#db = db;
    db.exec(JOB_STORE_SCHEMA);
  }

  async putScene(scene: SceneRecord): Promise<SceneRecord> {
    return this.#db.transaction(() => {
      this.#db.run(
        `INSERT INTO scenes (scene_id, bytes, stats, info, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (scene_id) DO NOTHING`,
        [scene.sceneId, scene.bytes, JSON.stringify(scene.stats), JSON.stringify(scene.info), scene.createdAt],
      );
      return this.#scene(scene.sceneId)!;
    });
  }

  async getScene(sceneId: string): Promise<SceneRecord | null> {
    return this.#scene(sceneId);
  }

  async createJob(job: JobRecord, tasks: TaskRecord[]): Promise<void> {
    this.#db.transaction(() => {
      this.#db.run(
        `INSERT INTO jobs (job_id, scene_id, state, priority, view, encode, frames, tile, created_at, updated_at, started_at, finished_at, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          job.jobId,
          job.sceneId,
          job.state,
          job.priority,
          JSON.stringify(job.view),
          JSON.stringify(job.encode),
          JSON.stringify(job.frames),
          job.tile,
          job.createdAt,
          job.updatedAt,
          job.startedAt,
          job.finishedAt,
          job.error,
        ],
      );
      for (const t of tasks) {
        this.#db.run(INSERT_TASK, [
          t.taskId,
          t.jobId,
          t.kind,
          t.frame,
          t.index,
          t.tile === null ? null : JSON.stringify(t.tile),
          t.final ? 1 : 0,
          t.outputKey,
          t.state,
          t.attempts,
          t.nodeId,
          t.leaseId,
          t.leaseExpiresAt,
          t.notBefore,
          t.error,
          t.result?.bytes ?? null,
          t.result?.checksum ?? null,
          t.updatedAt,
        ]);
      }
    });
  }

  async getJob(jobId: string): Promise<JobRecord | null> {
    return this.#job(jobId);
  }

  async listTasks(jobId: string): Promise<TaskRecord[]> {
    return this.#db.all<Row>(`SELECT * FROM tasks WHERE job_id = ? ORDER BY frame, kind, idx`, [jobId]).map(rowToTask);
  }

  async getTask(taskId: string): Promise<TaskRecord | null> {
    return this.#task(taskId);
  }

  async listFrameTasks(jobId: string, frame: number): Promise<TaskRecord[]> {
    return this.#db.all<Row>(`SELECT * FROM tasks WHERE job_id = ? AND frame = ? ORDER BY kind, idx`, [jobId, frame]).map(rowToTask);
  }

  async listFinishedFrames(jobId: string): Promise<TaskRecord[]> {
    return this.#db
      .all<Row>(`SELECT * FROM tasks WHERE job_id = ? AND state = 'done' AND (kind = 'stitch' OR final = 1) ORDER BY frame`, [jobId])
      .map(rowToTask);
  }

  async countTasks(jobId: string): Promise<TaskCounts> {
    const row = this.#db.all<Row>(
      `SELECT COUNT(*) AS tasks,
         COALESCE(SUM(state = 'done'), 0) AS tasks_done,
         COALESCE(SUM(kind = 'render'), 0) AS renders,
         COALESCE(SUM(kind = 'render' AND state = 'done'), 0) AS renders_done,
         COALESCE(SUM((kind = 'stitch' OR final = 1) AND state = 'done'), 0) AS frames_done
       FROM tasks WHERE job_id = ?`,
      [jobId],
    )[0];
    return {
      tasks: num(row.tasks),
      tasksDone: num(row.tasks_done),
      renders: num(row.renders),
      rendersDone: num(row.renders_done),
      framesDone: num(row.frames_done),
    };
  }

  async cancelJob(jobId: string, now: number): Promise<{ job: JobRecord; changes: StatusChange[] }> {
    return this.#db.transaction(() => {
      const job = this.#job(jobId);
      if (!job) throw new TesseraError('JOB_NOT_FOUND', `No job with id ${jobId}.`);
      const step = stepJob(job, { type: 'cancel', now });
      this.#saveJob(step.job);
      const changes = [step.change, ...this.#cancelUnfinished(jobId, 'job cancelled', now)];
      return { job: step.job, changes };
    });
  }

  async registerNode(node: NodeRecord): Promise<void> {
    this.#db.run(
      `INSERT INTO nodes (node_id, token_hash, card, registered_at, last_seen_at, load) VALUES (?, ?, ?, ?, ?, ?)`,
      [node.nodeId, node.tokenHash, JSON.stringify(node.card), node.registeredAt, node.lastSeenAt, node.load],
    );
  }

  async getNode(nodeId: string): Promise<NodeRecord | null> {
    const row = this.#db.all<Row>(`SELECT * FROM nodes WHERE node_id = ?`, [nodeId])[0];
    return row ? rowToNode(row) : null;
  }

  async findNodeByTokenHash(tokenHash: string): Promise<NodeRecord | null> {
    const row = this.#db.all<Row>(`SELECT * FROM nodes WHERE token_hash = ?`, [tokenHash])[0];
    return row ? rowToNode(row) : null;
  }

  async heartbeat(input: HeartbeatInput): Promise<{ revoked: string[] }> {
    return this.#db.transaction(() => {
      const seen = this.#db.run(`UPDATE nodes SET last_seen_at = ?, load = ? WHERE node_id = ?`, [input.now, input.load, input.nodeId]);
      if (seen === 0) throw new TesseraError('NODE_NOT_FOUND', `No node with id ${input.nodeId}; register again.`);
      const revoked: string[] = [];
      for (const leaseId of new Set(input.leaseIds)) {
        // An expired lease nobody has taken over yet is still the node's: extending it saves the work.
        const extended = this.#db.run(
          `UPDATE tasks SET lease_expires_at = ?, updated_at = ? WHERE lease_id = ? AND node_id = ? AND state = 'leased'`,
          [input.now + input.policy.leaseMs, input.now, leaseId, input.nodeId],
        );
        if (extended === 0) revoked.push(leaseId);
      }
      return { revoked };
    });
  }

  async expireLeases(now: number, policy: TaskPolicy): Promise<StatusChange[]> {
    return this.#db.transaction(() => {
      const expired = this.#db
        .all<Row>(`SELECT * FROM tasks WHERE state = 'leased' AND lease_expires_at < ? ORDER BY lease_expires_at`, [now])
        .map(rowToTask);
      const changes: StatusChange[] = [];
      for (const task of expired) {
        // A task of a job failed earlier in this loop is cancelled by then.
        const current = this.#task(task.taskId)!;
        if (current.state !== 'leased') continue;
        const nodeFailures = this.#recordFailure(current, `lease expired on node ${current.nodeId}`, false, now);
        changes.push(...this.#applyTaskStep(current, stepTask(current, { type: 'expire', nodeFailures, now, policy }), now).changes);
      }
      return changes;
    });
  }

  async leaseNext(input: LeaseInput): Promise<TaskOutcome | null> {
    return this.#db.transaction(() => {
      let row: Row | undefined;
      for (const { job_id } of this.#db.all<{ job_id: string }>(RUNNABLE_JOBS)) {
        row = this.#db.all<Row>(NEXT_TASK_OF_JOB, [job_id, input.now])[0];
        if (row) break;
      }
      if (!row) return null;
      const task = rowToTask(row);
      const step = stepTask(task, { type: 'lease', nodeId: input.nodeId, leaseId: input.leaseId, now: input.now, leaseMs: input.policy.leaseMs });
      this.#saveTask(step.task);
      const changes = [step.change];
      let job = this.#job(task.jobId)!;
      if (job.state === 'queued') {
        const started = stepJob(job, { type: 'start', now: input.now });
        this.#saveJob(started.job);
        changes.push(started.change);
        job = started.job;
      }
      return { task: step.task, job, changes };
    });
  }

  async completeTask(input: CompleteInput): Promise<TaskOutcome> {
    return this.#db.transaction(() => {
      const done = this.#task(input.taskId);
      // A node retrying a completion whose answer it lost gets the same answer, not LEASE_LOST.
      if (done?.state === 'done' && done.nodeId === input.nodeId && done.result?.checksum === input.result.checksum) {
        return { task: done, job: this.#job(done.jobId)!, changes: [] };
      }
      const task = this.#heldTask(input.taskId, input.nodeId, input.leaseId);
      const step = stepTask(task, { type: 'complete', result: input.result, now: input.now });
      this.#saveTask(step.task);
      const changes = [step.change];
      let job = this.#job(task.jobId)!;
      const left = this.#db.all<{ n: number }>(
        `SELECT COUNT(*) AS n FROM tasks WHERE job_id = ? AND state IN ('queued', 'leased', 'failed', 'cancelled')`,
        [task.jobId],
      )[0].n;
      if (left === 0 && job.state === 'running') {
        const finished = stepJob(job, { type: 'finish', now: input.now });
        this.#saveJob(finished.job);
        changes.push(finished.change);
        job = finished.job;
      }
      return { task: step.task, job, changes };
    });
  }

  async failTask(input: FailInput): Promise<TaskOutcome> {
    return this.#db.transaction(() => {
      const task = this.#heldTask(input.taskId, input.nodeId, input.leaseId);
      const reason = input.sceneFault ? `scene fault: ${input.reason}` : input.reason;
      const nodeFailures = this.#recordFailure(task, reason, input.sceneFault, input.now);
      const step = stepTask(task, { type: 'fail', reason, nodeFailures, now: input.now, policy: input.policy });
      return this.#applyTaskStep(task, step, input.now);
    });
  }

  async close(): Promise<void> {
    this.#db.close();
  }

  #scene(sceneId: string): SceneRecord | null {
    const row = this.#db.all<Row>(`SELECT * FROM scenes WHERE scene_id = ?`, [sceneId])[0];
    return row ? rowToScene(row) : null;
  }

  #job(jobId: string): JobRecord | null {
    const row = this.#db.all<Row>(`SELECT * FROM jobs WHERE job_id = ?`, [jobId])[0];
    return row ? rowToJob(row) : null;
  }

  #task(taskId: string): TaskRecord | null {
    const row = this.#db.all<Row>(`SELECT * FROM tasks WHERE task_id = ?`, [taskId])[0];
    return row ? rowToTask(row) : null;
  }

  /** The task, if `nodeId` holds it under `leaseId`; throws TASK_NOT_FOUND or LEASE_LOST otherwise. */
  #heldTask(taskId: string, nodeId: string, leaseId: string): TaskRecord {
    const task = this.#task(taskId);
    if (!task) throw new TesseraError('TASK_NOT_FOUND', `No task with id ${taskId}.`);
    // A task that is no longer leased gets the state machine's explanation (cancelled, requeued, done).
    if (task.state === 'leased' && (task.leaseId !== leaseId || task.nodeId !== nodeId)) {
      throw new TesseraError('LEASE_LOST', `Task ${taskId} is leased under another lease; this one expired or belongs to another node.`);
    }
    return task;
  }

  /** Record a failed attempt; returns how many different nodes have now failed the task. */
  #recordFailure(task: TaskRecord, reason: string, sceneFault: boolean, now: number): number {
    this.#db.run(
      `INSERT OR REPLACE INTO task_failures (task_id, attempt, node_id, reason, scene_fault, at) VALUES (?, ?, ?, ?, ?, ?)`,
      [task.taskId, task.attempts, task.nodeId ?? '', reason, sceneFault ? 1 : 0, now],
    );
    return this.#db.all<{ n: number }>(`SELECT COUNT(DISTINCT node_id) AS n FROM task_failures WHERE task_id = ?`, [task.taskId])[0].n;
  }

  /** Save a task step; when it exhausts the task's retries, fail the job and cancel its other tasks. */
  #applyTaskStep(before: TaskRecord, step: ReturnType<typeof stepTask>, now: number): TaskOutcome {
    this.#saveTask(step.task);
    const changes = [step.change];
    let job = this.#job(before.jobId)!;
    if (step.jobFailure !== null && job.state !== 'failed' && job.state !== 'cancelled' && job.state !== 'done') {
      const failed = stepJob(job, { type: 'fail', reason: step.jobFailure, now });
      this.#saveJob(failed.job);
      changes.push(failed.change, ...this.#cancelUnfinished(job.jobId, 'job failed', now));
      job = failed.job;
    }
    return { task: step.task, job, changes };
  }

  #cancelUnfinished(jobId: string, reason: string, now: number): StatusChange[] {
    const open = this.#db.all<Row>(`SELECT * FROM tasks WHERE job_id = ? AND state IN ('queued', 'leased')`, [jobId]).map(rowToTask);
    return open.map((task) => {
      const step = stepTask(task, { type: 'cancel', reason, now });
      this.#saveTask(step.task);
      return step.change;
    });
  }

  #saveTask(t: TaskRecord): void {
    this.#db.run(UPDATE_TASK, [
      t.state,
      t.attempts,
      t.nodeId,
      t.leaseId,
      t.leaseExpiresAt,
      t.notBefore,
      t.error,
      t.result?.bytes ?? null,
      t.result?.checksum ?? null,
      t.updatedAt,
      t.taskId,
    ]);
  }

  #saveJob(j: JobRecord): void {
    this.#db.run(UPDATE_JOB, [j.state, j.updatedAt, j.startedAt, j.finishedAt, j.error, j.jobId]);
  }
}
