/** The SQL job store's queue and leases: creating and reading jobs, leasing, expiring, failing and cancelling tasks, each step through the state machine (JobQueueStore, less completion, which spans verification: see sql-job-store.ts). */
import { TesseraError } from '../protocol/errors.ts';
import type { NodeCard } from '../protocol/node-card.ts';
import { taskPixels } from './job-compiler.ts';
import { LEASE_AHEAD_MAX, type FailInput, type FinishedFramesSince, type JobRecord, type LeaseInput, type LeaseManyInput, type LeaseManyOutcome, type TaskCounts, type TaskOutcome, type TaskRecord, type TaskRoute } from './job-store.ts';
import { meetsRequirements } from './routing/requirements.ts';
import { expectedRenderMs } from './routing/router.ts';
import type { SqlDriver } from './sql-driver.ts';
import { reopenForRouting, stepJob, stepTask, type StatusChange } from './state-machine.ts';
import type { TaskPolicy } from './task-policy.ts';
import { FIRST_COME_JOBS_AHEAD_OF, FRAME_DONE, INSERT_TASK, NEXT_FALLBACK_FOR_NODE, NEXT_VERIFICATION_FOR_NODE, NEXT_OPEN_OF_ROUTED_JOB, NEXT_ROUTED_TO_NODE, NEXT_TASK_OF_JOB, RUNNABLE_JOBS, type Row, UNFINISHED_TASK, num, readJob, readTask, rowToJob, rowToTask, saveJob, saveTask, stateColumns, str, toJson } from './sql-job-rows.ts';

export function createJob(db: SqlDriver, job: JobRecord, tasks: TaskRecord[]): void {
  db.transaction(() => {
    db.run(
      `INSERT INTO jobs (job_id, scene_id, state, priority, view, encode, frames, tile, created_at, updated_at, started_at, finished_at, error,
         requirements, client, routed, owner)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        toJson(job.requirements),
        toJson(job.client),
        job.routed ? 1 : 0,
        job.owner,
      ],
    );
    for (const t of tasks) {
      db.run(INSERT_TASK, [
        t.taskId,
        t.jobId,
        t.kind,
        t.frame,
        t.index,
        t.tile === null ? null : JSON.stringify(t.tile),
        t.final ? 1 : 0,
        t.outputKey,
        t.verifies,
        ...stateColumns(t),
      ]);
    }
  });
}

export function getJob(db: SqlDriver, jobId: string): JobRecord | null {
  return readJob(db, jobId);
}

export function listTasks(db: SqlDriver, jobId: string): TaskRecord[] {
  return db.all<Row>(`SELECT * FROM tasks WHERE job_id = ? ORDER BY frame, kind, idx`, [jobId]).map(rowToTask);
}

export function getTask(db: SqlDriver, taskId: string): TaskRecord | null {
  return readTask(db, taskId);
}

export function listFrameTasks(db: SqlDriver, jobId: string, frame: number): TaskRecord[] {
  return db.all<Row>(`SELECT * FROM tasks WHERE job_id = ? AND frame = ? ORDER BY kind, idx`, [jobId, frame]).map(rowToTask);
}

export function listFinishedFrames(db: SqlDriver, jobId: string): TaskRecord[] {
  return db
    .all<Row>(`SELECT * FROM tasks WHERE job_id = ? AND ${FRAME_DONE} ORDER BY frame`, [jobId])
    .map(rowToTask);
}

export function listFinishedFramesSince(db: SqlDriver, jobId: string, after: number, limit: number): FinishedFramesSince {
  const rows = db.all<Row>(
    `SELECT * FROM tasks WHERE job_id = ? AND finished_seq IS NOT NULL AND finished_seq > ? AND ${FRAME_DONE} ORDER BY finished_seq LIMIT ?`,
    [jobId, after, limit],
  );
  return { tasks: rows.map(rowToTask), cursor: rows.length ? num(rows[rows.length - 1].finished_seq) : after };
}

export function listFinishedFramesAfter(db: SqlDriver, jobId: string, afterFrame: number, limit: number): TaskRecord[] {
  return db.all<Row>(`SELECT * FROM tasks WHERE job_id = ? AND frame > ? AND ${FRAME_DONE} ORDER BY frame LIMIT ?`, [jobId, afterFrame, limit]).map(rowToTask);
}

export function countTasks(db: SqlDriver, jobId: string): TaskCounts {
  const row = db.all<Row>(
    `SELECT COUNT(*) AS tasks,
       COALESCE(SUM(state = 'done'), 0) AS tasks_done,
       COALESCE(SUM(kind = 'render'), 0) AS renders,
       COALESCE(SUM(kind = 'render' AND state = 'done'), 0) AS renders_done,
       COALESCE(SUM(${FRAME_DONE}), 0) AS frames_done
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

export function cancelJob(db: SqlDriver, jobId: string, now: number): { job: JobRecord; changes: StatusChange[] } {
  return db.transaction(() => {
    const job = readJob(db, jobId);
    if (!job) throw new TesseraError('JOB_NOT_FOUND', `No job with id ${jobId}.`);
    const step = stepJob(job, { type: 'cancel', now });
    saveJob(db, step.job);
    const changes = [step.change, ...cancelUnfinished(db, jobId, 'job cancelled', now)];
    return { job: step.job, changes };
  });
}

export function expireLeases(db: SqlDriver, now: number, policy: TaskPolicy): StatusChange[] {
  return db.transaction(() => expireLeasesIn(db, now, policy));
}

/** expireLeases inside the caller's transaction. */
function expireLeasesIn(db: SqlDriver, now: number, policy: TaskPolicy): StatusChange[] {
  const expired = db
    .all<Row>(`SELECT * FROM tasks WHERE state = 'leased' AND lease_expires_at < ? ORDER BY lease_expires_at`, [now])
    .map(rowToTask);
  const changes: StatusChange[] = [];
  for (const task of expired) {
    // A task of a job failed earlier in this loop is cancelled by then.
    const current = readTask(db, task.taskId)!;
    if (current.state !== 'leased') continue;
    const counted = recordFailure(db, current, `lease expired on node ${current.nodeId}`, false, now, policy);
    const step = stepTask(current, { type: 'expire', nodeFailures: counted.nodeFailures, attempts: counted.attempts, now, policy });
    changes.push(...applyTaskStep(db, current, excludeIf(step, counted.exclude), now).changes);
  }
  return changes;
}

export function leaseNext(db: SqlDriver, input: LeaseInput): TaskOutcome | null {
  return db.transaction(() => {
    recordLeaseCallIn(db, input.nodeId, input.now);
    // No more leases than slots: a node cannot hoard tasks it is not working on.
    if (input.maxLeases !== undefined && heldLeases(db, input.nodeId) >= input.maxLeases) return null;
    return leaseOne(db, input, input.policy.leaseMs);
  });
}

/**
 * Lease up to `leaseIds.length` tasks in one transaction (see LeaseManyInput): expired leases first when asked,
 * then one task per lease id while the node holds fewer than its slots, and at most `ahead` (≤ LEASE_AHEAD_MAX)
 * lease-ahead tasks past them, each on a short first lease.
 */
export function leaseMany(db: SqlDriver, input: LeaseManyInput): LeaseManyOutcome {
  return db.transaction(() => {
    const expired = input.expire ? expireLeasesIn(db, input.now, input.policy) : [];
    recordLeaseCallIn(db, input.nodeId, input.now);
    const ahead = Math.max(0, Math.min(LEASE_AHEAD_MAX, Math.floor(input.ahead ?? 0)));
    const aheadLeaseMs = Math.max(1, Math.min(input.policy.leaseMs, input.aheadLeaseMs ?? input.policy.leaseMs));
    const slots = input.maxLeases ?? Infinity;
    let held = heldLeases(db, input.nodeId);
    const leased: TaskOutcome[] = [];
    for (const leaseId of input.leaseIds) {
      if (held >= slots + ahead) break;
      const got = leaseOne(db, { ...input, leaseId }, held >= slots ? aheadLeaseMs : input.policy.leaseMs);
      if (!got) break;
      leased.push(got);
      held++;
    }
    const routedJobs = db.all<Row>(`SELECT 1 AS x FROM jobs WHERE state IN ('queued', 'running') AND routed = 1 LIMIT 1`).length > 0;
    return { leased, expired, routedJobs, wakeAt: leased.length < input.leaseIds.length ? nextDeadline(db, input.now) : null };
  });
}

/**
 * The earliest time a task may become leasable with no event to announce it: a retry backoff or a routing grace
 * period (fallback, open) ending, or a lease running out (expired leases are swept at the next lease call, hence +1).
 */
function nextDeadline(db: SqlDriver, now: number): number | null {
  const row = db.all<{ t: number | null }>(
    `SELECT MIN(t) AS t FROM (
       SELECT MIN(lease_expires_at) + 1 AS t FROM tasks WHERE state = 'leased'
       UNION ALL SELECT MIN(not_before) FROM tasks WHERE state = 'queued' AND not_before > ?
       UNION ALL SELECT MIN(route_fallback_at) FROM tasks WHERE state = 'queued' AND route_fallback_at > ?
       UNION ALL SELECT MIN(route_open_at) FROM tasks WHERE state = 'queued' AND route_open_at > ?)`,
    [now, now, now],
  )[0];
  return row?.t === null || row?.t === undefined ? null : num(row.t);
}

/** A node asking for work is alive, heartbeat or not. */
function recordLeaseCallIn(db: SqlDriver, nodeId: string, now: number): void {
  db.run(`UPDATE nodes SET last_seen_at = MAX(last_seen_at, ?), last_lease_at = ? WHERE node_id = ?`, [now, now, nodeId]);
}

/** How many tasks the node holds leases on. */
function heldLeases(db: SqlDriver, nodeId: string): number {
  return db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE state = 'leased' AND node_id = ?`, [nodeId])[0].n;
}

/** Lease the node its next available task for `leaseMs`, inside the caller's transaction; null when none is. */
function leaseOne(db: SqlDriver, input: LeaseInput, leaseMs: number): TaskOutcome | null {
  const { nodeId, now, card } = input;
  let leasedAs: NonNullable<TaskRoute['leasedAs']> = 'chosen';
  const tilesOnly = card?.tilesOnly ? 1 : 0;
  let row = db.all<Row>(NEXT_ROUTED_TO_NODE, [nodeId, now, nodeId, tilesOnly])[0];
  // A node with routed work takes a verification waiting for it first (unless the routed work is of a more
  // urgent job): else verifications would wait for routed queues to run dry (phase 3), at the job's end. Without
  // routed work the phases below already take a frame's verification before later frames.
  if (row) {
    const routedPriority = num(db.all<Row>(`SELECT priority FROM jobs WHERE job_id = ?`, [row.job_id])[0]?.priority ?? 0);
    const verification = db.all<Row>(NEXT_VERIFICATION_FOR_NODE, [now, routedPriority, nodeId, tilesOnly])[0];
    if (verification) {
      row = verification;
      leasedAs = 'open';
    }
  }
  if (!row) {
    leasedAs = 'fallback';
    row = db.all<Row>(NEXT_FALLBACK_FOR_NODE, [nodeId, now, now, nodeId, tilesOnly])[0];
  }
  let jobRow: Row | undefined;
  // Routed work (chosen or fallback) waits for an older first-come job's ready task: lease order holds across both.
  if (row && leasedAs !== 'open') {
    const ahead = firstComeTaskAhead(db, str(row.job_id), input, tilesOnly);
    if (ahead) {
      ({ row, jobRow } = ahead);
      leasedAs = 'first-free';
    }
  }
  if (!row) {
    for (const j of db.all<Row>(RUNNABLE_JOBS)) {
      const job = rowToJob(j);
      if (card && !meetsRequirements(card, job.requirements ?? undefined)) continue;
      row = job.routed
        ? db.all<Row>(NEXT_OPEN_OF_ROUTED_JOB, [job.jobId, now, now, nodeId, tilesOnly])[0]
        : db.all<Row>(NEXT_TASK_OF_JOB, [job.jobId, now, nodeId, tilesOnly])[0];
      if (row) {
        leasedAs = job.routed ? 'open' : 'first-free';
        jobRow = j;
        break;
      }
    }
  }
  if (!row) return null;
  const task = rowToTask(row);
  let job = jobRow ? rowToJob(jobRow) : readJob(db, task.jobId)!;
  const step = stepTask(task, { type: 'lease', nodeId, leaseId: input.leaseId, now, leaseMs });
  const route: TaskRoute = task.route && leasedAs !== 'first-free' ? { ...task.route, leasedAs } : firstFreeRoute(task, job, nodeId, card, now);
  const leased: TaskRecord = { ...step.task, route };
  saveTask(db, leased);
  const changes = [step.change];
  if (job.state === 'queued') {
    const started = stepJob(job, { type: 'start', now });
    saveJob(db, started.job);
    changes.push(started.change);
    job = started.job;
  }
  return { task: leased, job, changes };
}

export function failTask(db: SqlDriver, input: FailInput): TaskOutcome {
  return db.transaction(() => {
    const task = heldTask(db, input.taskId, input.nodeId, input.leaseId);
    const reason = input.sceneFault ? `scene fault: ${input.reason}` : input.reason;
    const counted = recordFailure(db, task, reason, input.sceneFault, input.now, input.policy);
    const step = stepTask(task, { type: 'fail', reason, nodeFailures: counted.nodeFailures, attempts: counted.attempts, now: input.now, policy: input.policy });
    return applyTaskStep(db, task, excludeIf(step, counted.exclude), input.now);
  });
}

/** The task, if `nodeId` holds it under `leaseId`; throws TASK_NOT_FOUND or LEASE_LOST otherwise. */
export function heldTask(db: SqlDriver, taskId: string, nodeId: string, leaseId: string): TaskRecord {
  const task = readTask(db, taskId);
  if (!task) throw new TesseraError('TASK_NOT_FOUND', `No task with id ${taskId}.`);
  // A task that is no longer leased gets the state machine's explanation (cancelled, requeued, done).
  if (task.state === 'leased' && (task.leaseId !== leaseId || task.nodeId !== nodeId)) {
    throw new TesseraError('LEASE_LOST', `Task ${taskId} is leased under another lease; this one expired or belongs to another node.`);
  }
  return task;
}

/** What a task's failures count toward its limits, weighed by the failing nodes' records (see TaskPolicy.trustedAfterVerified). */
export interface CountedFailures {
  /** Distinct nodes whose failures count toward maxNodeFailures. */
  nodeFailures: number;
  /** Attempts that count toward maxAttempts. */
  attempts: number;
  /** The failing node is untrusted while a trusted node is around: it does not get this task again. */
  exclude: boolean;
}

/**
 * Record a failed attempt and weigh the task's failures. Trusted nodes' failures count in full; untrusted
 * nodes' count in full only in a farm with no trusted node seen within a lease, else at most as many as the
 * trusted ones: fresh ids alone can never fail a job, nor turn one trusted node's failure into a job failure.
 */
export function recordFailure(db: SqlDriver, task: TaskRecord, reason: string, sceneFault: boolean, now: number, policy: TaskPolicy): CountedFailures {
  db.run(
    `INSERT OR REPLACE INTO task_failures (task_id, attempt, node_id, reason, scene_fault, at) VALUES (?, ?, ?, ?, ?, ?)`,
    [task.taskId, task.attempts, task.nodeId ?? '', reason, sceneFault ? 1 : 0, now],
  );
  const trustAfter = policy.trustedAfterVerified ?? 0;
  const rows = db.all<Row>(
    `SELECT f.node_id AS node_id, COALESCE(n.verified_count, 0) AS verified FROM task_failures f LEFT JOIN nodes n ON n.node_id = f.node_id WHERE f.task_id = ?`,
    [task.taskId],
  );
  const distinct = (list: Row[]) => new Set(list.map((r) => String(r.node_id))).size;
  const trustedAround =
    trustAfter > 0 &&
    db.all<Row>(`SELECT 1 AS x FROM nodes WHERE verified_count >= ? AND blocklisted_at IS NULL AND last_seen_at >= ? LIMIT 1`, [trustAfter, now - policy.leaseMs]).length > 0;
  if (!trustedAround) return { nodeFailures: distinct(rows), attempts: task.attempts, exclude: false };
  const trusted = rows.filter((r) => num(r.verified) >= trustAfter);
  const untrusted = rows.filter((r) => num(r.verified) < trustAfter);
  const failer = rows.find((r) => String(r.node_id) === (task.nodeId ?? ''));
  return {
    nodeFailures: distinct(trusted) + Math.min(distinct(untrusted), distinct(trusted)),
    attempts: trusted.length + Math.min(untrusted.length, trusted.length),
    exclude: failer !== undefined && num(failer.verified) < trustAfter,
  };
}

/** The step, its queued task closed to the node that failed it when `exclude`. */
function excludeIf(step: ReturnType<typeof stepTask>, exclude: boolean): ReturnType<typeof stepTask> {
  const nodeId = step.task.nodeId;
  if (!exclude || step.task.state !== 'queued' || !nodeId) return step;
  return { ...step, task: { ...step.task, excludeNodes: [...new Set([...step.task.excludeNodes, nodeId])] } };
}

/** Save a task step; when it exhausts the task's retries, fail the job and cancel its other tasks. */
export function applyTaskStep(db: SqlDriver, before: TaskRecord, step: ReturnType<typeof stepTask>, now: number): TaskOutcome {
  let job = readJob(db, before.jobId)!;
  // A requeued task is routed afresh (a routed job's task waits for the router; a first-come one is open).
  // Verify tasks are never routed: open to any eligible node again.
  const task = step.task.state === 'queued' ? reopenForRouting(step.task, job) : step.task;
  saveTask(db, task);
  step = { ...step, task };
  const changes = [step.change];
  if (step.jobFailure !== null && job.state !== 'failed' && job.state !== 'cancelled' && job.state !== 'done') {
    const failed = stepJob(job, { type: 'fail', reason: step.jobFailure, now });
    saveJob(db, failed.job);
    changes.push(failed.change, ...cancelUnfinished(db, job.jobId, 'job failed', now));
    job = failed.job;
  }
  return { task: step.task, job, changes };
}

export function cancelUnfinished(db: SqlDriver, jobId: string, reason: string, now: number): StatusChange[] {
  const open = db.all<Row>(`SELECT * FROM tasks WHERE job_id = ? AND state IN ('queued', 'leased')`, [jobId]).map(rowToTask);
  return open.map((task) => {
    const step = stepTask(task, { type: 'cancel', reason, now });
    saveTask(db, step.task);
    return step.change;
  });
}

/** Finish the job when nothing is left to run or verify; returns the job as it is now. */
export function finishIfComplete(db: SqlDriver, jobId: string, now: number, changes: StatusChange[]): JobRecord {
  const job = readJob(db, jobId)!;
  if (job.state !== 'running') return job;
  const left = db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE job_id = ? AND ${UNFINISHED_TASK}`, [jobId])[0].n;
  if (left > 0) return job;
  const finished = stepJob(job, { type: 'finish', now });
  saveJob(db, finished.job);
  changes.push(finished.change);
  return finished.job;
}

/**
 * The next ready task of a first-come job ahead of `jobId` in lease order (FIRST_COME_JOBS_AHEAD_OF) that this node
 * may take, with its job's row; undefined when there is none.
 */
function firstComeTaskAhead(db: SqlDriver, jobId: string, input: LeaseInput, tilesOnly: number): { row: Row; jobRow: Row } | undefined {
  const of = db.all<Row>(`SELECT priority, created_at, seq FROM jobs WHERE job_id = ?`, [jobId])[0];
  if (!of) return undefined;
  for (const j of db.all<Row>(FIRST_COME_JOBS_AHEAD_OF, [of.priority, of.priority, of.created_at, of.created_at, of.seq])) {
    if (input.card && !meetsRequirements(input.card, rowToJob(j).requirements ?? undefined)) continue;
    const row = db.all<Row>(NEXT_TASK_OF_JOB, [str(j.job_id), input.now, input.nodeId, tilesOnly])[0];
    if (row) return { row, jobRow: j };
  }
  return undefined;
}

/** The route record of a first-come task: who took it, and the render time the router would expect there. */
function firstFreeRoute(task: TaskRecord, job: JobRecord, nodeId: string, card: NodeCard | undefined, now: number): TaskRoute {
  const renderMs = card ? expectedRenderMs(card, taskPixels(task, job.view)) : 0;
  const finite = Number.isFinite(renderMs) ? renderMs : 0;
  return {
    nodeId,
    fallbackId: null,
    predictedRttMs: null,
    rttSource: 'unknown',
    queueMs: 0,
    renderMs: finite,
    score: finite,
    reason: 'the job brought no client RTTs, so its tasks go to the first capable node with a free slot (the earliest start)',
    routedAt: now,
    fallbackAt: null,
    leasedAs: 'first-free',
  };
}
