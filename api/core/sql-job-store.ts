/**
 * The JobStore on any synchronous SQLite (`SqlDriver`): better-sqlite3 in the Node adapter, a Durable
 * Object's SQL storage on Workers. Each operation runs in one transaction and applies the state machine's
 * decisions, so concurrent lease calls can never hand one task to two nodes.
 */
import type { EdgeSighting } from '../protocol/edge.ts';
import type { ApiKeyLimits, ApiKeyRole } from '../protocol/api-keys.ts';
import { TesseraError } from '../protocol/errors.ts';
import type { JobState, TaskState, VerificationState } from '../protocol/job-status.ts';
import type { Coordinate, JobRequirements, NodeReputation } from '../protocol/latency.ts';
import type { LedgerEntry } from '../protocol/metering.ts';
import type { NodeCard } from '../protocol/node-card.ts';
import type { EncodeSpec, TileRect, ViewSpec } from '../protocol/render-spec.ts';
import { taskPixels } from './job-compiler.ts';
import { attemptKey, verifyKey } from './object-keys.ts';
import { JOB_STORE_ADDED_COLUMNS, JOB_STORE_AUTH_SCHEMA, JOB_STORE_ROUTING_SCHEMA, JOB_STORE_SCHEMA } from './job-store-schema.ts';
import type {
  ApiKeyRecord,
  CompleteInput,
  FailInput,
  HeartbeatInput,
  JobClientRecord,
  JobRecord,
  JobStore,
  LeaseInput,
  LedgerFilter,
  NodeNetworkUpdate,
  NodeRecord,
  NodeTaskCounts,
  RoutableTask,
  RouteAssignment,
  RoundResult,
  SceneRecord,
  TaskCounts,
  TaskKind,
  TaskOutcome,
  TaskRecord,
  TaskRoute,
  VerificationRound,
  VerificationVerdict,
} from './job-store.ts';
import { meetsRequirements } from './routing/requirements.ts';
import { expectedRenderMs } from './routing/router.ts';
import type { SceneInfo } from './scene-inspector.ts';
import type { SqlDriver, SqlValue } from './sql-driver.ts';
import { describeTask, stepJob, stepTask, type StatusChange } from './state-machine.ts';
import type { TaskPolicy } from './task-policy.ts';
import { VERIFICATION_DEFAULTS, type VerificationRules } from './verification-policy.ts';
import { tallyVote } from './verification-vote.ts';

type Row = Record<string, SqlValue>;

const str = (v: SqlValue): string => String(v);
const num = (v: SqlValue): number => Number(v);
const optNum = (v: SqlValue): number | null => (v === null ? null : Number(v));
const optStr = (v: SqlValue): string | null => (v === null ? null : String(v));
const optJson = <T>(v: SqlValue | undefined): T | null => (v === null || v === undefined ? null : (JSON.parse(String(v)) as T));
const toJson = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

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
    requirements: optJson<JobRequirements>(r.requirements),
    client: optJson<JobClientRecord>(r.client),
    routed: num(r.routed ?? 0) === 1,
    owner: optStr(r.owner ?? null),
  };
}

function rowToApiKey(r: Row): ApiKeyRecord {
  return {
    keyId: str(r.key_id),
    keyHash: str(r.key_hash),
    name: str(r.name),
    role: str(r.role) as ApiKeyRole,
    limits: optJson<ApiKeyLimits>(r.limits),
    createdAt: num(r.created_at),
    revokedAt: optNum(r.revoked_at),
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
    route: optJson<TaskRoute>(r.route),
    openAt: r.route_open_at === undefined ? 0 : optNum(r.route_open_at),
    verifies: optStr(r.verifies ?? null),
    round: num(r.verify_round ?? 0),
    verification:
      r.verify_state === null || r.verify_state === undefined
        ? null
        : { state: str(r.verify_state) as VerificationState, verifiedBy: optJson<string[]>(r.verified_by) ?? [], disproven: optJson<string[]>(r.disproven) ?? [] },
    excludeNodes: optJson<string[]>(r.exclude_nodes) ?? [],
    leasedAt: optNum(r.leased_at ?? null),
  };
}

function rowToReputation(r: Row): NodeReputation {
  return {
    verified: num(r.verified_count ?? 0),
    disproven: num(r.disproven_count ?? 0),
    blocklisted: r.blocklisted_at === null || r.blocklisted_at === undefined ? null : { at: num(r.blocklisted_at), reason: str(r.blocklist_reason) },
  };
}

function rowToLedger(r: Row): LedgerEntry {
  return {
    taskId: str(r.task_id),
    jobId: str(r.job_id),
    nodeId: str(r.node_id),
    kind: str(r.kind) as LedgerEntry['kind'],
    renderSeconds: num(r.render_ms) / 1000,
    megapixels: num(r.pixels) / 1e6,
    tiles: num(r.tiles),
    state: str(r.state) as LedgerEntry['state'],
    at: num(r.at),
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
    // Unmeasured reads as absent, as a freshly registered record has it.
    coordinate: optJson<Coordinate>(r.coordinate) ?? undefined,
    rttToApiMs: r.rtt_to_api_ms === null || r.rtt_to_api_ms === undefined ? undefined : num(r.rtt_to_api_ms),
    edge: optJson<EdgeSighting>(r.edge) ?? undefined,
    peerRttMs: optJson<Record<string, number>>(r.peer_rtts) ?? undefined,
    reputation: rowToReputation(r),
  };
}

const INSERT_TASK = `INSERT INTO tasks (task_id, job_id, kind, frame, idx, tile, final, output_key, verifies, state, attempts, node_id,
  lease_id, lease_expires_at, not_before, error, result_bytes, result_checksum, updated_at,
  route_node, route_fallback, route_fallback_at, route_open_at, route,
  verify_round, verify_state, verified_by, disproven, exclude_nodes, leased_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

const UPDATE_TASK = `UPDATE tasks SET state = ?, attempts = ?, node_id = ?, lease_id = ?, lease_expires_at = ?, not_before = ?,
  error = ?, result_bytes = ?, result_checksum = ?, updated_at = ?,
  route_node = ?, route_fallback = ?, route_fallback_at = ?, route_open_at = ?, route = ?,
  verify_round = ?, verify_state = ?, verified_by = ?, disproven = ?, exclude_nodes = ?, leased_at = ? WHERE task_id = ?`;

/** A task's changing columns, in the order INSERT_TASK (after output_key) and UPDATE_TASK list them. */
function stateColumns(t: TaskRecord): SqlValue[] {
  return [
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
    ...routeColumns(t),
    t.round,
    t.verification?.state ?? null,
    t.verification ? JSON.stringify(t.verification.verifiedBy) : null,
    t.verification ? JSON.stringify(t.verification.disproven) : null,
    t.excludeNodes.length ? JSON.stringify(t.excludeNodes) : null,
    t.leasedAt,
  ];
}

function routeColumns(t: TaskRecord): SqlValue[] {
  return [t.route?.nodeId ?? null, t.route?.fallbackId ?? null, t.route?.fallbackAt ?? null, t.openAt, toJson(t.route)];
}

const UPDATE_JOB = `UPDATE jobs SET state = ?, updated_at = ?, started_at = ?, finished_at = ?, error = ? WHERE job_id = ?`;

/** Jobs that may hand out tasks, in lease order: highest priority, then oldest. */
const RUNNABLE_JOBS = `SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY priority DESC, created_at, seq`;

/**
 * A stitch task is ready once every render task of its frame is done and none waits for its verification:
 * a frame is never stitched from a tile that may yet be outvoted.
 */
const READY = `(t.kind <> 'stitch' OR NOT EXISTS (
  SELECT 1 FROM tasks r WHERE r.job_id = t.job_id AND r.frame = t.frame AND r.kind = 'render'
    AND (r.state <> 'done' OR r.verify_state = 'pending')))`;

/** The leasing node (the query's `?`) is not one the task excludes. */
const NOT_EXCLUDED = `(t.exclude_nodes IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(t.exclude_nodes) x WHERE x.value = ?))`;

/** A finished frame: a done stitch, or a done one-tile render whose verification is not pending. */
const FRAME_DONE = `(state = 'done' AND (kind = 'stitch' OR (kind = 'render' AND final = 1 AND (verify_state IS NULL OR verify_state <> 'pending'))))`;

/** Tasks that keep a job from finishing: open, failed, cancelled (bar verify tasks whose vote ended), or awaiting verification. */
const UNFINISHED_TASK = `(state IN ('queued', 'leased', 'failed') OR (state = 'cancelled' AND kind <> 'verify') OR verify_state = 'pending')`;

const UNFINISHED_JOBS = `(SELECT job_id FROM jobs WHERE state IN ('queued', 'running'))`;

/**
 * Lease phase 1: the first task routed to this node, across runnable jobs in lease order. Routed tasks
 * were ready when routed, and a node's routed queue is short (the router never fills a busy node), so
 * this reads a handful of rows through tasks_routed.
 */
const NEXT_ROUTED_TO_NODE = `SELECT t.* FROM tasks t JOIN jobs j ON j.job_id = t.job_id
  WHERE t.state = 'queued' AND t.route_node = ? AND t.not_before <= ? AND j.state IN ('queued', 'running') AND ${NOT_EXCLUDED}
  ORDER BY j.priority DESC, j.created_at, j.seq, t.frame, t.kind, t.idx
  LIMIT 1`;

/** Lease phase 2: the first task whose chosen node let its grace period pass and whose fallback this node is. */
const NEXT_FALLBACK_FOR_NODE = `SELECT t.* FROM tasks t JOIN jobs j ON j.job_id = t.job_id
  WHERE t.state = 'queued' AND t.route_fallback = ? AND t.route_fallback_at <= ? AND t.not_before <= ?
    AND j.state IN ('queued', 'running') AND ${NOT_EXCLUDED}
  ORDER BY j.priority DESC, j.created_at, j.seq, t.frame, t.kind, t.idx
  LIMIT 1`;

/** Lease phase 3 for a routed job: its first task open to any capable node (few: routed ones past their grace). */
const NEXT_OPEN_OF_ROUTED_JOB = `SELECT t.* FROM tasks t
  WHERE t.job_id = ? AND t.state = 'queued' AND t.route_open_at <= ? AND t.not_before <= ? AND ${READY} AND ${NOT_EXCLUDED}
  ORDER BY t.frame, t.kind, t.idx
  LIMIT 1`;

/**
 * Ready queued tasks of a job that are not routed, or routed to a node in the JSON array (to route again).
 * Verify tasks are never routed: they go back to no client, so any eligible node takes them.
 */
const ROUTABLE_OF_JOB = `SELECT t.* FROM tasks t
  WHERE t.job_id = ? AND t.state = 'queued' AND t.not_before <= ? AND t.kind <> 'verify'
    AND (t.route_node IS NULL OR t.route_node IN (SELECT value FROM json_each(?)))
    AND ${READY}
  ORDER BY t.frame, t.kind, t.idx
  LIMIT ?`;

const SET_ROUTE = `UPDATE tasks SET route_node = ?, route_fallback = ?, route_fallback_at = ?, route_open_at = ?, route = ?
  WHERE task_id = ? AND state = 'queued' AND route_node IS ?`;

/**
 * A job's next leasable task in frame order (renders before the stitch): queued, past its backoff, and
 * for a stitch task every render task of its frame done. Walks the tasks_queue index, so it reads only
 * the first open tasks of the job, however many it has.
 */
const NEXT_TASK_OF_JOB = `SELECT t.* FROM tasks t
  WHERE t.job_id = ? AND t.state = 'queued' AND t.not_before <= ? AND ${READY} AND ${NOT_EXCLUDED}
  ORDER BY t.frame, t.kind, t.idx
  LIMIT 1`;

/** The JobStore over a synchronous SQLite connection; creates the schema if missing. */
export class SqlJobStore implements JobStore {
  readonly #db: SqlDriver;

  constructor(db: SqlDriver) {
    this.#db = db;
    db.exec(JOB_STORE_SCHEMA);
    db.transaction(() => {
      const columns = new Map<string, Set<string>>();
      for (const { table, column, definition } of JOB_STORE_ADDED_COLUMNS) {
        let have = columns.get(table);
        if (!have) columns.set(table, (have = new Set(db.all<{ name: string }>(`PRAGMA table_info(${table})`).map((c) => c.name))));
        if (!have.has(column)) db.run(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
      }
    });
    db.exec(JOB_STORE_ROUTING_SCHEMA);
    db.exec(JOB_STORE_AUTH_SCHEMA);
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

  async grantScene(sceneId: string, owner: string, now: number): Promise<void> {
    this.#db.run(`INSERT INTO scene_grants (scene_id, owner, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, [sceneId, owner, now]);
  }

  async isSceneGranted(sceneId: string, owner: string): Promise<boolean> {
    return this.#db.all(`SELECT 1 FROM scene_grants WHERE scene_id = ? AND owner = ?`, [sceneId, owner]).length > 0;
  }

  async putApiKey(key: ApiKeyRecord): Promise<void> {
    this.#db.run(`INSERT INTO api_keys (key_id, key_hash, name, role, limits, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
      key.keyId,
      key.keyHash,
      key.name,
      key.role,
      toJson(key.limits),
      key.createdAt,
      key.revokedAt,
    ]);
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    const [row] = this.#db.all<Row>(`SELECT * FROM api_keys WHERE key_hash = ?`, [keyHash]);
    return row ? rowToApiKey(row) : null;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.#db.all<Row>(`SELECT * FROM api_keys ORDER BY created_at, key_id`).map(rowToApiKey);
  }

  async revokeApiKey(keyId: string, now: number): Promise<ApiKeyRecord | null> {
    return this.#db.transaction(() => {
      this.#db.run(`UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL`, [now, keyId]);
      const [row] = this.#db.all<Row>(`SELECT * FROM api_keys WHERE key_id = ?`, [keyId]);
      return row ? rowToApiKey(row) : null;
    });
  }

  async countActiveJobs(owner: string): Promise<number> {
    const [row] = this.#db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE owner = ? AND state IN ('queued', 'running')`, [owner]);
    return Number(row?.n ?? 0);
  }

  async createJob(job: JobRecord, tasks: TaskRecord[]): Promise<void> {
    this.#db.transaction(() => {
      this.#db.run(
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
        this.#db.run(INSERT_TASK, [
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
      .all<Row>(`SELECT * FROM tasks WHERE job_id = ? AND ${FRAME_DONE} ORDER BY frame`, [jobId])
      .map(rowToTask);
  }

  async countTasks(jobId: string): Promise<TaskCounts> {
    const row = this.#db.all<Row>(
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
      `INSERT INTO nodes (node_id, token_hash, card, registered_at, last_seen_at, load, coordinate, rtt_to_api_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [node.nodeId, node.tokenHash, JSON.stringify(node.card), node.registeredAt, node.lastSeenAt, node.load, toJson(node.coordinate), node.rttToApiMs ?? null],
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
      const { nodeId, now, card } = input;
      // A node asking for work is alive, heartbeat or not.
      this.#db.run(`UPDATE nodes SET last_seen_at = ? WHERE node_id = ? AND last_seen_at < ?`, [now, nodeId, now]);
      let leasedAs: NonNullable<TaskRoute['leasedAs']> = 'chosen';
      let row = this.#db.all<Row>(NEXT_ROUTED_TO_NODE, [nodeId, now, nodeId])[0];
      if (!row) {
        leasedAs = 'fallback';
        row = this.#db.all<Row>(NEXT_FALLBACK_FOR_NODE, [nodeId, now, now, nodeId])[0];
      }
      let jobRow: Row | undefined;
      if (!row) {
        for (const j of this.#db.all<Row>(RUNNABLE_JOBS)) {
          const job = rowToJob(j);
          if (card && !meetsRequirements(card, job.requirements ?? undefined)) continue;
          row = job.routed
            ? this.#db.all<Row>(NEXT_OPEN_OF_ROUTED_JOB, [job.jobId, now, now, nodeId])[0]
            : this.#db.all<Row>(NEXT_TASK_OF_JOB, [job.jobId, now, nodeId])[0];
          if (row) {
            leasedAs = job.routed ? 'open' : 'first-free';
            jobRow = j;
            break;
          }
        }
      }
      if (!row) return null;
      const task = rowToTask(row);
      let job = jobRow ? rowToJob(jobRow) : this.#job(task.jobId)!;
      const step = stepTask(task, { type: 'lease', nodeId, leaseId: input.leaseId, now, leaseMs: input.policy.leaseMs });
      const route: TaskRoute = task.route && leasedAs !== 'first-free' ? { ...task.route, leasedAs } : firstFreeRoute(task, job, nodeId, card, now);
      const leased: TaskRecord = { ...step.task, route };
      this.#saveTask(leased);
      const changes = [step.change];
      if (job.state === 'queued') {
        const started = stepJob(job, { type: 'start', now });
        this.#saveJob(started.job);
        changes.push(started.change);
        job = started.job;
      }
      return { task: leased, job, changes };
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
      const changes = [step.change];
      const job = this.#job(task.jobId)!;
      const renderMs = Math.max(0, Math.round(input.renderMs ?? 0));
      let completed = step.task;
      let verdict: VerificationVerdict | undefined;
      const rerender = task.verification?.state === 'rerender';
      if (task.kind === 'render' && rerender && input.verifiable === false) {
        // A re-render nobody else can check: accepted as it is.
        completed = { ...completed, verification: { ...task.verification!, state: 'skipped' } };
        this.#saveTask(completed);
        this.#addLedger(completed, job, renderMs, 'credited', input.now);
      } else if (task.kind === 'render' && input.verifiable !== false && (input.sample === true || rerender)) {
        // Sampled (or a re-render after a disproof): held back until another node's render agrees.
        completed = { ...completed, verification: { state: 'pending', verifiedBy: [], disproven: task.verification?.disproven ?? [] } };
        this.#saveTask(completed);
        this.#addLedger(completed, job, renderMs, 'pending', input.now);
        this.#issueVerification(completed, 1, [input.nodeId], input.now);
      } else if (task.kind === 'verify') {
        this.#saveTask(completed);
        this.#addLedger(completed, job, renderMs, 'pending', input.now);
        verdict = this.#vote(completed, input.agrees, input.verification ?? VERIFICATION_DEFAULTS, input.now, changes);
      } else {
        this.#saveTask(completed);
        this.#addLedger(completed, job, renderMs, 'credited', input.now);
      }
      const finished = this.#finishIfComplete(task.jobId, input.now, changes);
      return { task: this.#task(task.taskId)!, job: finished, changes, verdict };
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

  async listNodes(filter: { seenSince?: number } = {}): Promise<NodeRecord[]> {
    return this.#db
      .all<Row>(`SELECT * FROM nodes WHERE last_seen_at >= ? ORDER BY registered_at, node_id`, [filter.seenSince ?? 0])
      .map(rowToNode);
  }

  async updateNodeNetwork(updates: NodeNetworkUpdate[]): Promise<void> {
    this.#db.transaction(() => {
      for (const u of updates) {
        this.#db.run(`UPDATE nodes SET coordinate = COALESCE(?, coordinate), rtt_to_api_ms = COALESCE(?, rtt_to_api_ms), edge = COALESCE(?, edge), peer_rtts = COALESCE(?, peer_rtts) WHERE node_id = ?`, [
          toJson(u.coordinate),
          u.rttToApiMs ?? null,
          toJson(u.edge),
          toJson(u.peerRttMs),
          u.nodeId,
        ]);
      }
    });
  }

  async countNodeTasks(): Promise<Map<string, NodeTaskCounts>> {
    const counts = new Map<string, NodeTaskCounts>();
    const entry = (id: string) => {
      let c = counts.get(id);
      if (!c) counts.set(id, (c = { queued: 0, running: 0 }));
      return c;
    };
    for (const r of this.#db.all<Row>(`SELECT route_node AS node, COUNT(*) AS n FROM tasks WHERE state = 'queued' AND route_node IS NOT NULL GROUP BY route_node`)) {
      entry(str(r.node)).queued = num(r.n);
    }
    for (const r of this.#db.all<Row>(`SELECT node_id AS node, COUNT(*) AS n FROM tasks WHERE state = 'leased' AND node_id IS NOT NULL GROUP BY node_id`)) {
      entry(str(r.node)).running = num(r.n);
    }
    return counts;
  }

  async listRoutedNodes(): Promise<string[]> {
    return this.#db.all<Row>(`SELECT DISTINCT route_node AS node FROM tasks WHERE state = 'queued' AND route_node IS NOT NULL`).map((r) => str(r.node));
  }

  async listRunnableJobs(): Promise<JobRecord[]> {
    return this.#db.all<Row>(RUNNABLE_JOBS).map(rowToJob);
  }

  async listRoutableTasks(input: { jobId: string; now: number; limit: number; rerouteFrom: string[] }): Promise<RoutableTask[]> {
    if (input.limit <= 0) return [];
    const rows = this.#db.all<Row>(ROUTABLE_OF_JOB, [input.jobId, input.now, JSON.stringify(input.rerouteFrom), input.limit]);
    return rows.map((r) => {
      const task = rowToTask(r);
      const failed =
        task.attempts > 0
          ? this.#db.all<Row>(`SELECT DISTINCT node_id FROM task_failures WHERE task_id = ? AND node_id <> ''`, [task.taskId]).map((f) => str(f.node_id))
          : [];
      // Nodes the task excludes (outvoted on it) are avoided like the ones it failed on.
      return { task, failedOn: [...new Set([...failed, ...task.excludeNodes])] };
    });
  }

  async setTaskRoutes(assignments: RouteAssignment[]): Promise<number> {
    return this.#db.transaction(() => {
      let applied = 0;
      for (const a of assignments) {
        applied += this.#db.run(SET_ROUTE, [a.route.nodeId, a.route.fallbackId, a.route.fallbackAt, a.openAt, JSON.stringify(a.route), a.taskId, a.expectNode]);
      }
      return applied;
    });
  }

  async getMeta(key: string): Promise<string | null> {
    const row = this.#db.all<Row>(`SELECT value FROM meta WHERE key = ?`, [key])[0];
    return row ? str(row.value) : null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.#db.run(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, value]);
  }

  async getVerificationRound(taskId: string): Promise<VerificationRound | null> {
    const v = this.#task(taskId);
    if (!v || v.kind !== 'verify' || !v.verifies) return null;
    const target = this.#task(v.verifies)!;
    if (target.state !== 'done' || target.round !== v.round || target.verification?.state !== 'pending') return null;
    return { target, earlier: this.#roundResults(target, v.taskId) };
  }

  async skipStrandedVerifications(input: { waitingSince: number; eligible: Pick<NodeRecord, 'nodeId' | 'card'>[]; now: number }): Promise<{ changes: StatusChange[]; skipped: string[] }> {
    return this.#db.transaction(() => {
      const changes: StatusChange[] = [];
      const skipped: string[] = [];
      const waiting = this.#db
        .all<Row>(`SELECT * FROM tasks WHERE kind = 'verify' AND state = 'queued' AND updated_at <= ? AND job_id IN ${UNFINISHED_JOBS}`, [input.waitingSince])
        .map(rowToTask);
      const jobs = new Set<string>();
      for (const v of waiting) {
        const requirements = this.#job(v.jobId)!.requirements ?? undefined;
        if (input.eligible.some((n) => !v.excludeNodes.includes(n.nodeId) && meetsRequirements(n.card, requirements))) continue;
        const target = this.#task(v.verifies!)!;
        const step = stepTask(v, { type: 'cancel', reason: 'no other node can verify it', now: input.now });
        this.#saveTask(step.task);
        changes.push(step.change);
        if (target.verification?.state !== 'pending' || target.round !== v.round) continue;
        // Accepted unverified: the original result stands; unconfirmed verifying results do not count.
        this.#saveTask({ ...target, verification: { ...target.verification, state: 'skipped' }, updatedAt: input.now });
        this.#setLedger(`task_id = ? AND state = 'pending'`, [target.taskId], 'credited');
        this.#voidRoundEntries(target);
        skipped.push(target.taskId);
        jobs.add(target.jobId);
      }
      for (const jobId of jobs) this.#finishIfComplete(jobId, input.now, changes);
      return { changes, skipped };
    });
  }

  async blocklistNode(nodeId: string, reason: string, now: number): Promise<StatusChange[]> {
    return this.#db.transaction(() => this.#blocklist(nodeId, reason, now));
  }

  async listLedger(filter: LedgerFilter): Promise<LedgerEntry[]> {
    return this.#db
      .all<Row>(`SELECT * FROM ledger WHERE (? IS NULL OR job_id = ?) AND (? IS NULL OR node_id = ?) ORDER BY seq`, [
        filter.jobId ?? null,
        filter.jobId ?? null,
        filter.nodeId ?? null,
        filter.nodeId ?? null,
      ])
      .map(rowToLedger);
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
    let job = this.#job(before.jobId)!;
    // A requeued task is routed afresh (a routed job's task waits for the router; a first-come one is open).
    // Verify tasks are never routed: open to any eligible node again.
    const task: TaskRecord =
      step.task.state === 'queued' ? { ...step.task, route: null, openAt: job.routed && step.task.kind !== 'verify' ? null : 0 } : step.task;
    this.#saveTask(task);
    step = { ...step, task };
    const changes = [step.change];
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

  /** Finish the job when nothing is left to run or verify; returns the job as it is now. */
  #finishIfComplete(jobId: string, now: number, changes: StatusChange[]): JobRecord {
    const job = this.#job(jobId)!;
    if (job.state !== 'running') return job;
    const left = this.#db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE job_id = ? AND ${UNFINISHED_TASK}`, [jobId])[0].n;
    if (left > 0) return job;
    const finished = stepJob(job, { type: 'finish', now });
    this.#saveJob(finished.job);
    changes.push(finished.change);
    return finished.job;
  }

  /** Queue verify task `n` of the target's current round, for a node outside `exclude`. */
  #issueVerification(target: TaskRecord, n: number, exclude: string[], now: number): void {
    const ext = target.outputKey.slice(target.outputKey.lastIndexOf('.') + 1);
    const v: TaskRecord = {
      taskId: `${target.taskId}.v${target.round}.${n}`,
      jobId: target.jobId,
      kind: 'verify',
      frame: target.frame,
      index: target.index,
      tile: target.tile,
      final: target.final,
      outputKey: verifyKey(target.jobId, target.frame, target.tile!, target.round, n, ext),
      state: 'queued',
      attempts: 0,
      nodeId: null,
      leaseId: null,
      leaseExpiresAt: null,
      notBefore: now,
      error: null,
      result: null,
      updatedAt: now,
      route: null,
      // Open to any eligible node at once, routed job or not.
      openAt: 0,
      verifies: target.taskId,
      round: target.round,
      verification: null,
      excludeNodes: [...new Set(exclude)],
      leasedAt: null,
    };
    this.#db.run(INSERT_TASK, [v.taskId, v.jobId, v.kind, v.frame, v.index, JSON.stringify(v.tile), v.final ? 1 : 0, v.outputKey, v.verifies, ...stateColumns(v)]);
  }

  /** The results of the target's current round, the original first, then its done verify tasks (but `except`). */
  #roundResults(target: TaskRecord, except: string): RoundResult[] {
    const verifiers = this.#db
      .all<Row>(`SELECT * FROM tasks WHERE verifies = ? AND verify_round = ? AND state = 'done' AND task_id <> ? ORDER BY task_id`, [target.taskId, target.round, except])
      .map(rowToTask);
    return [target, ...verifiers].map((t) => ({ taskId: t.taskId, nodeId: t.nodeId!, checksum: t.result!.checksum, outputKey: attemptKey(t) }));
  }

  /** Tally the round the just-completed verify task `v` belongs to, and apply what it decides. */
  #vote(v: TaskRecord, agrees: boolean[] | undefined, rules: VerificationRules, now: number, changes: StatusChange[]): VerificationVerdict | undefined {
    const target = this.#task(v.verifies!)!;
    if (target.state !== 'done' || target.round !== v.round || target.verification?.state !== 'pending') {
      // The vote ended without it (its target was re-rendered meanwhile): the result is not needed.
      this.#setLedger(`task_id = ? AND state = 'pending'`, [v.taskId], 'voided');
      return undefined;
    }
    const round = [...this.#roundResults(target, v.taskId), { taskId: v.taskId, nodeId: v.nodeId!, checksum: v.result!.checksum, outputKey: attemptKey(v) }];
    const earlier = round.slice(0, -1);
    // The API compared against the round as it read it; should the round have changed since, compare checksums.
    const agreement = agrees?.length === earlier.length ? agrees : earlier.map((r) => r.checksum === v.result!.checksum);
    const outcome = tallyVote(round.length, agreement);
    const nodesOf = (ix: number[]) => ix.map((i) => round[i].nodeId);
    const verdict: VerificationVerdict = { taskId: target.taskId, outcome: 'escalated', winners: [], losers: [], blocklisted: [] };
    switch (outcome.kind) {
      case 'escalate':
        this.#issueVerification(target, round.length, round.map((r) => r.nodeId), now);
        return verdict;
      case 'verified':
      case 'disproven': {
        const winners = outcome.winners.map((i) => round[i]);
        const losers = outcome.losers.map((i) => round[i]);
        for (const w of winners) this.#setLedger(`task_id = ? AND node_id = ? AND state = 'pending'`, [w.taskId, w.nodeId], 'credited');
        for (const l of losers) this.#setLedger(`task_id = ? AND node_id = ? AND state = 'pending'`, [l.taskId, l.nodeId], 'voided');
        const disproven = [...new Set([...target.verification.disproven, ...nodesOf(outcome.losers)])];
        if (outcome.kind === 'verified') {
          this.#saveTask({ ...target, verification: { state: 'verified', verifiedBy: nodesOf(outcome.winners), disproven }, updatedAt: now });
        } else {
          this.#saveTask({ ...target, verification: { ...target.verification, disproven } });
          changes.push(...this.#rerender(target.taskId, `outvoted: nodes ${nodesOf(outcome.winners).join(' and ')} rendered this tile differently from node ${target.nodeId}`, target.nodeId, now));
        }
        verdict.outcome = outcome.kind;
        verdict.winners = nodesOf(outcome.winners);
        verdict.losers = nodesOf(outcome.losers);
        for (const id of verdict.winners) this.#db.run(`UPDATE nodes SET verified_count = verified_count + 1 WHERE node_id = ?`, [id]);
        for (const id of verdict.losers) {
          this.#db.run(`UPDATE nodes SET disproven_count = disproven_count + 1 WHERE node_id = ?`, [id]);
          const count = this.#db.all<Row>(`SELECT disproven_count AS n, blocklisted_at FROM nodes WHERE node_id = ?`, [id])[0];
          if (count && count.blocklisted_at === null && num(count.n) >= rules.blocklistAfter) {
            changes.push(...this.#blocklist(id, `${num(count.n)} of its results were outvoted by other nodes' renders of the same tiles`, now));
            verdict.blocklisted.push(id);
          }
        }
        return verdict;
      }
      case 'inconclusive': {
        verdict.outcome = 'inconclusive';
        this.#setLedger(`task_id = ? AND state = 'pending'`, [target.taskId], 'voided');
        this.#voidRoundEntries(target);
        if (target.round + 1 >= rules.maxRounds) {
          const job = this.#job(target.jobId)!;
          if (job.state === 'queued' || job.state === 'running') {
            const reason = `${describeTask(target)}: renders by different nodes disagreed in ${target.round + 1} verification rounds; the scene does not render deterministically`;
            const failed = stepJob(job, { type: 'fail', reason, now });
            this.#saveJob(failed.job);
            changes.push(failed.change, ...this.#cancelUnfinished(job.jobId, 'job failed', now));
          }
          return verdict;
        }
        changes.push(...this.#rerender(target.taskId, 'inconclusive: three nodes rendered this tile three different ways', null, now));
        return verdict;
      }
    }
  }

  /**
   * Discard a render task's result and queue it again (its next result is always verified, in a new round):
   * its open verifications are cancelled, its ledger entries voided, and its frame's stitch, if done or
   * running, queued again to wait for it. `exclude`: a node that may not render it again.
   */
  #rerender(taskId: string, reason: string, exclude: string | null, now: number): StatusChange[] {
    const changes: StatusChange[] = [];
    let task = this.#task(taskId)!;
    const job = this.#job(task.jobId)!;
    if (task.state === 'done' || task.state === 'leased') {
      const step = stepTask(task, { type: 'requeue', reason, now });
      changes.push(step.change);
      task = step.task;
    } else if (task.state !== 'queued') return changes;
    this.#setLedger(`task_id = ? AND state <> 'voided'`, [task.taskId], 'voided');
    this.#voidRoundEntries(task);
    for (const v of this.#db.all<Row>(`SELECT * FROM tasks WHERE verifies = ? AND state IN ('queued', 'leased')`, [task.taskId]).map(rowToTask)) {
      const step = stepTask(v, { type: 'cancel', reason: `the tile it verifies is rendered again (${reason})`, now });
      this.#saveTask(step.task);
      changes.push(step.change);
    }
    this.#saveTask({
      ...task,
      route: null,
      openAt: job.routed ? null : 0,
      round: task.round + 1,
      verification: { state: 'rerender', verifiedBy: [], disproven: task.verification?.disproven ?? [] },
      excludeNodes: exclude ? [...new Set([...task.excludeNodes, exclude])] : task.excludeNodes,
    });
    if (!task.final) changes.push(...this.#restitch(task.jobId, task.frame, now));
    return changes;
  }

  /** Queue the frame's stitch again (when done or running): one of its tiles changes. */
  #restitch(jobId: string, frame: number, now: number): StatusChange[] {
    const stitch = this.#db.all<Row>(`SELECT * FROM tasks WHERE job_id = ? AND frame = ? AND kind = 'stitch'`, [jobId, frame]).map(rowToTask)[0];
    if (!stitch || (stitch.state !== 'done' && stitch.state !== 'leased')) return [];
    const job = this.#job(jobId)!;
    const step = stepTask(stitch, { type: 'requeue', reason: 'a tile of the frame is rendered again', now });
    this.#saveTask({ ...step.task, route: null, openAt: job.routed ? null : 0 });
    this.#setLedger(`task_id = ? AND state <> 'voided'`, [stitch.taskId], 'voided');
    return [step.change];
  }

  /** Void the still pending entries of the target's verify tasks (their round ended without crediting them). */
  #voidRoundEntries(target: TaskRecord): void {
    this.#setLedger(`state = 'pending' AND task_id IN (SELECT task_id FROM tasks WHERE verifies = ?)`, [target.taskId], 'voided');
  }

  /** Blocklist a node (once): see JobStore.blocklistNode. */
  #blocklist(nodeId: string, reason: string, now: number): StatusChange[] {
    const marked = this.#db.run(`UPDATE nodes SET blocklisted_at = ?, blocklist_reason = ? WHERE node_id = ? AND blocklisted_at IS NULL`, [now, reason, nodeId]);
    if (marked === 0) return [];
    const changes: StatusChange[] = [];
    const why = `node ${nodeId} was blocklisted: ${reason}`;
    // Its leases: revoked, the tasks queued again for others (not counted as failed attempts).
    for (const t of this.#db.all<Row>(`SELECT * FROM tasks WHERE state = 'leased' AND node_id = ?`, [nodeId]).map(rowToTask)) {
      if (t.kind === 'render') {
        changes.push(...this.#rerender(t.taskId, why, nodeId, now));
        continue;
      }
      const job = this.#job(t.jobId)!;
      const step = stepTask(t, { type: 'requeue', reason: why, now });
      const routed = t.kind === 'stitch' && job.routed;
      this.#saveTask({ ...step.task, route: routed ? null : step.task.route, openAt: routed ? null : 0, excludeNodes: [...new Set([...t.excludeNodes, nodeId])] });
      changes.push(step.change);
    }
    // Everything it delivered in unfinished jobs is rendered again by others, and the frames re-stitched.
    const delivered = this.#db
      .all<Row>(`SELECT * FROM tasks WHERE state = 'done' AND node_id = ? AND kind IN ('render', 'stitch') AND job_id IN ${UNFINISHED_JOBS}`, [nodeId])
      .map(rowToTask);
    for (const t of delivered) {
      if (t.kind === 'render') changes.push(...this.#rerender(t.taskId, why, nodeId, now));
      else changes.push(...this.#restitch(t.jobId, t.frame, now));
    }
    // Tiles it vouched for are no longer verified: rendered again too.
    const vouched = this.#db
      .all<Row>(
        `SELECT t.* FROM tasks t WHERE t.state = 'done' AND t.kind = 'render' AND t.verify_state = 'verified' AND t.job_id IN ${UNFINISHED_JOBS}
           AND EXISTS (SELECT 1 FROM json_each(t.verified_by) x WHERE x.value = ?)`,
        [nodeId],
      )
      .map(rowToTask);
    for (const t of vouched) changes.push(...this.#rerender(t.taskId, `${why} (it had verified this tile)`, null, now));
    this.#setLedger(`node_id = ? AND state <> 'voided' AND job_id IN ${UNFINISHED_JOBS}`, [nodeId], 'voided');
    return changes;
  }

  /** Write a ledger line for the node that completed `task`. */
  #addLedger(task: TaskRecord, job: JobRecord, renderMs: number, state: LedgerEntry['state'], now: number): void {
    const pixels = task.kind === 'stitch' || !task.tile ? 0 : task.tile.width * task.tile.height * job.view.ssaa * job.view.ssaa;
    this.#db.run(
      `INSERT INTO ledger (task_id, job_id, node_id, kind, attempt, render_ms, pixels, tiles, state, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [task.taskId, task.jobId, task.nodeId!, task.kind, task.attempts, renderMs, pixels, task.kind === 'stitch' ? 0 : 1, state, now],
    );
  }

  #setLedger(where: string, params: SqlValue[], state: LedgerEntry['state']): void {
    this.#db.run(`UPDATE ledger SET state = ? WHERE ${where}`, [state, ...params]);
  }

  #saveTask(t: TaskRecord): void {
    this.#db.run(UPDATE_TASK, [...stateColumns(t), t.taskId]);
  }

  #saveJob(j: JobRecord): void {
    this.#db.run(UPDATE_JOB, [j.state, j.updatedAt, j.startedAt, j.finishedAt, j.error, j.jobId]);
  }
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
