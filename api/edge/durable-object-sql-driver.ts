/**
 * A SqlDriver on a Durable Object's SQLite storage (`ctx.storage.sql`), so the Node store's SqlJobStore
 * and JOB_STORE_SCHEMA run unchanged inside the object. Durable Objects refuse explicit BEGIN/COMMIT;
 * `transactionSync` gives the same all-or-nothing. `run` reports changed rows with SQLite's changes(),
 * as better-sqlite3's `.changes` does (the cursor's rowsWritten also counts index writes).
 */
import type { SqlDriver, SqlValue } from '../core/sql-driver.ts';

/** The two storage calls the driver needs, as `DurableObjectState['storage']` has them. */
export interface DurableSqlStorage {
  sql: { exec(query: string, ...bindings: unknown[]): { toArray(): unknown[] } };
  transactionSync<T>(fn: () => T): T;
}

/** A SqlDriver over `storage` (a Durable Object's `ctx.storage`). */
export function createDurableObjectSqlDriver(storage: DurableSqlStorage): SqlDriver {
  const { sql } = storage;
  return {
    exec: (script) => void sql.exec(script).toArray(),
    all: <T>(query: string, params: SqlValue[] = []) => sql.exec(query, ...params).toArray() as T[],
    run: (query, params = []) => {
      sql.exec(query, ...params).toArray();
      return Number((sql.exec('SELECT changes() AS n').toArray()[0] as { n: number }).n);
    },
    transaction: (fn) => storage.transactionSync(fn),
    // The storage lives as long as the object; there is nothing to release.
    close: () => {},
  };
}
