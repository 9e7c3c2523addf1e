/**
 * The task and job state machine: the only place that decides status changes. Pure functions that take a
 * record and an event and return the updated record plus the change made, so every job store applies the
 * same rules inside its own transaction, and callers log each change as old → new.
 *
 *   task: queued → leased → done
 *                    ├─→ queued (failed or expired; retried after a backoff)
 *                    └─→ failed (failed on too many nodes or attempts: fails the job)
 *         queued | leased → cancelled (job cancelled or failed; a verify task whose vote is over)
 *         leased | done → queued (requeue: its node was blocklisted, or its result was outvoted or
 *                                 inconclusive; the result is discarded, no attempt is counted as failed)
 *   job:  queued → running → done;  queued | running → failed | cancelled
 *   verification (of a sampled render or stitch task's result; `none` = not sampled):
 *         none | rerender → pending (held until another node's render agrees)
 *         pending → verified (the round agreed) | skipped (no other node can check it)
 *         rerender → skipped (a re-render nobody else can check)
 *         none | pending | verified | skipped | rerender → rerender (result discarded, rendered again in a new round)
 */
import { TesseraError } from '../protocol/errors.ts';
import type { JobState, TaskState, VerificationState } from '../protocol/job-status.ts';
import type { JobRecord, TaskRecord } from './job-store.ts';
import { retryDelayMs, type TaskPolicy } from './task-policy.ts';

/** A task's verification state in a status change; `none` when its result was not sampled. */
export type VerificationStatus = VerificationState | 'none';

/** One status change, for the log. `verification`: a task's verification state (`id` is the task's). */
export interface StatusChange {
  entity: 'job' | 'task' | 'verification';
  id: string;
  jobId: string;
  from: JobState | TaskState | VerificationStatus;
  to: JobState | TaskState | VerificationStatus;
  reason: string;
  at: number;
}

export type TaskEvent =
  | { type: 'lease'; nodeId: string; leaseId: string; now: number; leaseMs: number }
  | { type: 'complete'; result: { bytes: number; checksum: string }; now: number }
  /**
   * `nodeFailures`: distinct nodes that failed this task, this failure included; `attempts`: its attempts that
   * count toward maxAttempts (default: every lease). The store weighs both by the nodes' records (TaskPolicy).
   */
  | { type: 'fail'; reason: string; nodeFailures: number; attempts?: number; now: number; policy: TaskPolicy }
  | { type: 'expire'; nodeFailures: number; attempts?: number; now: number; policy: TaskPolicy }
  | { type: 'cancel'; reason: string; now: number }
  | { type: 'requeue'; reason: string; now: number };

export interface TaskStep {
  task: TaskRecord;
  change: StatusChange;
  /** Set when this step exhausts the task's retries: why its job fails. */
  jobFailure: string | null;
}

export type JobEventInput =
  | { type: 'start'; now: number }
  | { type: 'finish'; now: number }
  | { type: 'fail'; reason: string; now: number }
  | { type: 'cancel'; now: number };

export interface JobStep {
  job: JobRecord;
  change: StatusChange;
}

const TERMINAL_JOB: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);
const TERMINAL_TASK: ReadonlySet<TaskState> = new Set(['done', 'failed', 'cancelled']);

/** Whether a job has ended (no more tasks will run). */
export function isJobFinished(state: JobState): boolean {
  return TERMINAL_JOB.has(state);
}

/** Whether a task will not run again. */
export function isTaskFinished(state: TaskState): boolean {
  return TERMINAL_TASK.has(state);
}

/** A short human description of a task, for logs and error messages. */
export function describeTask(task: Pick<TaskRecord, 'kind' | 'frame' | 'tile'>): string {
  if (task.kind === 'stitch' || !task.tile) return `${task.kind} of frame ${task.frame}`;
  const t = task.tile;
  return `render of frame ${task.frame} tile ${t.width}×${t.height} at ${t.x},${t.y}`;
}

function taskChange(task: TaskRecord, to: TaskState, reason: string, at: number): StatusChange {
  return { entity: 'task', id: task.taskId, jobId: task.jobId, from: task.state, to, reason, at };
}

const NO_LEASE: Pick<TaskRecord, 'leaseId' | 'leaseExpiresAt'> = { leaseId: null, leaseExpiresAt: null };

/** Why a retry budget ran out, or null when the task may run again. */
function exhausted(task: TaskRecord, nodeFailures: number, attempts: number, policy: TaskPolicy, lastError: string): string | null {
  if (nodeFailures >= policy.maxNodeFailures) {
    return `${describeTask(task)} failed on ${nodeFailures} different nodes; last error: ${lastError}`;
  }
  if (attempts >= policy.maxAttempts) {
    return `${describeTask(task)} failed ${attempts} times; last error: ${lastError}`;
  }
  return null;
}

/** Apply `event` to `task`. Throws LEASE_LOST when the task is not leased, for complete/fail/expire. */
export function stepTask(task: TaskRecord, event: TaskEvent): TaskStep {
  const now = event.now;
  switch (event.type) {
    case 'lease': {
      if (task.state !== 'queued') throw new TesseraError('INTERNAL', `cannot lease a task that is ${task.state}`);
      const next: TaskRecord = {
        ...task,
        state: 'leased',
        attempts: task.attempts + 1,
        nodeId: event.nodeId,
        leaseId: event.leaseId,
        leaseExpiresAt: now + event.leaseMs,
        leasedAt: now,
        updatedAt: now,
      };
      return { task: next, change: taskChange(task, 'leased', `leased to node ${event.nodeId}`, now), jobFailure: null };
    }
    case 'complete': {
      if (task.state !== 'leased') throw leaseLost(task);
      const next: TaskRecord = { ...task, ...NO_LEASE, state: 'done', result: event.result, error: null, updatedAt: now };
      return { task: next, change: taskChange(task, 'done', `completed by node ${task.nodeId}`, now), jobFailure: null };
    }
    case 'fail':
    case 'expire': {
      if (task.state !== 'leased') throw leaseLost(task);
      const error = event.type === 'fail' ? event.reason : `lease expired on node ${task.nodeId}`;
      const why = exhausted(task, event.nodeFailures, event.attempts ?? task.attempts, event.policy, error);
      if (why) {
        const next: TaskRecord = { ...task, ...NO_LEASE, state: 'failed', error, updatedAt: now };
        return { task: next, change: taskChange(task, 'failed', error, now), jobFailure: why };
      }
      const next: TaskRecord = {
        ...task,
        ...NO_LEASE,
        state: 'queued',
        error,
        // An expired lease is retried at once: the node vanished, the task itself may be fine.
        notBefore: event.type === 'fail' ? now + retryDelayMs(task.attempts, event.policy) : now,
        updatedAt: now,
      };
      return { task: next, change: taskChange(task, 'queued', error, now), jobFailure: null };
    }
    case 'cancel': {
      if (isTaskFinished(task.state)) throw new TesseraError('INTERNAL', `cannot cancel a task that is ${task.state}`);
      // nodeId stays, so the status shows who held it; the lease id stays so a heartbeat can name it revoked.
      const next: TaskRecord = { ...task, state: 'cancelled', leaseExpiresAt: null, updatedAt: now };
      return { task: next, change: taskChange(task, 'cancelled', event.reason, now), jobFailure: null };
    }
    case 'requeue': {
      if (task.state !== 'leased' && task.state !== 'done') throw new TesseraError('INTERNAL', `cannot requeue a task that is ${task.state}`);
      const next: TaskRecord = { ...task, ...NO_LEASE, state: 'queued', result: null, error: event.reason, notBefore: now, updatedAt: now };
      return { task: next, change: taskChange(task, 'queued', event.reason, now), jobFailure: null };
    }
  }
}

function leaseLost(task: TaskRecord): TesseraError {
  const why =
    task.state === 'cancelled'
      ? 'its job was cancelled or failed'
      : task.state === 'done'
        ? 'it is already done'
        : 'the lease expired and the task was requeued';
  return new TesseraError('LEASE_LOST', `The lease on task ${task.taskId} is no longer valid: ${why}.`);
}

/** Apply `event` to `job`. Throws JOB_FINISHED when the job has already ended. */
export function stepJob(job: JobRecord, event: JobEventInput): JobStep {
  const now = event.now;
  if (isJobFinished(job.state)) {
    throw new TesseraError('JOB_FINISHED', `Job ${job.jobId} has already ended (${job.state}).`);
  }
  const change = (to: JobState, reason: string): StatusChange => ({
    entity: 'job',
    id: job.jobId,
    jobId: job.jobId,
    from: job.state,
    to,
    reason,
    at: now,
  });
  switch (event.type) {
    case 'start':
      if (job.state !== 'queued') throw new TesseraError('INTERNAL', `cannot start a job that is ${job.state}`);
      return { job: { ...job, state: 'running', startedAt: now, updatedAt: now }, change: change('running', 'first task leased') };
    case 'finish':
      if (job.state !== 'running') throw new TesseraError('INTERNAL', `cannot finish a job that is ${job.state}`);
      return { job: { ...job, state: 'done', finishedAt: now, updatedAt: now }, change: change('done', 'every task done') };
    case 'fail':
      return {
        job: { ...job, state: 'failed', error: event.reason, finishedAt: now, updatedAt: now },
        change: change('failed', event.reason),
      };
    case 'cancel':
      return {
        job: { ...job, state: 'cancelled', error: 'cancelled by request', finishedAt: now, updatedAt: now },
        change: change('cancelled', 'cancelled by request'),
      };
  }
}

export type VerificationEvent =
  /** Hold a result back until another node's render agrees (it was sampled, or is a re-render after a disproof). */
  | { type: 'hold'; now: number }
  /** Accept a result unchecked: a re-render nobody else can check, or a verification no node can take. */
  | { type: 'skip'; reason: string; now: number }
  /** The round agreed: `verifiedBy` rendered the same; `disproven` is every node outvoted on this task so far. */
  | { type: 'verify'; verifiedBy: string[]; disproven: string[]; now: number }
  /** The round outvoted the result: `disproven` is every node outvoted on this task so far (it is then rendered again). */
  | { type: 'disprove'; disproven: string[]; now: number }
  /** Discard the result and render the task again, in a new round whose result is always verified. */
  | { type: 'rerender'; reason: string; now: number };

export interface VerificationStep {
  task: TaskRecord;
  /** Null when the verification state stays the same (a disproof recorded before the re-render). */
  change: StatusChange | null;
}

/** Apply `event` to a render or stitch task's verification. Throws INTERNAL on a transition the table above does not allow. */
export function stepVerification(task: TaskRecord, event: VerificationEvent): VerificationStep {
  const now = event.now;
  const from: VerificationStatus = task.verification?.state ?? 'none';
  const disproven = task.verification?.disproven ?? [];
  const refuse = () => new TesseraError('INTERNAL', `cannot ${event.type} the verification of ${describeTask(task)} (${task.taskId}): it is ${from}`);
  const step = (verification: NonNullable<TaskRecord['verification']>, reason: string, round = task.round): VerificationStep => {
    const next: TaskRecord = { ...task, verification, round, updatedAt: now };
    const change: StatusChange | null =
      verification.state === from ? null : { entity: 'verification', id: task.taskId, jobId: task.jobId, from, to: verification.state, reason, at: now };
    return { task: next, change };
  };
  switch (event.type) {
    case 'hold':
      if (from !== 'none' && from !== 'rerender') throw refuse();
      return step({ state: 'pending', verifiedBy: [], disproven }, 'held until another node renders it the same');
    case 'skip':
      if (from !== 'pending' && from !== 'rerender') throw refuse();
      return step({ ...task.verification!, state: 'skipped' }, event.reason);
    case 'verify':
      if (from !== 'pending') throw refuse();
      return step({ state: 'verified', verifiedBy: event.verifiedBy, disproven: event.disproven }, `verified by nodes ${event.verifiedBy.join(' and ')}`);
    case 'disprove':
      if (from !== 'pending') throw refuse();
      return step({ ...task.verification!, disproven: event.disproven }, 'outvoted');
    case 'rerender':
      return step({ state: 'rerender', verifiedBy: [], disproven }, event.reason, task.round + 1);
  }
}

/**
 * A queued task's routing, cleared for routing afresh: a routed job's render or stitch task waits for the
 * router; a first-come job's task, and any verify task (never routed), is open to any capable node at once.
 */
export function reopenForRouting(task: TaskRecord, job: Pick<JobRecord, 'routed'>): TaskRecord {
  return { ...task, route: null, openAt: job.routed && task.kind !== 'verify' ? null : 0 };
}
