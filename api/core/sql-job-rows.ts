/** The SQL job store's rows: column mapping to and from records, the shared SQL fragments and queries, and reading and saving one record. */
import type { ApiKeyLimits, ApiKeyRole } from '../protocol/api-keys.ts';
import type { EdgeSighting } from '../protocol/edge.ts';
import type { JobState, TaskState, VerificationState } from '../protocol/job-status.ts';
import type { Coordinate, NodeReputation } from '../protocol/latency.ts';
import type { TaskRequirements } from '../protocol/job-requirements.ts';
import type { LedgerEntry } from '../protocol/metering.ts';
import type { NodeCard } from '../protocol/node-card.ts';
import type { EncodeSpec, TileRect, ViewSpec } from '../protocol/render-spec.ts';
import type { ApiKeyRecord, JobClientRecord, JobRecord, NodeOrigin, NodeRecord, SceneRecord, TaskKind, TaskRecord, TaskRoute } from './job-store.ts';
import type { SceneInfo } from '../../scene-check/scene-inspector.ts';
import { FRAME_DONE } from './job-store-schema.ts';
import type { SqlDriver, SqlValue } from './sql-driver.ts';
import { markPruneDue } from './sql-prune-marks.ts';
import { isJobFinished } from './state-machine.ts';
import { outputsFrame } from './job-compiler.ts';



export type Row = Record<string, SqlValue>;

export const str = (v: SqlValue): string => String(v);
export const num = (v: SqlValue): number => Number(v);
export const optNum = (v: SqlValue): number | null => (v === null ? null : Number(v));
export const optStr = (v: SqlValue): string | null => (v === null ? null : String(v));
export const optJson = <T>(v: SqlValue | undefined): T | null => (v === null || v === undefined ? null : (JSON.parse(String(v)) as T));
export const toJson = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

export function rowToScene(r: Row): SceneRecord {
  return {
    sceneId: str(r.scene_id),
    bytes: num(r.bytes),
    stats: JSON.parse(str(r.stats)) as Record<string, unknown>,
    info: JSON.parse(str(r.info)) as SceneInfo,
    createdAt: num(r.created_at),
  };
}

export function rowToJob(r: Row): JobRecord {
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
    requirements: optJson<TaskRequirements>(r.requirements),
    client: optJson<JobClientRecord>(r.client),
    routed: num(r.routed ?? 0) === 1,
    owner: optStr(r.owner ?? null),
  };
}

export function rowToApiKey(r: Row): ApiKeyRecord {
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

export function rowToTask(r: Row): TaskRecord {
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

export function rowToReputation(r: Row): NodeReputation {
  return {
    verified: num(r.verified_count ?? 0),
    disproven: num(r.disproven_count ?? 0),
    blocklisted: r.blocklisted_at === null || r.blocklisted_at === undefined ? null : { at: num(r.blocklisted_at), reason: str(r.blocklist_reason) },
  };
}

export function rowToLedger(r: Row): LedgerEntry {
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

export function rowToNode(r: Row): NodeRecord {
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
    probeKey: optStr(r.probe_key ?? null),
    lastLeaseAt: optNum(r.last_lease_at ?? null),
    throughput: { pixels: num(r.measured_pixels ?? 0), ms: num(r.measured_ms ?? 0), results: num(r.measured_results ?? 0), best: num(r.measured_best ?? 0) },
    locationRefuted: optStr(r.location_refuted ?? null),
    cachedScenes: optJson<string[]>(r.cached_scenes ?? null) ?? undefined,
    origin: optJson<NodeOrigin>(r.origin ?? null) ?? undefined,
  };
}

export const INSERT_TASK = `INSERT INTO tasks (task_id, job_id, kind, frame, idx, tile, final, output_key, verifies, state, attempts, node_id,
  lease_id, lease_expires_at, not_before, error, result_bytes, result_checksum, updated_at,
  route_node, route_fallback, route_fallback_at, route_open_at, route,
  verify_round, verify_state, verified_by, disproven, exclude_nodes, leased_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export const UPDATE_TASK = `UPDATE tasks SET state = ?, attempts = ?, node_id = ?, lease_id = ?, lease_expires_at = ?, not_before = ?,
  error = ?, result_bytes = ?, result_checksum = ?, updated_at = ?,
  route_node = ?, route_fallback = ?, route_fallback_at = ?, route_open_at = ?, route = ?,
  verify_round = ?, verify_state = ?, verified_by = ?, disproven = ?, exclude_nodes = ?, leased_at = ?,
  finished_seq = CASE WHEN ? = 0 OR ${FRAME_DONE} THEN finished_seq
    ELSE (SELECT COALESCE(MAX(f.finished_seq), 0) + 1 FROM tasks f WHERE f.job_id = tasks.job_id AND f.finished_seq IS NOT NULL) END
  WHERE task_id = ?`;

/*
 * UPDATE_TASK's finished_seq: the right-hand sides of SET read the row as it was, so FRAME_DONE there is "was finished
 * before this write" and the parameter (isFrameDone of the new record) "is finished after it". A task that enters
 * FRAME_DONE gets one more than the highest sequence of its job; one that stays in or out keeps its own. Every task
 * write goes through here, inside the operation's transaction, so sequences are handed out in commit order and a
 * cursor never passes a frame that finishes later (whatever its frame number).
 */

/** A task's changing columns, in the order INSERT_TASK (after output_key) and UPDATE_TASK list them. */
export function stateColumns(t: TaskRecord): SqlValue[] {
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

export function routeColumns(t: TaskRecord): SqlValue[] {
  return [t.route?.nodeId ?? null, t.route?.fallbackId ?? null, t.route?.fallbackAt ?? null, t.openAt, toJson(t.route)];
}

export const UPDATE_JOB = `UPDATE jobs SET state = ?, updated_at = ?, started_at = ?, finished_at = ?, error = ? WHERE job_id = ?`;

/** Jobs that may hand out tasks, in lease order: highest priority, then oldest. */
export const RUNNABLE_JOBS = `SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY priority DESC, created_at, seq`;

/**
 * A stitch task is ready once every render task of its frame is done and none waits for its verification:
 * a frame is never stitched from a tile that may yet be outvoted.
 */
export const READY = `(t.kind <> 'stitch' OR NOT EXISTS (
  SELECT 1 FROM tasks r WHERE r.job_id = t.job_id AND r.frame = t.frame AND r.kind = 'render'
    AND (r.state <> 'done' OR r.verify_state = 'pending')))`;

/** The leasing node (the query's `?`) is not one the task excludes. */
export const NOT_EXCLUDED = `(t.exclude_nodes IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(t.exclude_nodes) x WHERE x.value = ?))`;

/**
 * The task fits the leasing node (the query's `?`: 1 when the node takes tiles only, else 0): a tiles-only node
 * gets tile renders and their verifications, never a stitch, a stitch's verification (no tile) or a one-tile frame.
 */
export const FITS_NODE = `(? = 0 OR (t.kind <> 'stitch' AND t.tile IS NOT NULL AND t.final = 0))`;

export { FRAME_DONE };

/** FRAME_DONE of a record: the same condition, for the task saveTask is about to write. */
export function isFrameDone(t: TaskRecord): boolean {
  return t.state === 'done' && t.verification?.state !== 'pending' && outputsFrame(t);
}

/** Tasks that keep a job from finishing: open, failed, cancelled (bar verify tasks whose vote ended), or awaiting verification. */
export const UNFINISHED_TASK = `(state IN ('queued', 'leased', 'failed') OR (state = 'cancelled' AND kind <> 'verify') OR verify_state = 'pending')`;

export const UNFINISHED_JOBS = `(SELECT job_id FROM jobs WHERE state IN ('queued', 'running'))`;

/**
 * First-come jobs (no client RTTs: never routed) ahead of a job in lease order (the query's priority, created_at
 * and seq: those of the job whose routed task a node would lease next). Their tasks are open to any capable node,
 * but only in lease phase 3, which a node reaches once its routed queue is empty: under steady routed work an older
 * first-come job would wait behind every younger routed one (a frame's stitch, ready only once its tiles were
 * verified, sat queued past its job's time limit). So a node takes such a job's ready task before younger routed work.
 */
export const FIRST_COME_JOBS_AHEAD_OF = `SELECT * FROM jobs WHERE state IN ('queued', 'running') AND routed = 0
  AND (priority > ? OR (priority = ? AND (created_at < ? OR (created_at = ? AND seq < ?))))
  ORDER BY priority DESC, created_at, seq`;

/**
 * Lease phase 1: the first task routed to this node, across runnable jobs in lease order. Routed tasks
 * were ready when routed, and a node's routed queue is short (the router never fills a busy node), so
 * this reads a handful of rows through tasks_routed.
 */
export const NEXT_ROUTED_TO_NODE = `SELECT t.* FROM tasks t JOIN jobs j ON j.job_id = t.job_id
  WHERE t.state = 'queued' AND t.route_node = ? AND t.not_before <= ? AND j.state IN ('queued', 'running') AND ${NOT_EXCLUDED} AND ${FITS_NODE}
  ORDER BY j.priority DESC, j.created_at, j.seq, t.frame, t.kind, t.idx
  LIMIT 1`;

/**
 * Lease phase 0 (for a node with routed work): the first verification this node may run (not its own result's),
 * of a runnable job of at least the given priority. Verify tasks are never routed, so without this phase nodes
 * would take them only once their routed queues ran dry, at the job's end: new nodes' probation (half their results re-rendered) would then last
 * the whole job, and every verified frame would wait for the end. Reads the few rows of tasks_verify_queue.
 */
export const NEXT_VERIFICATION_FOR_NODE = `SELECT t.* FROM tasks t JOIN jobs j ON j.job_id = t.job_id
  WHERE t.kind = 'verify' AND t.state = 'queued' AND t.not_before <= ? AND j.state IN ('queued', 'running') AND j.priority >= ?
    AND ${NOT_EXCLUDED} AND ${FITS_NODE}
  ORDER BY j.priority DESC, j.created_at, j.seq, t.frame, t.idx
  LIMIT 1`;

/** Lease phase 2: the first task whose chosen node let its grace period pass and whose fallback this node is. */
export const NEXT_FALLBACK_FOR_NODE = `SELECT t.* FROM tasks t JOIN jobs j ON j.job_id = t.job_id
  WHERE t.state = 'queued' AND t.route_fallback = ? AND t.route_fallback_at <= ? AND t.not_before <= ?
    AND j.state IN ('queued', 'running') AND ${NOT_EXCLUDED} AND ${FITS_NODE}
  ORDER BY j.priority DESC, j.created_at, j.seq, t.frame, t.kind, t.idx
  LIMIT 1`;

/** Lease phase 3 for a routed job: its first task open to any capable node (few: routed ones past their grace). */
export const NEXT_OPEN_OF_ROUTED_JOB = `SELECT t.* FROM tasks t
  WHERE t.job_id = ? AND t.state = 'queued' AND t.route_open_at <= ? AND t.not_before <= ? AND ${READY} AND ${NOT_EXCLUDED} AND ${FITS_NODE}
  ORDER BY t.frame, t.kind, t.idx
  LIMIT 1`;

/**
 * Ready queued tasks of a job that are not routed, or routed to a node in the JSON array (to route again).
 * Verify tasks are never routed: they go back to no client, so any eligible node takes them.
 */
export const ROUTABLE_OF_JOB = `SELECT t.* FROM tasks t
  WHERE t.job_id = ? AND t.state = 'queued' AND t.not_before <= ? AND t.kind <> 'verify'
    AND (t.route_node IS NULL OR t.route_node IN (SELECT value FROM json_each(?)))
    AND ${READY}
  ORDER BY t.frame, t.kind, t.idx
  LIMIT ?`;

export const SET_ROUTE = `UPDATE tasks SET route_node = ?, route_fallback = ?, route_fallback_at = ?, route_open_at = ?, route = ?
  WHERE task_id = ? AND state = 'queued' AND route_node IS ?`;

/**
 * A job's next leasable task in frame order (renders before the stitch): queued, past its backoff, and
 * for a stitch task every render task of its frame done. Walks the tasks_queue index, so it reads only
 * the first open tasks of the job, however many it has.
 */
export const NEXT_TASK_OF_JOB = `SELECT t.* FROM tasks t
  WHERE t.job_id = ? AND t.state = 'queued' AND t.not_before <= ? AND ${READY} AND ${NOT_EXCLUDED} AND ${FITS_NODE}
  ORDER BY t.frame, t.kind, t.idx
  LIMIT 1`;

/** The JobStore over a synchronous SQLite connection; creates the schema if missing. */

export function readScene(db: SqlDriver, sceneId: string): SceneRecord | null {
  const row = db.all<Row>(`SELECT * FROM scenes WHERE scene_id = ?`, [sceneId])[0];
  return row ? rowToScene(row) : null;
}

export function readJob(db: SqlDriver, jobId: string): JobRecord | null {
  const row = db.all<Row>(`SELECT * FROM jobs WHERE job_id = ?`, [jobId])[0];
  return row ? rowToJob(row) : null;
}

export function readTask(db: SqlDriver, taskId: string): TaskRecord | null {
  const row = db.all<Row>(`SELECT * FROM tasks WHERE task_id = ?`, [taskId])[0];
  return row ? rowToTask(row) : null;
}

export function saveTask(db: SqlDriver, t: TaskRecord): void {
  db.run(UPDATE_TASK, [...stateColumns(t), isFrameDone(t) ? 1 : 0, t.taskId]);
}

export function saveJob(db: SqlDriver, j: JobRecord): void {
  db.run(UPDATE_JOB, [j.state, j.updatedAt, j.startedAt, j.finishedAt, j.error, j.jobId]);
  // Every way a job ends passes here: its storage clean-up is scheduled in the same transaction (prune-schedule.ts).
  if (isJobFinished(j.state)) markPruneDue(db, j.jobId, j.finishedAt ?? j.updatedAt);
}
