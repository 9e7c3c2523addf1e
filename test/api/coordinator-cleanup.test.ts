/**
 * The Workers storage clean-up, run here on Node with the same parts: the coordinator's logic (CoordinatorCore) on
 * the shared SqlJobStore, its alarm as the Durable Object keeps it (one time, replaced when set), and the Workers blob
 * store (fetch + aws4fetch) against s3rver. The call that ends a job sets the alarm for its clean-up; the alarm,
 * after a restart of the object, deletes a late upload and keeps the accepted output. (workerd runs the real alarm
 * in test/workers/durable-job-store.test.ts, without storage to clean.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJob } from '../../api/core/job-compiler.ts';
import type { TaskOutcome } from '../../api/core/job-store.ts';
import { silentLogger } from '../../api/core/logger.ts';
import { SqlJobStore } from '../../api/core/sql-job-store.ts';
import { SqlSessionStore } from '../../api/core/sql-session-store.ts';
import { TASK_POLICY_DEFAULTS } from '../../api/core/task-policy.ts';
import { CoordinatorCore, type CoordinatorAlarm } from '../../api/edge/coordinator-core.ts';
import { FetchS3BlobStore } from '../../api/edge/fetch-s3-blob-store.ts';
import { startLocalS3, type LocalS3 } from '../../api/node/local-s3.ts';
import { openSqliteDriver } from '../../api/node/sqlite-job-store.ts';
import { EncodeSpec, ViewSpec } from '../../api/protocol/render-spec.ts';

const T = 1_800_000_000_000;
const DELAY = 60_000;

let dir: string;
let s3: LocalS3;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-coordinator-cleanup-'));
  s3 = await startLocalS3({ dir: path.join(dir, 's3') });
});
afterAll(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The object's alarm: one time or none; the runtime clears it as it fires. */
function objectAlarm(): CoordinatorAlarm & { at: number | null } {
  const alarm = {
    at: null as number | null,
    async get() {
      return alarm.at;
    },
    async set(at: number) {
      alarm.at = at;
    },
  };
  return alarm;
}

describe("the coordinator's storage clean-up alarm", () => {
  it('is set by the call that ends a job; after a restart of the object it deletes a late upload and keeps the accepted output', async () => {
    const blobs = new FetchS3BlobStore(s3);
    const alarm = objectAlarm();
    // Each (re)open on the same database file, as the object reopens its storage.
    let driver = openSqliteDriver(path.join(dir, 'coordinator.sqlite'));
    const open = () => {
      driver = openSqliteDriver(path.join(dir, 'coordinator.sqlite'));
      return { jobs: new SqlJobStore(driver, { pruneDelayMs: DELAY }), sessions: new SqlSessionStore(driver) };
    };
    driver.close();
    const core = new CoordinatorCore(open, { alarm, blobs: () => blobs, logger: silentLogger });
    const call = async <R>(method: Parameters<CoordinatorCore['call']>[0], ...args: unknown[]): Promise<R> => {
      const r = await core.call(method, args);
      if (!r.ok) throw new Error(`${method}: ${r.error.message}`);
      return r.value as R;
    };

    const { job, tasks } = compileJob({ jobId: 'job_cleanup', sceneId: 's'.repeat(64), priority: 50, view: ViewSpec.parse({ width: 8, height: 8 }), encode: EncodeSpec.parse({}), frames: [0], tile: null }, T);
    await call('createJob', job, tasks);
    const leased = (await call<TaskOutcome>('leaseNext', { nodeId: 'n1', leaseId: 'lease_1', now: T, policy: TASK_POLICY_DEFAULTS }))!.task;
    // The accepted output, and an attempt's object that lands after the job has ended (a lease taken back, a URL still valid).
    await blobs.put(leased.outputKey, new Uint8Array([1, 2, 3]), { contentType: 'image/png' });
    const done = await call<TaskOutcome>('completeTask', { taskId: leased.taskId, nodeId: 'n1', leaseId: 'lease_1', result: { bytes: 3, checksum: 'c'.repeat(64) }, now: T + 100 });
    expect(done.job.state).toBe('done');
    expect(alarm.at).toBe(T + 100 + DELAY);
    const late = `jobs/${job.jobId}/frames/late-attempt.a9.${'0'.repeat(64)}.png`;
    await blobs.put(late, new Uint8Array([9, 9]), { contentType: 'image/png' });

    // Early: nothing due, the alarm stays where it was.
    alarm.at = null;
    expect(await core.sweepCleanups(T + 100 + DELAY - 1)).toMatchObject({ pruned: [], retried: [] });
    expect(alarm.at).toBe(T + 100 + DELAY);
    expect((await blobs.list(`jobs/${job.jobId}/`)).sort()).toEqual([leased.outputKey, late].sort());

    // The object restarts (its memory gone, its storage and alarm kept); then the alarm fires.
    await core.reopen();
    alarm.at = null;
    expect(await core.sweepCleanups(T + 100 + DELAY)).toMatchObject({ pruned: [job.jobId], retried: [], deleted: 1, more: false });
    expect(await blobs.list(`jobs/${job.jobId}/`)).toEqual([leased.outputKey]);
    expect(await blobs.get(leased.outputKey)).toEqual(new Uint8Array([1, 2, 3]));
    // Nothing left to clean: no alarm, and a second sweep does nothing.
    expect(alarm.at).toBeNull();
    expect(await core.sweepCleanups(T + 10 * DELAY)).toMatchObject({ pruned: [], deleted: 0 });
    await core.reopen();
    driver.close();
  });
});
