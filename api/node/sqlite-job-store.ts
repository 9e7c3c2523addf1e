/**
 * The Node job store: the shared SQL job store on better-sqlite3, in WAL mode under the data dir, so
 * readers do not block the writer and a restarted API finds every job, task and node where it was.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { TesseraError } from '../protocol/errors.ts';
import type { JobStore } from '../core/job-store.ts';
import type { SqlDriver, SqlValue } from '../core/sql-driver.ts';
import { SqlJobStore, type SqlJobStoreOptions } from '../core/sql-job-store.ts';

/** The database file inside a data dir. */
export const JOB_DB_FILE = 'tessera.sqlite';

/** A SqlDriver on a better-sqlite3 database file (created if missing), statements prepared once. */
export function openSqliteDriver(file: string): SqlDriver {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // With WAL, NORMAL loses at most the last transactions on power loss, never consistency.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let stmt = statements.get(sql);
    if (!stmt) statements.set(sql, (stmt = db.prepare(sql)));
    return stmt;
  };
  return {
    exec: (sql) => busy(() => void db.exec(sql)),
    all: <T>(sql: string, params: SqlValue[] = []) => busy(() => prepare(sql).all(...params) as T[]),
    run: (sql, params = []) => busy(() => prepare(sql).run(...params).changes),
    transaction: (fn) => busy(() => db.transaction(fn)()),
    close: () => db.close(),
  };
}

/** A database locked past busy_timeout (another process writing) is a retryable 503, not a 500. */
function busy<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      throw new TesseraError('UNAVAILABLE', 'The job database is busy; retry shortly.', { cause: err });
    }
    throw err;
  }
}

/** The job store kept in `<dataDir>/tessera.sqlite`. */
export function createSqliteJobStore(dataDir: string, options: SqlJobStoreOptions = {}): JobStore {
  mkdirSync(dataDir, { recursive: true });
  return new SqlJobStore(openSqliteDriver(path.join(dataDir, JOB_DB_FILE)), options);
}
