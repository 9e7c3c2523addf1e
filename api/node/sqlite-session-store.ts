/** The Node session store: the shared SQL session store on its own connection to the job database file. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { SqlSessionStore } from '../core/sql-session-store.ts';
import type { SessionStore } from '../core/session-store.ts';
import { JOB_DB_FILE, openSqliteDriver } from './sqlite-job-store.ts';

/** The session store kept in `<dataDir>/tessera.sqlite` (beside the jobs); `close` releases its connection. */
export function createSqliteSessionStore(dataDir: string): SessionStore & { close(): void } {
  mkdirSync(dataDir, { recursive: true });
  const driver = openSqliteDriver(path.join(dataDir, JOB_DB_FILE));
  const store = new SqlSessionStore(driver) as SqlSessionStore & { close(): void };
  store.close = () => driver.close();
  return store;
}
