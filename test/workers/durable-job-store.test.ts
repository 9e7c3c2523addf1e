/**
 * The JobStore contract inside workerd against the Workers store: every operation is an RPC from this
 * Worker to a coordinator Durable Object that runs the shared SqlJobStore on its SQLite storage. Each test
 * gets a coordinator of its own (a fresh name); a restart drops the object's store and opens it again on
 * the same storage, migrations and all.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createDurableJobStore } from '../../api/edge/durable-job-store.ts';
import { createEdgeBlobStore } from '../../api/edge/edge-blob-store.ts';
import { jobPrefix } from '../../api/core/object-keys.ts';
import type { JobCoordinator } from '../../api/edge/job-coordinator.ts';
import { describeJobStoreContract } from '../api/job-store-contract.ts';
import { TASK_POLICY_DEFAULTS } from '../../api/core/task-policy.ts';
import { compileJob } from '../../api/core/job-compiler.ts';
import { PRUNE_DELAY_DEFAULT_MS } from '../../api/core/prune-schedule.ts';
import { EncodeSpec, ViewSpec } from '../../api/protocol/render-spec.ts';

const namespace = env.COORDINATOR as DurableObjectNamespace<JobCoordinator>;
let count = 0;
const freshCoordinator = () => namespace.get(namespace.idFromName(`contract-${Date.now()}-${++count}`));

describeJobStoreContract('Durable Object (workerd SQLite storage)', async () => {
  const stub = freshCoordinator();
  let store = createDurableJobStore(stub);
  return {
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      await stub.reopen();
      store = createDurableJobStore(stub);
      return store;
    },
    async cleanup() {
      await store.close();
    },
  };
});

describe('Durable Object job store', () => {
  it('keeps its records in the object\'s SQLite storage with the shared schema', async () => {
    const stub = freshCoordinator();
    const store = createDurableJobStore(stub);
    await store.setMeta('probe', 'kept');
    const tables = await runInDurableObject(stub, (_o, state) =>
      state.storage.sql
        .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name`)
        .toArray()
        .map((r) => r.name),
    );
    expect(tables).toEqual(expect.arrayContaining(['jobs', 'meta', 'nodes', 'scenes', 'task_failures', 'tasks']));
    const value = await runInDurableObject(stub, (_o, state) => state.storage.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'probe'`).one().value);
    expect(value).toBe('kept');
  });

  it('wakes a wait on a topic when another caller notifies it', async () => {
    const stub = freshCoordinator();
    const started = Date.now();
    const waiting = stub.wait('tasks', 10_000);
    await new Promise((r) => setTimeout(r, 50));
    await stub.notify(['tasks']);
    expect(await waiting).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await stub.wait('tasks', 20)).toBe(false);
  });

  it('holds an idle lease call in the object until a wake-up, as one request, and wakes waiters for the changes it makes', async () => {
    const stub = freshCoordinator();
    const store = createDurableJobStore(stub);
    const card = { name: 'n', region: 'eu', version: '1', cpu: { model: 'c', cores: 4 }, ramBytes: 1, gl: { renderer: 'r', vendor: 'v', version: '1', maxTextureSize: 1, maxViewport: [1, 1] as [number, number] }, tilesPerSecond: 2, concurrency: 1 };
    await store.registerNode({ nodeId: 'idle', tokenHash: 'i'.repeat(64), card, registeredAt: 1, lastSeenAt: 1, load: 0 });
    const policy = { ...TASK_POLICY_DEFAULTS, leaseMs: 10_000 };
    const before = await stub.requestCount();
    const started = Date.now();
    const polling = store.authenticateAndLease({ credentials: { nodeId: 'idle', tokenHash: 'i'.repeat(64) }, max: 1, leaseIds: ['l1'], now: Date.now(), policy, expire: true, waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    // The long-poll is one request however long it waits; a wake-up (a job submitted elsewhere) ends it.
    expect((await stub.requestCount()) - before).toBe(1);
    await stub.notify(['tasks']);
    const woken = await polling;
    expect(woken).toMatchObject({ runnableJobs: false, lease: { leased: [] }, waited: { woken: true } });
    expect(Date.now() - started).toBeLessThan(5000);
    // Nothing wakes it: it answers at waitMs.
    const quiet = await store.authenticateAndLease({ credentials: { nodeId: 'idle', tokenHash: 'i'.repeat(64) }, max: 1, leaseIds: ['l2'], now: Date.now(), policy, expire: true, waitMs: 50 });
    expect(quiet.waited).toEqual({ woken: false });
    // A newer waiting poll of the same node beyond its slots (1) ends the oldest at once, whichever Worker holds it.
    const older = store.authenticateAndLease({ credentials: { nodeId: 'idle', tokenHash: 'i'.repeat(64) }, max: 1, leaseIds: ['l3'], now: Date.now(), policy, expire: true, waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    const newer = store.authenticateAndLease({ credentials: { nodeId: 'idle', tokenHash: 'i'.repeat(64) }, max: 1, leaseIds: ['l4'], now: Date.now(), policy, expire: true, waitMs: 200 });
    const displacedAt = Date.now();
    expect((await older).waited).toEqual({ woken: true, displaced: true });
    expect(Date.now() - displacedAt).toBeLessThan(5000);
    expect((await newer).waited).toEqual({ woken: false });
    // The object wakes its own waiters for the changes an operation makes (here a cancellation): no notify request.
    const { job, tasks } = compileJob({ jobId: 'job_wake', sceneId: 's'.repeat(64), priority: 50, view: ViewSpec.parse({ width: 8, height: 8 }), encode: EncodeSpec.parse({}), frames: [0], tile: null }, 1);
    await store.createJob(job, tasks);
    const watching = stub.wait('job:job_wake', 10_000);
    await new Promise((r) => setTimeout(r, 50));
    await store.cancelJob('job_wake', 2);
    expect(await watching).toBe(true);
  });

  it('sets its alarm for the earliest storage clean-up due as jobs end; the alarm sweeps what is due and sets the next', async () => {
    const stub = freshCoordinator();
    const store = createDurableJobStore(stub);
    const alarm = () => runInDurableObject(stub, (_o, state) => state.storage.getAlarm());
    const makeJob = (jobId: string) => compileJob({ jobId, sceneId: 's'.repeat(64), priority: 50, view: ViewSpec.parse({ width: 8, height: 8 }), encode: EncodeSpec.parse({}), frames: [0], tile: null }, 1);
    expect(await alarm()).toBeNull();
    const now = Date.now();
    const recent = makeJob('job_recent');
    await store.createJob(recent.job, recent.tasks);
    await store.cancelJob('job_recent', now);
    // Ending the job (one call) set the alarm for its clean-up: when every upload URL it handed out has expired.
    expect(await alarm()).toBe(now + PRUNE_DELAY_DEFAULT_MS);

    // A job whose clean-up is due already brings the alarm forward; the alarm (run here if it has not fired on its
    // own) sweeps it against the suite's storage (s3rver, vitest.workers.config.ts): the attempt object left under
    // the job's prefix (no task accepted it) is deleted and the job's mark cleared. Never lost, nor stuck.
    const old = makeJob('job_old');
    await store.createJob(old.job, old.tasks);
    const blobs = createEdgeBlobStore(env);
    const stray = `${jobPrefix('job_old')}frames/0/attempt-${'a'.repeat(64)}.png`;
    await blobs.put(stray, new Uint8Array([1, 2, 3]));
    expect(await blobs.list(jobPrefix('job_old'))).toEqual([stray]);
    await store.cancelJob('job_old', now - PRUNE_DELAY_DEFAULT_MS - 1000);
    const deadline = Date.now() + 30_000;
    while ((await store.listDuePrunes({ now, limit: 10 })).length > 0 && Date.now() < deadline) {
      await runDurableObjectAlarm(stub);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await store.listDuePrunes({ now, limit: 10 })).toEqual([]);
    const pending = await store.listDuePrunes({ now: Number.MAX_SAFE_INTEGER, limit: 10 });
    expect(pending.map((p) => p.jobId)).toContain('job_recent');
    expect(pending.find((p) => p.jobId === 'job_recent')!.dueAt).toBe(now + PRUNE_DELAY_DEFAULT_MS);
    expect(pending.map((p) => p.jobId)).not.toContain('job_old');
    expect(await blobs.list(jobPrefix('job_old'))).toEqual([]);
    // The alarm is set for what is due next.
    expect(await alarm()).toBe(await store.nextPruneDueAt());
  });
});
