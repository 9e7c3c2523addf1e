/**
 * The JobStore port for Workers: each operation is one RPC to the farm's coordinator Durable Object
 * (job-coordinator.ts), which runs it on the shared SqlJobStore (see coordinator-rpc.ts for how failures travel).
 */
import type { JobStore } from '../core/job-store.ts';
import { coordinatorOperation, type CoordinatorStub } from './coordinator-rpc.ts';
import { JOB_STORE_METHODS } from './job-store-methods.ts';

export type { CoordinatorStub } from './coordinator-rpc.ts';

/** A JobStore whose operations run in the coordinator behind `stub`. */
export function createDurableJobStore(stub: CoordinatorStub): JobStore {
  const store: Partial<JobStore> & { announcesChanges: boolean } = {
    // The coordinator wakes the farm's waiters for the changes its operations make (coordinator-core.ts).
    announcesChanges: true,
    async close() {},
  };
  for (const method of JOB_STORE_METHODS) (store as Record<string, unknown>)[method] = coordinatorOperation(stub, method);
  return store as JobStore;
}
