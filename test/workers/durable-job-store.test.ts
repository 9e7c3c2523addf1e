/**
 * The JobStore contract inside workerd against the Workers store: every operation is an RPC from this
 * Worker to a coordinator Durable Object that runs the shared SqlJobStore on its SQLite storage. Each test
 * gets a coordinator of its own (a fresh name); a restart drops the object's store and opens it again on
 * the same storage, migrations and all.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createDurableJobStore } from '../../api/edge/durable-job-store.ts';
import type { JobCoordinator } from '../../api/edge/job-coordinator.ts';
import { describeJobStoreContract } from '../api/job-store-contract.ts';

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
});
