/**
 * The job store's SQLite schema, shared by the Node store (better-sqlite3) and, later, the Durable Object
 * store (its SQLite storage), so both keep the same records. Idempotent: safe to run on every start.
 * JSON columns hold protocol shapes (ViewSpec, EncodeSpec, TileRect, NodeCard, SceneInfo) as they are.
 */
export const JOB_STORE_SCHEMA = `
CREATE TABLE IF NOT EXISTS scenes (
  scene_id    TEXT PRIMARY KEY,
  bytes       INTEGER NOT NULL,
  stats       TEXT NOT NULL,
  info        TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS jobs (
  seq         INTEGER PRIMARY KEY,
  job_id      TEXT NOT NULL UNIQUE,
  scene_id    TEXT NOT NULL,
  state       TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  view        TEXT NOT NULL,
  encode      TEXT NOT NULL,
  frames      TEXT NOT NULL,
  tile        INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  started_at  INTEGER,
  finished_at INTEGER,
  error       TEXT
);
CREATE INDEX IF NOT EXISTS jobs_runnable ON jobs (state, priority DESC, created_at, seq);

CREATE TABLE IF NOT EXISTS tasks (
  task_id          TEXT PRIMARY KEY,
  job_id           TEXT NOT NULL,
  kind             TEXT NOT NULL,
  frame            INTEGER NOT NULL,
  idx              INTEGER NOT NULL,
  tile             TEXT,
  final            INTEGER NOT NULL,
  output_key       TEXT NOT NULL,
  state            TEXT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  node_id          TEXT,
  lease_id         TEXT,
  lease_expires_at INTEGER,
  not_before       INTEGER NOT NULL DEFAULT 0,
  error            TEXT,
  result_bytes     INTEGER,
  result_checksum  TEXT,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_job ON tasks (job_id, frame, kind, idx);
-- The queue: a job's open tasks in lease order, so picking the next one reads a handful of rows.
CREATE INDEX IF NOT EXISTS tasks_queue ON tasks (job_id, state, frame, kind, idx);
CREATE INDEX IF NOT EXISTS tasks_by_lease ON tasks (state, lease_expires_at);
CREATE INDEX IF NOT EXISTS tasks_by_node ON tasks (node_id, state);

-- One row per failed or expired attempt: counts the distinct nodes a task failed on.
CREATE TABLE IF NOT EXISTS task_failures (
  task_id     TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  node_id     TEXT NOT NULL,
  reason      TEXT NOT NULL,
  scene_fault INTEGER NOT NULL,
  at          INTEGER NOT NULL,
  PRIMARY KEY (task_id, attempt)
);

CREATE TABLE IF NOT EXISTS nodes (
  node_id       TEXT PRIMARY KEY,
  token_hash    TEXT NOT NULL UNIQUE,
  card          TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  load          REAL NOT NULL DEFAULT 0
);
`;

/** A finished frame: a done stitch, or a done one-tile render, whose verification is not pending (columns of `tasks`, unqualified). */
export const FRAME_DONE = `(state = 'done' AND (verify_state IS NULL OR verify_state <> 'pending') AND (kind = 'stitch' OR (kind = 'render' AND final = 1)))`;

/** A column added after the first schema; `backfill` (SQL) runs in the same transaction as its ALTER TABLE, once. */
export interface AddedColumn {
  table: string;
  column: string;
  definition: string;
  backfill?: string;
}

/**
 * Columns added after the first schema, for latency routing. A database made by an earlier version gets
 * them on its next start (ALTER TABLE … ADD COLUMN only where missing), so old records stay and read as
 * "not routed": old tasks are open to any node (route_open_at 0), old jobs are first-come (routed 0).
 */
export const JOB_STORE_ADDED_COLUMNS: readonly AddedColumn[] = [
  { table: 'jobs', column: 'requirements', definition: 'TEXT' },
  { table: 'jobs', column: 'client', definition: 'TEXT' },
  { table: 'jobs', column: 'routed', definition: 'INTEGER NOT NULL DEFAULT 0' },
  // The routing decision: the chosen node, its fallback and when the fallback may take over, when any
  // capable node may, and the whole decision as JSON (predicted RTT, queue, render, score, reason).
  { table: 'tasks', column: 'route_node', definition: 'TEXT' },
  { table: 'tasks', column: 'route_fallback', definition: 'TEXT' },
  { table: 'tasks', column: 'route_fallback_at', definition: 'INTEGER' },
  { table: 'tasks', column: 'route_open_at', definition: 'INTEGER DEFAULT 0' },
  { table: 'tasks', column: 'route', definition: 'TEXT' },
  { table: 'nodes', column: 'coordinate', definition: 'TEXT' },
  { table: 'nodes', column: 'rtt_to_api_ms', definition: 'REAL' },
  // The node's PoP sighting and its measured peer RTTs (JSON), for latency routing.
  { table: 'nodes', column: 'edge', definition: 'TEXT' },
  { table: 'nodes', column: 'peer_rtts', definition: 'TEXT' },
  // Verification by re-issue. A verify task names the render task it verifies and its round; a render task
  // keeps its verification state, round, the nodes that agreed with and were outvoted on it, and the nodes
  // that may not lease it (as JSON arrays). leased_at bounds the render time a node may claim.
  { table: 'tasks', column: 'verifies', definition: 'TEXT' },
  { table: 'tasks', column: 'verify_round', definition: 'INTEGER NOT NULL DEFAULT 0' },
  { table: 'tasks', column: 'verify_state', definition: 'TEXT' },
  { table: 'tasks', column: 'verified_by', definition: 'TEXT' },
  { table: 'tasks', column: 'disproven', definition: 'TEXT' },
  { table: 'tasks', column: 'exclude_nodes', definition: 'TEXT' },
  { table: 'tasks', column: 'leased_at', definition: 'INTEGER' },
  // A node's reputation: verified and outvoted results, and the blocklist.
  { table: 'nodes', column: 'verified_count', definition: 'INTEGER NOT NULL DEFAULT 0' },
  { table: 'nodes', column: 'disproven_count', definition: 'INTEGER NOT NULL DEFAULT 0' },
  { table: 'nodes', column: 'blocklisted_at', definition: 'INTEGER' },
  { table: 'nodes', column: 'blocklist_reason', definition: 'TEXT' },
  // Who submitted the job: the API key's id (null for jobs from before keys; only admins see those).
  { table: 'jobs', column: 'owner', definition: 'TEXT' },
  // When an ended job's storage clean-up is due (prune-schedule.ts); null while it runs and once swept.
  { table: 'jobs', column: 'prune_due_at', definition: 'INTEGER' },
  // When a frame task last finished its frame, as a per-job sequence (1, 2, …: one more than the job's highest,
  // set by saveTask as the task enters FRAME_DONE; kept when it leaves, renewed when it enters again), so an event
  // stream reads only the frames finished since its cursor (listFinishedFramesSince). Frames finished before the
  // column existed get frame + 1: distinct within their job, in frame order, below anything assigned later.
  { table: 'tasks', column: 'finished_seq', definition: 'INTEGER', backfill: `UPDATE tasks SET finished_seq = frame + 1 WHERE ${FRAME_DONE}` },
];

/** Indexes and tables of latency routing, verification and metering; run after JOB_STORE_ADDED_COLUMNS exist. Idempotent. */
/**
 * The ledger table, one definition for every store that writes it (the job store, and the session store,
 * which also creates it so it can run on its own).
 */
export const LEDGER_TABLE = `
CREATE TABLE IF NOT EXISTS ledger (
  seq        INTEGER PRIMARY KEY,
  task_id    TEXT NOT NULL,
  job_id     TEXT NOT NULL,
  node_id    TEXT NOT NULL,
  kind       TEXT NOT NULL,
  attempt    INTEGER NOT NULL,
  render_ms  INTEGER NOT NULL,
  pixels     INTEGER NOT NULL,
  tiles      INTEGER NOT NULL,
  state      TEXT NOT NULL,
  at         INTEGER NOT NULL
);
`;

export const JOB_STORE_ROUTING_SCHEMA = `
-- Jobs by scene: which nodes were handed a scene (checks their scene-cache claims).
CREATE INDEX IF NOT EXISTS jobs_by_scene ON jobs (scene_id);
-- A node's routed queue (lease phase 1), per-node load counts and routes to re-route: a few rows each.
CREATE INDEX IF NOT EXISTS tasks_routed ON tasks (state, route_node);
-- Tasks a node may take as the fallback once the chosen node's grace period has passed (lease phase 2).
CREATE INDEX IF NOT EXISTS tasks_fallback ON tasks (state, route_fallback, route_fallback_at);
-- A routed job's tasks open to any capable node (lease phase 3).
CREATE INDEX IF NOT EXISTS tasks_open ON tasks (job_id, state, route_open_at);
-- Ended jobs whose storage clean-up is pending, by due time (the sweep reads a few rows).
CREATE INDEX IF NOT EXISTS jobs_prune_due ON jobs (prune_due_at) WHERE prune_due_at IS NOT NULL;
-- Healthy nodes: those seen recently.
CREATE INDEX IF NOT EXISTS nodes_by_seen ON nodes (last_seen_at);

-- A render task's verify tasks, by round.
CREATE INDEX IF NOT EXISTS tasks_verifies ON tasks (verifies, verify_round);
-- Verifications waiting for a node (lease phase 0): a handful of rows, whatever the size of the jobs.
CREATE INDEX IF NOT EXISTS tasks_verify_queue ON tasks (state, not_before) WHERE kind = 'verify';
-- Finished frames by finish sequence: an event stream's cursor, and the job's highest sequence for the next one, read
-- from a few index rows whatever the size of the job. (By frame number, GET /v1/jobs/:id/frames?after= walks
-- tasks_queue: the job's done tasks in frame order.)
CREATE INDEX IF NOT EXISTS tasks_finished_seq ON tasks (job_id, finished_seq) WHERE finished_seq IS NOT NULL;
-- Covers countTasks (job progress, GET /v1/jobs/:id/summary): counted from the index, never the wide task rows.
CREATE INDEX IF NOT EXISTS tasks_counts ON tasks (job_id, kind, state, final, verify_state);

-- The ledger: one row per result a node delivered, pending until verified, credited, or voided when the
-- result was discarded (outvoted, or its node blocklisted while the job ran).
${LEDGER_TABLE}
CREATE INDEX IF NOT EXISTS ledger_by_job ON ledger (job_id, seq);
CREATE INDEX IF NOT EXISTS ledger_by_node ON ledger (node_id, state);
CREATE INDEX IF NOT EXISTS ledger_by_task ON ledger (task_id, state);

-- Small values the API keeps across restarts (its own network coordinate).
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/**
 * Columns of node trust, added after the routing schema (the ledger exists by then): the node's probe key
 * (the API checks ping answers with it), when it last asked for work, the throughput measured from its
 * accepted results (pixels and the wall time the API saw between lease and completion), and why its
 * claimed location was refuted. Idempotent like JOB_STORE_ADDED_COLUMNS.
 */
export const JOB_STORE_TRUST_COLUMNS: { table: string; column: string; definition: string }[] = [
  { table: 'nodes', column: 'probe_key', definition: 'TEXT' },
  { table: 'nodes', column: 'last_lease_at', definition: 'INTEGER' },
  { table: 'nodes', column: 'measured_pixels', definition: 'REAL NOT NULL DEFAULT 0' },
  { table: 'nodes', column: 'measured_ms', definition: 'REAL NOT NULL DEFAULT 0' },
  { table: 'nodes', column: 'measured_results', definition: 'INTEGER NOT NULL DEFAULT 0' },
  { table: 'nodes', column: 'measured_best', definition: 'REAL NOT NULL DEFAULT 0' },
  { table: 'nodes', column: 'location_refuted', definition: 'TEXT' },
  // The scene ids the node last reported in its cache (JSON array, bounded): a routing hint.
  { table: 'nodes', column: 'cached_scenes', definition: 'TEXT' },
  // Where it registered from (JSON NodeOrigin: its address's network and its join token's id): session votes.
  { table: 'nodes', column: 'origin', definition: 'TEXT' },
  { table: 'ledger', column: 'wall_ms', definition: 'INTEGER NOT NULL DEFAULT 0' },
];

/** Client API keys and who may use which scene; run after JOB_STORE_ADDED_COLUMNS exist. Idempotent. */
export const JOB_STORE_AUTH_SCHEMA = `
-- Only each key's sha256 is stored; the key itself is shown once, when it is created.
CREATE TABLE IF NOT EXISTS api_keys (
  key_id      TEXT PRIMARY KEY,
  key_hash    TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  role        TEXT NOT NULL,
  limits      TEXT,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);

-- Scenes are stored once by content; each key that uploaded one may use it.
CREATE TABLE IF NOT EXISTS scene_grants (
  scene_id    TEXT NOT NULL,
  owner       TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (scene_id, owner)
);

-- A key's active jobs (quota checks).
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, state);
`;
