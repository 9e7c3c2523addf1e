/** The SessionStore contract against the Node store (better-sqlite3, the job database's file). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSqliteJobStore } from '../../api/node/sqlite-job-store.ts';
import { createSqliteSessionStore } from '../../api/node/sqlite-session-store.ts';
import { describeSessionStoreContract } from './session-store-contract.ts';

describeSessionStoreContract('SQLite (better-sqlite3)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-session-store-'));
  const jobs = createSqliteJobStore(dir);
  const sessions = createSqliteSessionStore(dir);
  return {
    sessions,
    jobs,
    async cleanup() {
      sessions.close();
      await jobs.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
