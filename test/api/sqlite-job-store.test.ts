/** The JobStore contract against the Node store: better-sqlite3 in WAL mode in a temp data dir. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteJobStore, JOB_DB_FILE } from '../../api/node/sqlite-job-store.ts';
import { describeJobStoreContract } from './job-store-contract.ts';
import { compileJob } from '../../api/core/job-compiler.ts';
import { FINISHED_FRAMES_START, type TaskRecord } from '../../api/core/job-store.ts';
import { TASK_POLICY_DEFAULTS } from '../../api/core/task-policy.ts';
import { EncodeSpec, ViewSpec } from '../../api/protocol/render-spec.ts';

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

  it('gives frames finished before finished_seq existed a sequence in frame order, below those finished after the upgrade', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-store-test-'));
    try {
      let store = createSqliteJobStore(dir);
      const T0 = 1_700_000_000_000;
      const { job, tasks } = compileJob(
        { jobId: 'job_old', sceneId: 's'.repeat(64), priority: 50, view: ViewSpec.parse({ width: 16, height: 16 }), encode: EncodeSpec.parse({}), frames: [0, 1, 2, 3], tile: null },
        T0,
      );
      await store.createJob(job, tasks);
      const held: TaskRecord[] = [];
      for (let i = 0; i < 4; i++) held.push((await store.leaseNext({ nodeId: 'n', leaseId: `l${i}`, now: T0, policy: TASK_POLICY_DEFAULTS }))!.task);
      const complete = (frame: number) => store.completeTask({ taskId: held[frame].taskId, nodeId: 'n', leaseId: held[frame].leaseId!, result: { bytes: 1, checksum: 'c'.repeat(64) }, now: T0 + 1 });
      await complete(2);
      await complete(0);
      await store.close();
      // The database as an earlier version left it: no finished_seq column, no index on it.
      const db = new Database(path.join(dir, JOB_DB_FILE));
      db.exec(`DROP INDEX tasks_finished_seq; ALTER TABLE tasks DROP COLUMN finished_seq;`);
      db.close();
      store = createSqliteJobStore(dir);
      const upgraded = await store.listFinishedFramesSince('job_old', FINISHED_FRAMES_START, 10);
      expect(upgraded.tasks.map((t) => t.frame)).toEqual([0, 2]);
      await complete(1);
      const next = await store.listFinishedFramesSince('job_old', upgraded.cursor, 10);
      expect(next.tasks.map((t) => t.frame)).toEqual([1]);
      await store.close();
      // Idempotent: a further start assigns nothing anew.
      store = createSqliteJobStore(dir);
      expect((await store.listFinishedFramesSince('job_old', FINISHED_FRAMES_START, 10)).tasks.map((t) => t.frame)).toEqual([0, 2, 1]);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
