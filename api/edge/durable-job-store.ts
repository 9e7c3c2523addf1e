/**
 * The JobStore port for Workers: each operation is one RPC to the farm's coordinator Durable Object
 * (job-coordinator.ts), which runs it on the shared SqlJobStore. Failures come back as `{code, message}`
 * and are thrown again as the same TesseraError, so routes answer exactly as on Node.
 */
import type { JobStore } from '../core/job-store.ts';
import { TesseraError } from '../protocol/errors.ts';
import { JOB_STORE_METHODS, type CallResult, type JobStoreMethod } from './job-store-methods.ts';

/** What the client needs of the coordinator's stub. */
export interface CoordinatorStub {
  call(method: JobStoreMethod, args: unknown[]): Promise<CallResult>;
}

/** A JobStore whose operations run in the coordinator behind `stub`. */
export function createDurableJobStore(stub: CoordinatorStub): JobStore {
  const store: Partial<JobStore> = {
    async close() {},
  };
  for (const method of JOB_STORE_METHODS) {
    (store as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      let result: CallResult;
      try {
        result = await stub.call(method, args);
      } catch (err) {
        // The object was reset or could not be reached: the caller may retry.
        throw new TesseraError('UNAVAILABLE', `The job coordinator did not answer ${method}: ${(err as Error).message}`, { cause: err, retryAfterSeconds: 1 });
      }
      if (result.ok) return result.value;
      if (result.error.code) throw new TesseraError(result.error.code, result.error.message, { retryAfterSeconds: result.error.retryAfterSeconds });
      throw new Error(`Job coordinator ${method} failed: ${result.error.message}`);
    };
  }
  return store as JobStore;
}
