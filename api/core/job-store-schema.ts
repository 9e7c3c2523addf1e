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
