/**
 * The SessionStore on any synchronous SQLite (`SqlDriver`): better-sqlite3 on Node (the job database's file),
 * the coordinator Durable Object's SQL storage on Workers. Each operation is one transaction; status changes
 * go through the session state machine. A closed session's render time is written to the same ledger table
 * the job store keeps (kind `session`), so metering sees it.
 */
import { EMPTY_SESSION_STATS, type SessionRender, type SessionRoute, type SessionState, type SessionStats } from '../protocol/session.ts';
import { LEDGER_TABLE } from './job-store-schema.ts';
import type { SessionRecord, SessionReportInput, SessionSampleRecord, SessionStore } from './session-store.ts';
import { sampleSettled } from '../protocol/session-sample.ts';
import { sessionEventApplies, stepSession, type SessionChange, type SessionEvent } from './session-state.ts';
import type { SqlDriver, SqlValue } from './sql-driver.ts';

type Row = Record<string, SqlValue>;

/** The sessions table (and the ledger table it writes to, if the job store has not made it yet). Idempotent. */
export const SESSION_STORE_SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  session_id   TEXT PRIMARY KEY,
  scene_id     TEXT NOT NULL,
  owner        TEXT NOT NULL,
  node_id      TEXT NOT NULL,
  state        TEXT NOT NULL,
  render       TEXT NOT NULL,
  route        TEXT NOT NULL,
  url          TEXT NOT NULL,
  lease_id     TEXT,
  connect_by   INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  closed_at    INTEGER,
  close_reason TEXT,
  stats        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_owner ON sessions (owner, state);
CREATE INDEX IF NOT EXISTS sessions_by_node ON sessions (node_id, state, created_at);
CREATE INDEX IF NOT EXISTS sessions_by_scene ON sessions (scene_id, node_id);
CREATE TABLE IF NOT EXISTS session_samples (
  sample_id  TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  settled    INTEGER NOT NULL,
  record     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS session_samples_by_session ON session_samples (session_id);
CREATE INDEX IF NOT EXISTS session_samples_open ON session_samples (settled);

${LEDGER_TABLE}
`;

function rowToSession(r: Row): SessionRecord {
  return {
    sessionId: String(r.session_id),
    sceneId: String(r.scene_id),
    owner: String(r.owner),
    nodeId: String(r.node_id),
    state: String(r.state) as SessionState,
    render: JSON.parse(String(r.render)) as SessionRender,
    route: JSON.parse(String(r.route)) as SessionRoute,
    url: String(r.url),
    leaseId: r.lease_id === null ? null : String(r.lease_id),
    connectBy: Number(r.connect_by),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    closedAt: r.closed_at === null ? null : Number(r.closed_at),
    closeReason: r.close_reason === null ? null : String(r.close_reason),
    stats: JSON.parse(String(r.stats)) as SessionStats,
    ...(Number(r.disproven ?? 0) ? { disproven: true } : {}),
  };
}

export class SqlSessionStore implements SessionStore {
  readonly #db: SqlDriver;

  constructor(db: SqlDriver) {
    this.#db = db;
    db.exec(SESSION_STORE_SCHEMA);
    // Added with session verification: databases made before it lack the column.
    if (!db.all<{ name: string }>(`PRAGMA table_info(sessions)`).some((c) => c.name === 'disproven')) db.run(`ALTER TABLE sessions ADD COLUMN disproven INTEGER NOT NULL DEFAULT 0`);
  }

  async createSession(s: SessionRecord): Promise<void> {
    this.#db.run(
      `INSERT INTO sessions (session_id, scene_id, owner, node_id, state, render, route, url, lease_id, connect_by, created_at, updated_at, closed_at, close_reason, stats)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [s.sessionId, s.sceneId, s.owner, s.nodeId, s.state, JSON.stringify(s.render), JSON.stringify(s.route), s.url, s.leaseId, s.connectBy, s.createdAt, s.updatedAt, s.closedAt, s.closeReason, JSON.stringify(s.stats)],
    );
  }

  async getSession(sessionId: string): Promise<SessionRecord | null> {
    return this.#get(sessionId);
  }

  async countOpenSessions(owner: string): Promise<number> {
    return Number(this.#db.all<Row>(`SELECT COUNT(*) AS n FROM sessions WHERE owner = ? AND state != 'closed'`, [owner])[0].n);
  }

  async countNodeSessions(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of this.#db.all<Row>(`SELECT node_id, COUNT(*) AS n FROM sessions WHERE state != 'closed' GROUP BY node_id`)) out[String(r.node_id)] = Number(r.n);
    return out;
  }

  async nodesWithScene(sceneId: string): Promise<string[]> {
    return this.#db.all<Row>(`SELECT DISTINCT node_id FROM sessions WHERE scene_id = ? AND lease_id IS NOT NULL`, [sceneId]).map((r) => String(r.node_id));
  }

  async leaseSession(input: { nodeId: string; leaseId: string; now: number }): Promise<{ session: SessionRecord; changes: SessionChange[] } | null> {
    return this.#db.transaction(() => {
      const row = this.#db.all<Row>(`SELECT * FROM sessions WHERE node_id = ? AND state = 'placed' AND connect_by > ? ORDER BY created_at LIMIT 1`, [input.nodeId, input.now])[0];
      if (!row) return null;
      const session = rowToSession(row);
      const change = this.#apply(session, { type: 'lease', leaseId: input.leaseId, now: input.now });
      this.#db.run(`UPDATE sessions SET lease_id = ? WHERE session_id = ?`, [input.leaseId, session.sessionId]);
      return { session: { ...session, state: change.to, leaseId: input.leaseId, updatedAt: input.now }, changes: [change] };
    });
  }

  async reportSessions(input: SessionReportInput): Promise<{ revoked: string[]; changes: SessionChange[] }> {
    return this.#db.transaction(() => {
      const revoked: string[] = [];
      const changes: SessionChange[] = [];
      for (const report of input.reports) {
        const session = this.#get(report.sessionId);
        // Another node's session, or one this API never placed: the node must drop it.
        if (!session || session.nodeId !== input.nodeId) {
          revoked.push(report.sessionId);
          continue;
        }
        if (session.state === 'closed') {
          if (report.state === 'open') revoked.push(report.sessionId);
          continue;
        }
        // Stats only grow: a report cannot take back frames (or render time) it reported before.
        const stats: SessionStats = {
          frames: Math.max(session.stats.frames, report.stats.frames),
          dropped: Math.max(session.stats.dropped, report.stats.dropped),
          skipped: Math.max(session.stats.skipped, report.stats.skipped),
          p50Ms: report.stats.p50Ms,
          p95Ms: report.stats.p95Ms,
          renderMs: Math.max(session.stats.renderMs, report.stats.renderMs),
        };
        this.#db.run(`UPDATE sessions SET stats = ?, updated_at = ? WHERE session_id = ?`, [JSON.stringify(stats), input.now, session.sessionId]);
        const updated = { ...session, stats };
        if (report.state === 'closed') changes.push(this.#close(updated, `node: ${report.reason ?? 'session ended'}`, input.now));
        else if (session.state === 'starting' && stats.frames > 0) changes.push(this.#apply(updated, { type: 'live', now: input.now }));
      }
      return { revoked, changes };
    });
  }

  async closeSession(input: { sessionId: string; reason: string; now: number }): Promise<{ session: SessionRecord; changes: SessionChange[] } | null> {
    return this.#db.transaction(() => {
      const session = this.#get(input.sessionId);
      if (!session) return null;
      if (session.state === 'closed') return { session, changes: [] };
      const change = this.#close(session, input.reason, input.now);
      return { session: this.#get(input.sessionId)!, changes: [change] };
    });
  }

  async addSample(sample: SessionSampleRecord, maxPerSession: number): Promise<{ ok: true } | { ok: false; count: number }> {
    return this.#db.transaction(() => {
      const count = Number(this.#db.all<Row>(`SELECT COUNT(*) AS n FROM session_samples WHERE session_id = ?`, [sample.sessionId])[0].n);
      if (count >= maxPerSession) return { ok: false as const, count };
      this.#db.run(`INSERT INTO session_samples (sample_id, session_id, settled, record) VALUES (?, ?, ?, ?)`, [sample.sampleId, sample.sessionId, sampleSettled(sample.state) ? 1 : 0, JSON.stringify(sample)]);
      return { ok: true as const };
    });
  }

  async getSample(sampleId: string): Promise<SessionSampleRecord | null> {
    const row = this.#db.all<Row>(`SELECT record FROM session_samples WHERE sample_id = ?`, [sampleId])[0];
    return row ? (JSON.parse(String(row.record)) as SessionSampleRecord) : null;
  }

  async listUnsettledSamples(limit: number): Promise<SessionSampleRecord[]> {
    return this.#db.all<Row>(`SELECT record FROM session_samples WHERE settled = 0 ORDER BY sample_id LIMIT ?`, [limit]).map((r) => JSON.parse(String(r.record)) as SessionSampleRecord);
  }

  async updateSample(sample: SessionSampleRecord, expectedUpdatedAt: number): Promise<boolean> {
    return this.#db.transaction(() => {
      const row = this.#db.all<Row>(`SELECT record FROM session_samples WHERE sample_id = ?`, [sample.sampleId])[0];
      // Another API process advanced it meanwhile: its step stands.
      if (!row || (JSON.parse(String(row.record)) as SessionSampleRecord).updatedAt !== expectedUpdatedAt) return false;
      this.#db.run(`UPDATE session_samples SET settled = ?, record = ? WHERE sample_id = ?`, [sampleSettled(sample.state) ? 1 : 0, JSON.stringify(sample), sample.sampleId]);
      return true;
    });
  }

  async disproveSession(input: { sessionId: string; reason: string; now: number }): Promise<{ changes: SessionChange[] }> {
    return this.#db.transaction(() => {
      const session = this.#get(input.sessionId);
      if (!session) return { changes: [] };
      this.#db.run(`UPDATE sessions SET disproven = 1 WHERE session_id = ?`, [input.sessionId]);
      const changes = session.state === 'closed' ? [] : [this.#close({ ...session, disproven: true }, input.reason, input.now)];
      // A line written before (the session had closed): its credit goes.
      this.#db.run(`UPDATE ledger SET state = 'voided' WHERE task_id = ? AND kind = 'session'`, [input.sessionId]);
      return { changes };
    });
  }

  async expireSessions(input: { now: number; liveNodes: string[] }): Promise<SessionChange[]> {
    return this.#db.transaction(() => {
      const live = new Set(input.liveNodes);
      const changes: SessionChange[] = [];
      for (const row of this.#db.all<Row>(`SELECT * FROM sessions WHERE state != 'closed'`)) {
        const s = rowToSession(row);
        if (!live.has(s.nodeId)) changes.push(this.#close(s, 'its node went silent', input.now));
        else if (s.state !== 'open' && s.stats.frames === 0 && s.connectBy <= input.now) changes.push(this.#close(s, 'no client connected before the ticket expired', input.now));
      }
      return changes;
    });
  }

  #get(sessionId: string): SessionRecord | null {
    const row = this.#db.all<Row>(`SELECT * FROM sessions WHERE session_id = ?`, [sessionId])[0];
    return row ? rowToSession(row) : null;
  }

  /** Apply an event through the state machine and store the new state. */
  #apply(session: SessionRecord, event: SessionEvent): SessionChange {
    const change = stepSession(session.sessionId, session.state, event);
    this.#db.run(`UPDATE sessions SET state = ?, updated_at = ? WHERE session_id = ?`, [change.to, event.now, session.sessionId]);
    return change;
  }

  /** Close, and credit the node's render time to the ledger (the stats as last reported). */
  #close(session: SessionRecord, reason: string, now: number): SessionChange {
    if (!sessionEventApplies(session.state, 'close')) throw new Error(`session ${session.sessionId} is already closed`);
    const change = this.#apply(session, { type: 'close', reason, now });
    this.#db.run(`UPDATE sessions SET closed_at = ?, close_reason = ? WHERE session_id = ?`, [now, reason.slice(0, 500), session.sessionId]);
    const { stats, render } = session;
    if (stats.frames > 0 || stats.renderMs > 0) {
      const pixels = stats.frames * render.eye.width * render.eye.height * 2;
      // A session one of whose frames was disproven (session-verification.ts) earns nothing.
      this.#db.run(
        `INSERT INTO ledger (task_id, job_id, node_id, kind, attempt, render_ms, pixels, tiles, state, at) VALUES (?, ?, ?, 'session', 1, ?, ?, ?, ?, ?)`,
        [session.sessionId, session.sessionId, session.nodeId, Math.round(stats.renderMs), pixels, stats.frames, session.disproven ? 'voided' : 'credited', now],
      );
    }
    return change;
  }
}

export { EMPTY_SESSION_STATS };
