/**
 * The SessionStore port for Workers: each operation is one RPC to the farm's coordinator Durable Object,
 * which runs it on the shared SqlSessionStore (same SQL storage as the jobs). Errors come back as
 * TesseraErrors, as with the job store.
 */
import type { SessionStore } from '../core/session-store.ts';
import { coordinatorOperation, type CoordinatorStub } from './coordinator-rpc.ts';
import { SESSION_STORE_METHODS } from './job-store-methods.ts';

/** A SessionStore whose operations run in the coordinator behind `stub`. */
export function createDurableSessionStore(stub: CoordinatorStub): SessionStore {
  const store: Partial<SessionStore> = {};
  for (const method of SESSION_STORE_METHODS) (store as Record<string, unknown>)[method] = coordinatorOperation(stub, method);
  return store as SessionStore;
}
