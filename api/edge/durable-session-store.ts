/**
 * The SessionStore port for Workers: each operation is one RPC to the farm's coordinator Durable Object,
 * which runs it on the shared SqlSessionStore (same SQL storage as the jobs). Errors come back as
 * TesseraErrors, as with the job store.
 */
import type { SessionStore } from '../core/session-store.ts';
import { TesseraError } from '../protocol/errors.ts';
import { SESSION_STORE_METHODS, type CallResult, type CoordinatorMethod } from './job-store-methods.ts';

export interface SessionCoordinatorStub {
  call(method: CoordinatorMethod, args: unknown[]): Promise<CallResult>;
}

/** A SessionStore whose operations run in the coordinator behind `stub`. */
export function createDurableSessionStore(stub: SessionCoordinatorStub): SessionStore {
  const store: Partial<SessionStore> = {};
  for (const method of SESSION_STORE_METHODS) {
    (store as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      let result: CallResult;
      try {
        result = await stub.call(method, args);
      } catch (err) {
        throw new TesseraError('UNAVAILABLE', `The job coordinator did not answer ${method}: ${(err as Error).message}`, { cause: err, retryAfterSeconds: 1 });
      }
      if (result.ok) return result.value;
      if (result.error.code) throw new TesseraError(result.error.code, result.error.message, { retryAfterSeconds: result.error.retryAfterSeconds });
      throw new Error(`Job coordinator ${method} failed: ${result.error.message}`);
    };
  }
  return store as SessionStore;
}
