/**
 * A synchronous SQLite connection, the shape both better-sqlite3 and a Durable Object's `ctx.storage.sql`
 * can take, so one job store (`sql-job-store.ts`) serves both. Parameters are positional (`?`); values
 * are numbers, strings or null (booleans are stored as 0/1 by the caller).
 */
export type SqlValue = number | string | null;

export interface SqlDriver {
  /** Run a script of one or more statements without parameters (the schema). */
  exec(sql: string): void;
  /** Rows of a query, as objects keyed by column name. */
  all<T = Record<string, SqlValue>>(sql: string, params?: SqlValue[]): T[];
  /** Run one statement; returns how many rows it changed. */
  run(sql: string, params?: SqlValue[]): number;
  /** Run `fn` in one transaction: all of its writes happen, or none. */
  transaction<T>(fn: () => T): T;
  /** Release the connection. */
  close(): void;
}
