/**
 * What the coordinator Durable Object does, without the runtime (job-coordinator.ts is its thin adapter; the edge
 * benchmark runs this same class in process): runs one JobStore or SessionStore operation per call, wakes the
 * farm's waiters for the status changes an operation made (so Workers send no separate wake-up request), and
 * holds a node's idle lease long-poll in the object (`authenticateAndLease` with `waitMs`), so waiting costs
 * no request beyond the one call. It also runs the farm's storage clean-up on the object's alarm (`sweepCleanups`): a
 * call that ends a job sets the alarm for that job's clean-up, which the store marked in the same step.
 *
 * Why the wait lives here: a Worker that waits elsewhere must still learn of wake-ups from the object, which costs a
 * request per wait (an RPC held open) on top of the lease call; served here, an idle long-poll is one request
 * however long it waits, and a Durable Object is billed for requests, its duration being the farm's anyway
 * (the object is awake for the farm's calls). Waits end at a wake-up, at the store's next deadline, or at `waitMs`.
 */
import type { AuthenticateAndCompleteOutcome, AuthenticateAndLeaseInput, AuthenticateAndLeaseOutcome, JobStore, LeaseManyOutcome, TaskOutcome } from '../core/job-store.ts';
import { createNotifier, jobTopic, TASKS_TOPIC } from '../core/notifier.ts';
import type { SessionStore } from '../core/session-store.ts';
import type { StatusChange } from '../core/state-machine.ts';
import { isTesseraError } from '../protocol/errors.ts';
import { JOB_STORE_METHODS, SESSION_STORE_METHODS, type CallResult, type CoordinatorMethod, type JobStoreMethod } from './job-store-methods.ts';
import type { BlobStore } from '../core/blob-store.ts';
import type { Logger } from '../core/logger.ts';
import { sweepDuePrunes, type PruneSweepResult } from '../core/prune-sweep.ts';
import { isJobFinished } from '../core/state-machine.ts';
import type { JobState } from '../protocol/job-status.ts';

/** Longest one wait may hold a call open. */
export const MAX_WAIT_MS = 60_000;

export interface CoordinatorStores {
  jobs: JobStore;
  sessions: SessionStore;
}

/** The object's alarm (a Durable Object has one): when it next runs `sweepCleanups`. */
export interface CoordinatorAlarm {
  /** The time it is set for, or null when unset. */
  get(): Promise<number | null>;
  /** Set it (replacing any other time). */
  set(at: number): Promise<void>;
}

/**
 * What the storage clean-up sweep needs in the object: its alarm, the farm's storage (made on first use) and a
 * logger. Absent (the edge benchmark), no clean-up is scheduled.
 */
export interface CoordinatorCleanup {
  alarm: CoordinatorAlarm;
  blobs: () => BlobStore;
  logger: Logger;
}

export class CoordinatorCore {
  readonly #open: () => CoordinatorStores;
  #stores: CoordinatorStores;
  /** Wake-ups for waits held in the object: long-polls served here, and Workers' waits (edge-notifier.ts). */
  readonly #waiters = createNotifier();
  /** Idle lease calls waiting here, per node, oldest first (each ends early when displaced). */
  readonly #polls = new Map<string, AbortController[]>();

  readonly #cleanup: CoordinatorCleanup | undefined;

  constructor(open: () => CoordinatorStores, cleanup?: CoordinatorCleanup) {
    this.#open = open;
    this.#stores = open();
    this.#cleanup = cleanup;
  }

  /** Run one JobStore or SessionStore operation; wake the waiters for the changes it made. */
  async call(method: CoordinatorMethod, args: unknown[]): Promise<CallResult> {
    const jobOp = JOB_STORE_METHODS.includes(method as JobStoreMethod);
    const target: object | undefined = jobOp ? this.#stores.jobs : SESSION_STORE_METHODS.includes(method as keyof SessionStore) ? this.#stores.sessions : undefined;
    if (!target) return { ok: false, error: { code: 'INTERNAL', message: `No store operation ${String(method)}.` } };
    try {
      const fn = (target as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
      let value = await fn.apply(target, args);
      if (jobOp) {
        const changes = changesOf(method as JobStoreMethod, value);
        this.#announce(changes);
        if (changes.some((c) => c.entity === 'job' && isJobFinished(c.to as JobState))) await this.#scheduleCleanup();
      }
      if (method === 'authenticateAndLease') value = await this.#waitForWork(args[0] as AuthenticateAndLeaseInput, value as AuthenticateAndLeaseOutcome);
      return { ok: true, value };
    } catch (err) {
      if (isTesseraError(err)) return { ok: false, error: { code: err.code, message: err.message, retryAfterSeconds: err.retryAfterSeconds } };
      return { ok: false, error: { code: null, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) } };
    }
  }

  /**
   * The alarm's work: prune the ended jobs whose clean-up is due by `now` (at most a sweep's limit), then set the
   * alarm for the next one due (at once when the sweep stopped at its limit). A failure is thrown: the runtime
   * retries a failed alarm.
   */
  async sweepCleanups(now: number): Promise<PruneSweepResult | null> {
    const cleanup = this.#cleanup;
    if (!cleanup) return null;
    const jobs = this.#stores.jobs;
    const result = await sweepDuePrunes({ jobs, blobs: cleanup.blobs(), logger: cleanup.logger }, now);
    const next = result.more ? now : await jobs.nextPruneDueAt();
    if (next !== null) await cleanup.alarm.set(Math.max(now, next));
    return result;
  }

  /**
   * A job ended: make sure the alarm runs no later than the earliest clean-up due (the job store marked it in the
   * same step). Best effort: a failure is logged, the mark stays, and the next job to end (or sweep) sets the alarm.
   */
  async #scheduleCleanup(): Promise<void> {
    const cleanup = this.#cleanup;
    if (!cleanup) return;
    try {
      const next = await this.#stores.jobs.nextPruneDueAt();
      if (next === null) return;
      const current = await cleanup.alarm.get();
      if (current === null || current > next) await cleanup.alarm.set(next);
    } catch (err) {
      cleanup.logger.warn({ err }, 'could not schedule the storage clean-up alarm');
    }
  }

  /** Drop the open stores and open them again on the same storage (what a restart of the object does). */
  async reopen(): Promise<void> {
    await this.#stores.jobs.close();
    this.#stores = this.#open();
  }

  /** Resolve after `notify(topic)` or `timeoutMs`; true when notified. */
  wait(topic: string, timeoutMs: number): Promise<boolean> {
    return this.#waiters.wait(topic, Math.max(0, Math.min(timeoutMs, MAX_WAIT_MS)));
  }

  /** Wake every wait on each topic. */
  notify(topics: string[]): void {
    for (const topic of topics) this.#waiters.notify(topic);
  }

  /**
   * An idle lease call that asked to wait: held here until a wake-up, the store's next deadline or `waitMs`. Not
   * while a runnable job is routed, nor when leases just expired: the Worker then has a routing pass to run before
   * the next try, and waits itself. (Verification sweeps run at each try and on completions, at most once a second.)
   */
  async #waitForWork(input: AuthenticateAndLeaseInput, outcome: AuthenticateAndLeaseOutcome): Promise<AuthenticateAndLeaseOutcome> {
    const waitMs = input.waitMs ?? 0;
    if (waitMs <= 0 || !outcome.lease || outcome.lease.leased.length > 0 || outcome.lease.routedJobs || outcome.lease.expired.length > 0) return outcome;
    const untilDeadline = outcome.lease.wakeAt === null ? Infinity : Math.max(0, outcome.lease.wakeAt - input.now);
    // At most one waiting poll per slot, across every Worker: a further one ends the node's oldest at once.
    const { nodeId } = outcome.node;
    const stop = new AbortController();
    let polls = this.#polls.get(nodeId);
    if (!polls) this.#polls.set(nodeId, (polls = []));
    polls.push(stop);
    while (polls.length > Math.max(1, outcome.node.card.concurrency)) polls.shift()!.abort();
    try {
      const woken = await this.#waiters.wait(TASKS_TOPIC, Math.max(0, Math.min(waitMs, untilDeadline, MAX_WAIT_MS)), stop.signal);
      return { ...outcome, waited: { woken: woken || stop.signal.aborted, ...(stop.signal.aborted ? { displaced: true } : {}) } };
    } finally {
      const i = polls.indexOf(stop);
      if (i >= 0) polls.splice(i, 1);
      if (polls.length === 0 && this.#polls.get(nodeId) === polls) this.#polls.delete(nodeId);
    }
  }

  /**
   * Wake each changed job's waiters, and the nodes waiting for tasks unless every change is a task being leased
   * (a lease makes nothing leasable: waking every idle node for it would cost a request per node).
   */
  #announce(changes: StatusChange[]): void {
    if (changes.length === 0) return;
    const jobs = new Set(changes.map((c) => c.jobId));
    for (const jobId of jobs) this.#waiters.notify(jobTopic(jobId));
    if (changes.some((c) => !(c.entity === 'task' && c.to === 'leased'))) this.#waiters.notify(TASKS_TOPIC);
  }
}

const leaseChanges = (o: LeaseManyOutcome | null | undefined): StatusChange[] => (o ? [...o.expired, ...o.leased.flatMap((l) => l.changes)] : []);

/** The status changes a JobStore operation's result reports (the same ones the API logs). */
export function changesOf(method: JobStoreMethod, value: unknown): StatusChange[] {
  switch (method) {
    case 'completeTask':
    case 'failTask':
    case 'leaseNext':
      return (value as TaskOutcome | null)?.changes ?? [];
    case 'leaseMany':
      return leaseChanges(value as LeaseManyOutcome);
    case 'expireLeases':
    case 'blocklistNode':
      return value as StatusChange[];
    case 'cancelJob':
    case 'skipStrandedVerifications':
      return (value as { changes: StatusChange[] }).changes;
    case 'completeAndLease': {
      const v = value as { completed: TaskOutcome; lease: LeaseManyOutcome | null };
      return [...v.completed.changes, ...leaseChanges(v.lease)];
    }
    case 'authenticateAndComplete': {
      const v = value as AuthenticateAndCompleteOutcome;
      return [...(v.completed?.changes ?? []), ...(v.failed?.changes ?? []), ...leaseChanges(v.lease)];
    }
    case 'authenticateAndFail':
      return (value as { failed: TaskOutcome }).failed.changes;
    case 'authenticateAndLease':
      return leaseChanges((value as AuthenticateAndLeaseOutcome).lease);
    default:
      return [];
  }
}
