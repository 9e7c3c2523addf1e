/**
 * One store operation as an RPC to the farm's coordinator Durable Object (job-coordinator.ts), shared by the
 * Workers JobStore and SessionStore. Failures come back as `{code, message}` and are thrown again as the same
 * TesseraError, so routes answer exactly as on Node; an object that was reset or could not be reached is an
 * UNAVAILABLE the caller may retry.
 */
import { TesseraError } from '../protocol/errors.ts';
import type { CallResult, CoordinatorMethod } from './job-store-methods.ts';

/** What the stores need of the coordinator's stub. */
export interface CoordinatorStub {
  call(method: CoordinatorMethod, args: unknown[]): Promise<CallResult>;
}

/** The operation `method` run in the coordinator behind `stub`, as an async function of its arguments. */
export function coordinatorOperation(stub: CoordinatorStub, method: CoordinatorMethod): (...args: unknown[]) => Promise<unknown> {
  return async (...args: unknown[]) => {
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
