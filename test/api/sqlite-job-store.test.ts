/** The JobStore contract against the Node store: better-sqlite3 in WAL mode in a temp data dir. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteJobStore, JOB_DB_FILE } from '../../api/node/sqlite-job-store.ts';
import { describeJobStoreContract } from './job-store-contract.ts';

describeJobStoreContract('SQLite (better-sqlite3)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-store-test-'));
  let store = createSqliteJobStore(dir);
  return {
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = createSqliteJobStore(dir);
      return store;
    },
    async cleanup() {
      await store.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite job store files', () => {
  it('creates its data dir and uses WAL journaling', async () => {
    const dir = path.join(await mkdtemp(path.join(tmpdir(), 'tessera-store-test-')), 'nested', 'data');
    const store = createSqliteJobStore(dir);
    await store.close();
    expect(existsSync(path.join(dir, JOB_DB_FILE))).toBe(true);
    const db = new Database(path.join(dir, JOB_DB_FILE), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    await rm(path.dirname(path.dirname(dir)), { recursive: true, force: true });
  });
});
