/**
 * The JobStore on any synchronous SQLite (`SqlDriver`): better-sqlite3 in the Node adapter, a Durable
 * Object's SQL storage on Workers. Each operation runs in one transaction and applies the state machine's
 * decisions, so concurrent lease calls can never hand one task to two nodes.
 *
 * One module per concern, each with its part of the port: scenes (`sql-scene-store.ts`), API keys
 * (`sql-api-key-store.ts`), the queue and leases (`sql-job-queue.ts`), nodes (`sql-node-store.ts`), routing
 * (`sql-routing-store.ts`), verification rounds (`sql-verification-rounds.ts`) and the ledger
 * (`sql-ledger.ts`), over shared row mapping (`sql-job-rows.ts`). This class opens the schema and hands each
 * call to its module; completion, which spans the queue, verification and the ledger, is written here.
 */
import type { LedgerEntry } from '../protocol/metering.ts';
import { type AddedColumn, JOB_STORE_ADDED_COLUMNS, JOB_STORE_AUTH_SCHEMA, JOB_STORE_ROUTING_SCHEMA, JOB_STORE_SCHEMA, JOB_STORE_TRUST_COLUMNS } from './job-store-schema.ts';
import type { ApiKeyRecord, AuthenticateAndFailInput, AuthenticateAndHeartbeatInput, AuthenticateAndLeaseInput, AuthenticateAndLeaseOutcome, AuthenticateAndCompleteOutcome, AuthenticatedTask, CompletionDecision, CompleteAndLeaseInput, CompleteAndLeaseOutcome, CompleteInput, FailInput, FinishedFramesSince, HeartbeatInput, JobRecord, JobStore, LeaseInput, LeaseManyInput, LeaseManyOutcome, LedgerFilter, NodeNetworkUpdate, PruneDue, NodeRecord, NodeTaskCounts, RoutableTask, RouteAssignment, SceneRecord, TaskCounts, TaskOutcome, TaskRecord, VerificationRound, VerificationVerdict } from './job-store.ts';
import type { SqlDriver } from './sql-driver.ts';
import { checkNodeCredentials } from './check-node-credentials.ts';
import { stepTask, type StatusChange } from './state-machine.ts';
import type { TaskPolicy } from './task-policy.ts';
import { VERIFICATION_DEFAULTS } from './verification-policy.ts';
import { checkJobQuota, type JobQuota, type JobQuotaVerdict } from './job-quota.ts';
import { countActiveJobs, findApiKeyByHash, listApiKeys, putApiKey, revokeApiKey } from './sql-api-key-store.ts';
import { cancelJob, countTasks, createJob, expireLeases, failTask, finishIfComplete, getJob, getTask, heldTask, leaseMany, leaseNext, listFinishedFrames, listFinishedFramesAfter, listFinishedFramesSince, listFrameTasks, listTasks } from './sql-job-queue.ts';
import { readJob, readTask, saveTask } from './sql-job-rows.ts';
import { addLedger, inflatedClaims, listLedger } from './sql-ledger.ts';
import { listDuePrunes, nextPruneDueAt, setPruneDelay, settlePrune } from './sql-prune-marks.ts';
import { PRUNE_DELAY_DEFAULT_MS } from './prune-schedule.ts';
import { heldForVerification } from './verification-hold.ts';
import { countNodeTasks, findNodeByTokenHash, getNode, heartbeat, listNodes, recordLeaseCall, refuteNodeLocation, registerNode, updateNodeNetwork } from './sql-node-store.ts';
import { getMeta, initMeta, listRoutableTasks, listRoutedNodes, listRunnableJobs, setMeta, setTaskRoutes } from './sql-routing-store.ts';
import { getScene, grantScene, isSceneGranted, nodesGivenScene, putScene } from './sql-scene-store.ts';
import { blocklist, blocklistNode, getVerificationRound, issueVerification, skipStrandedVerifications, stepVerificationInto, vote } from './sql-verification-rounds.ts';

export interface SqlJobStoreOptions {
  /**
   * How long after a job ends its storage clean-up is due (prune-schedule.ts: the API's upload URL lifetime plus a
   * margin); kept in the database, so jobs ending from now on are stamped with it.
   */
  pruneDelayMs?: number;
}

export const SQL_JOB_STORE_DEFAULTS: Required<SqlJobStoreOptions> = {
  pruneDelayMs: PRUNE_DELAY_DEFAULT_MS,
};

export class SqlJobStore implements JobStore {
  readonly #db: SqlDriver;

  constructor(db: SqlDriver, options: SqlJobStoreOptions = {}) {
    this.#db = db;
    db.exec(JOB_STORE_SCHEMA);
    addMissingColumns(db, JOB_STORE_ADDED_COLUMNS);
    db.exec(JOB_STORE_ROUTING_SCHEMA);
    // Node trust columns, the ledger's included: after the routing schema has created the ledger.
    addMissingColumns(db, JOB_STORE_TRUST_COLUMNS);
    db.exec(JOB_STORE_AUTH_SCHEMA);
    setPruneDelay(db, options.pruneDelayMs ?? SQL_JOB_STORE_DEFAULTS.pruneDelayMs);
  }

  async putScene(scene: SceneRecord): Promise<SceneRecord> {
    return putScene(this.#db, scene);
  }

  async getScene(sceneId: string): Promise<SceneRecord | null> {
    return getScene(this.#db, sceneId);
  }

  async nodesGivenScene(sceneId: string): Promise<string[]> {
    return nodesGivenScene(this.#db, sceneId);
  }

  async grantScene(sceneId: string, owner: string, now: number): Promise<void> {
    return grantScene(this.#db, sceneId, owner, now);
  }

  async isSceneGranted(sceneId: string, owner: string): Promise<boolean> {
    return isSceneGranted(this.#db, sceneId, owner);
  }

  async putApiKey(key: ApiKeyRecord): Promise<void> {
    return putApiKey(this.#db, key);
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    return findApiKeyByHash(this.#db, keyHash);
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return listApiKeys(this.#db);
  }

  async revokeApiKey(keyId: string, now: number): Promise<ApiKeyRecord | null> {
    return revokeApiKey(this.#db, keyId, now);
  }

  async countActiveJobs(owner: string): Promise<number> {
    return countActiveJobs(this.#db, owner);
  }

  async createJobWithinQuota(job: JobRecord & { owner: string }, tasks: TaskRecord[], quota: JobQuota): Promise<JobQuotaVerdict> {
    // Count and insert with no await between them: no other call on this store runs in between.
    const verdict = checkJobQuota(this.#db, job.owner, job, quota, tasks.length);
    if (verdict.ok) createJob(this.#db, job, tasks);
    return verdict;
  }

  async createJob(job: JobRecord, tasks: TaskRecord[]): Promise<void> {
    return createJob(this.#db, job, tasks);
  }

  async getJob(jobId: string): Promise<JobRecord | null> {
    return getJob(this.#db, jobId);
  }

  async listTasks(jobId: string): Promise<TaskRecord[]> {
    return listTasks(this.#db, jobId);
  }

  async getTask(taskId: string): Promise<TaskRecord | null> {
    return getTask(this.#db, taskId);
  }

  async listFrameTasks(jobId: string, frame: number): Promise<TaskRecord[]> {
    return listFrameTasks(this.#db, jobId, frame);
  }

  async listFinishedFramesSince(jobId: string, after: number, limit: number): Promise<FinishedFramesSince> {
    return listFinishedFramesSince(this.#db, jobId, after, limit);
  }

  async listFinishedFramesAfter(jobId: string, afterFrame: number, limit: number): Promise<TaskRecord[]> {
    return listFinishedFramesAfter(this.#db, jobId, afterFrame, limit);
  }

  async listFinishedFrames(jobId: string): Promise<TaskRecord[]> {
    return listFinishedFrames(this.#db, jobId);
  }

  async countTasks(jobId: string): Promise<TaskCounts> {
    return countTasks(this.#db, jobId);
  }

  async cancelJob(jobId: string, now: number): Promise<{ job: JobRecord; changes: StatusChange[] }> {
    return cancelJob(this.#db, jobId, now);
  }

  async registerNode(node: NodeRecord): Promise<void> {
    return registerNode(this.#db, node);
  }

  async getNode(nodeId: string): Promise<NodeRecord | null> {
    return getNode(this.#db, nodeId);
  }

  async findNodeByTokenHash(tokenHash: string): Promise<NodeRecord | null> {
    return findNodeByTokenHash(this.#db, tokenHash);
  }

  async heartbeat(input: HeartbeatInput): Promise<{ revoked: string[] }> {
    return heartbeat(this.#db, input);
  }

  async expireLeases(now: number, policy: TaskPolicy): Promise<StatusChange[]> {
    return expireLeases(this.#db, now, policy);
  }

  async leaseNext(input: LeaseInput): Promise<TaskOutcome | null> {
    return leaseNext(this.#db, input);
  }

  async leaseMany(input: LeaseManyInput): Promise<LeaseManyOutcome> {
    return leaseMany(this.#db, input);
  }

  async completeTask(input: CompleteInput): Promise<TaskOutcome> {
    return completeTask(this.#db, input);
  }

  async failTask(input: FailInput): Promise<TaskOutcome> {
    return failTask(this.#db, input);
  }

  async authenticateAndLease(input: AuthenticateAndLeaseInput): Promise<AuthenticateAndLeaseOutcome> {
    const db = this.#db;
    return db.transaction(() => {
      const { credentials, max, waitMs: _wait, resumeBefore, ...lease } = input;
      const node = checkNodeCredentials(credentials, getNode(db, credentials.nodeId));
      const runnableJobs = db.all(`SELECT 1 AS x FROM jobs WHERE state IN ('queued', 'running') LIMIT 1`).length > 0;
      if (node.reputation?.blocklisted) return { node, lease: null, runnableJobs };
      if (resumeBefore !== undefined && (node.lastLeaseAt ?? -Infinity) < resumeBefore) {
        const held = db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE state = 'leased' AND node_id = ?`, [node.nodeId])[0].n;
        const routed = db.all(`SELECT 1 AS x FROM jobs WHERE state IN ('queued', 'running') AND routed = 1 LIMIT 1`).length > 0;
        if (held === 0 && routed) {
          recordLeaseCall(db, node.nodeId, lease.now);
          return { node, lease: { leased: [], expired: [], routedJobs: true, wakeAt: null }, runnableJobs, resumed: true };
        }
      }
      const count = Math.max(0, Math.min(Math.floor(max), node.card.concurrency) + Math.floor(lease.ahead ?? 0));
      const outcome = leaseMany(db, { ...lease, leaseIds: lease.leaseIds.slice(0, count), nodeId: node.nodeId, card: node.card, maxLeases: node.card.concurrency });
      return { node, lease: outcome, runnableJobs };
    });
  }

  async authenticateTask(input: { tokenHash: string; taskId: string }): Promise<AuthenticatedTask> {
    const db = this.#db;
    return db.transaction(() => {
      const node = checkNodeCredentials({ tokenHash: input.tokenHash }, findNodeByTokenHash(db, input.tokenHash));
      const task = getTask(db, input.taskId);
      return { node, task, job: task ? getJob(db, task.jobId) : null };
    });
  }

  async completeAndLease(input: CompleteAndLeaseInput): Promise<CompleteAndLeaseOutcome> {
    const db = this.#db;
    return db.transaction(() => {
      const completed = completeTask(db, input.complete);
      const lease = input.lease && !completed.blocklisted?.some((b) => b.nodeId === input.lease!.nodeId) ? leaseMany(db, input.lease) : null;
      return { completed, lease };
    });
  }

  async authenticateAndComplete(input: { tokenHash: string; taskId: string }, decide: (read: AuthenticatedTask) => Promise<CompletionDecision>): Promise<AuthenticateAndCompleteOutcome> {
    const read = await this.authenticateTask(input);
    // Not one transaction: the decision waits on storage. What it records checks the lease again (completeTask, failTask).
    const decision = await decide(read);
    if ('stop' in decision) return { read, completed: null, failed: null, lease: null };
    if ('fail' in decision) {
      const { fail } = decision;
      return { read, completed: null, failed: failTask(this.#db, fail), lease: null };
    }
    const { completed, lease } = await this.completeAndLease({ complete: decision.complete, lease: decision.lease });
    return { read, completed, failed: null, lease };
  }

  async authenticateAndHeartbeat(input: AuthenticateAndHeartbeatInput): Promise<{ node: NodeRecord; revoked: string[] | null }> {
    const db = this.#db;
    return db.transaction(() => {
      const { credentials, ...beat } = input;
      const node = checkNodeCredentials(credentials, getNode(db, credentials.nodeId));
      if (node.reputation?.blocklisted) return { node, revoked: null };
      return { node, revoked: heartbeat(db, { ...beat, nodeId: node.nodeId }).revoked };
    });
  }

  async authenticateAndFail(input: AuthenticateAndFailInput): Promise<{ node: NodeRecord; failed: TaskOutcome }> {
    const db = this.#db;
    return db.transaction(() => {
      const { credentials, ...fail } = input;
      const found = credentials.nodeId !== undefined ? getNode(db, credentials.nodeId) : findNodeByTokenHash(db, credentials.tokenHash);
      const node = checkNodeCredentials(credentials, found);
      return { node, failed: failTask(db, { ...fail, nodeId: node.nodeId }) };
    });
  }

  async listNodes(filter: { seenSince?: number } = {}): Promise<NodeRecord[]> {
    return listNodes(this.#db, filter);
  }

  async updateNodeNetwork(updates: NodeNetworkUpdate[]): Promise<void> {
    return updateNodeNetwork(this.#db, updates);
  }

  async recordLeaseCall(nodeId: string, now: number): Promise<void> {
    return recordLeaseCall(this.#db, nodeId, now);
  }

  async refuteNodeLocation(nodeId: string, reason: string): Promise<void> {
    return refuteNodeLocation(this.#db, nodeId, reason);
  }

  async countNodeTasks(): Promise<Map<string, NodeTaskCounts>> {
    return countNodeTasks(this.#db);
  }

  async listRoutedNodes(): Promise<string[]> {
    return listRoutedNodes(this.#db);
  }

  async listRunnableJobs(): Promise<JobRecord[]> {
    return listRunnableJobs(this.#db);
  }

  async listRoutableTasks(input: { jobId: string; now: number; limit: number; rerouteFrom: string[] }): Promise<RoutableTask[]> {
    return listRoutableTasks(this.#db, input);
  }

  async setTaskRoutes(assignments: RouteAssignment[]): Promise<number> {
    return setTaskRoutes(this.#db, assignments);
  }

  async getMeta(key: string): Promise<string | null> {
    return getMeta(this.#db, key);
  }

  async initMeta(key: string, value: string): Promise<string> {
    return initMeta(this.#db, key, value);
  }

  async setMeta(key: string, value: string): Promise<void> {
    return setMeta(this.#db, key, value);
  }

  async getVerificationRound(taskId: string): Promise<VerificationRound | null> {
    return getVerificationRound(this.#db, taskId);
  }

  async skipStrandedVerifications(input: { waitingSince: number; eligible: Pick<NodeRecord, 'nodeId' | 'card'>[]; now: number }): Promise<{ changes: StatusChange[]; skipped: string[] }> {
    return skipStrandedVerifications(this.#db, input);
  }

  async blocklistNode(nodeId: string, reason: string, now: number): Promise<StatusChange[]> {
    return blocklistNode(this.#db, nodeId, reason, now);
  }

  async listDuePrunes(input: { now: number; limit: number }): Promise<PruneDue[]> {
    return listDuePrunes(this.#db, input);
  }

  async settlePrune(input: { jobId: string; dueAt: number; retryAt: number | null }): Promise<boolean> {
    return settlePrune(this.#db, input);
  }

  async nextPruneDueAt(): Promise<number | null> {
    return nextPruneDueAt(this.#db);
  }

  async listLedger(filter: LedgerFilter): Promise<LedgerEntry[]> {
    return listLedger(this.#db, filter);
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

/** Add the listed columns where a table lacks them (databases made by earlier versions). */
function addMissingColumns(db: SqlDriver, list: readonly AddedColumn[]): void {
  db.transaction(() => {
    const columns = new Map<string, Set<string>>();
    for (const { table, column, definition, backfill } of list) {
      let have = columns.get(table);
      if (!have) columns.set(table, (have = new Set(db.all<{ name: string }>(`PRAGMA table_info(${table})`).map((c) => c.name))));
      if (have.has(column)) continue;
      db.run(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
      if (backfill) db.run(backfill);
    }
  });
}

/** Complete a leased task: the one operation that spans the queue, verification and the ledger. */
function completeTask(db: SqlDriver, input: CompleteInput): TaskOutcome {
  return db.transaction(() => {
    const done = readTask(db, input.taskId);
    // A node retrying a completion whose answer it lost gets the same answer, not LEASE_LOST.
    if (done?.state === 'done' && done.nodeId === input.nodeId && done.result?.checksum === input.result.checksum) {
      return { task: done, job: readJob(db, done.jobId)!, changes: [] };
    }
    const task = heldTask(db, input.taskId, input.nodeId, input.leaseId);
    const step = stepTask(task, { type: 'complete', result: input.result, now: input.now });
    const changes = [step.change];
    const job = readJob(db, task.jobId)!;
    const renderMs = Math.max(0, Math.round(input.renderMs ?? 0));
    let completed = step.task;
    let verdict: VerificationVerdict | undefined;
    const rerender = task.verification?.state === 'rerender';
    // Renders and stitches are checked alike: a stitch decides a whole frame, so one node's word is not enough.
    const checkable = task.kind === 'render' || task.kind === 'stitch';
    if (checkable && rerender && input.verifiable === false) {
      // A re-render nobody else can check: accepted as it is.
      completed = stepVerificationInto(completed, { type: 'skip', reason: 'a re-render no other node can check: accepted as it is', now: input.now }, changes);
      saveTask(db, completed);
      addLedger(db, completed, job, renderMs, 'credited', input.now);
    } else if (heldForVerification(task, input)) {
      // Sampled (or a re-render after a disproof): held back until another node's render agrees.
      completed = stepVerificationInto(completed, { type: 'hold', now: input.now }, changes);
      saveTask(db, completed);
      addLedger(db, completed, job, renderMs, 'pending', input.now);
      issueVerification(db, completed, 1, [input.nodeId], input.now);
    } else if (task.kind === 'verify') {
      saveTask(db, completed);
      addLedger(db, completed, job, renderMs, 'pending', input.now);
      verdict = vote(db, completed, input.agrees, input.verification ?? VERIFICATION_DEFAULTS, input.now, changes);
    } else {
      saveTask(db, completed);
      addLedger(db, completed, job, renderMs, 'credited', input.now);
    }
    // The nodes this completion measured (a credited render result): a card that claims far more than they prove is a lie.
    const blocklisted = (verdict?.blocklisted ?? []).map((nodeId) => ({ nodeId, reason: getNode(db, nodeId)?.reputation?.blocklisted?.reason ?? 'outvoted' }));
    if (input.claims) {
      for (const { nodeId, reason } of inflatedClaims(db, [input.nodeId, ...(verdict?.winners ?? [])], input.claims)) {
        changes.push(...blocklist(db, nodeId, reason, input.now));
        blocklisted.push({ nodeId, reason });
      }
    }
    const finished = finishIfComplete(db, task.jobId, input.now, changes);
    return { task: readTask(db, task.taskId)!, job: finished, changes, verdict, ...(blocklisted.length ? { blocklisted } : {}) };
  });
}
