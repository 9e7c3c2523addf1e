/**
 * A bound on the scene inspections one API process runs at once. Checking and normalizing a near-cap upload takes
 * seconds of this process's event loop and up to about a gigabyte of memory (decoded buffers and images), so a few
 * concurrent uploads would stall every other route or exhaust the process. Past `concurrent` running and `queued`
 * waiting, an upload is refused at once with a retryable 503 UNAVAILABLE and Retry-After: the SDK retries scene
 * uploads (they are content-addressed, so idempotent), and nothing was read or stored for the refused one.
 */
import { TesseraError } from '../protocol/errors.ts';

export interface InspectionSlotOptions {
  /** Inspections run at once per API process. */
  concurrent: number;
  /** Uploads that may wait for a slot; more are refused with 503. */
  queued: number;
  /** The Retry-After of a refusal (seconds): about one near-cap inspection. */
  retryAfterSeconds: number;
}

export const INSPECTION_SLOT_DEFAULTS: InspectionSlotOptions = { concurrent: 2, queued: 4, retryAfterSeconds: 5 };

/** A counting semaphore with a bounded queue. */
export interface InspectionSlots {
  /** Run `work` in a slot, after waiting for one if the queue has room; throws 503 UNAVAILABLE when it has none. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Throw the 503 `run` would throw now, if any (a handler checks before it reads a body it would then refuse). */
  checkRoom(): void;
}

/** Slots for scene inspections under `options`. */
export function createInspectionSlots(options: InspectionSlotOptions): InspectionSlots {
  if (!Number.isInteger(options.concurrent) || options.concurrent < 1) throw new RangeError(`sceneInspections.concurrent must be a whole number ≥ 1 (got ${options.concurrent})`);
  if (!Number.isInteger(options.queued) || options.queued < 0) throw new RangeError(`sceneInspections.queued must be a whole number ≥ 0 (got ${options.queued})`);
  let running = 0;
  const waiting: Array<() => void> = [];
  const busy = () =>
    new TesseraError(
      'UNAVAILABLE',
      `The API is checking ${running} scenes with ${waiting.length} more waiting, its limit; retry in ${options.retryAfterSeconds} s.`,
      { retryAfterSeconds: options.retryAfterSeconds },
    );
  const release = () => {
    const next = waiting.shift();
    // The slot passes straight to the next waiter, so `running` stays counted.
    if (next) next();
    else running--;
  };
  return {
    checkRoom() {
      if (running >= options.concurrent && waiting.length >= options.queued) throw busy();
    },
    async run(work) {
      if (running < options.concurrent) running++;
      else if (waiting.length < options.queued) await new Promise<void>((resolve) => waiting.push(resolve));
      else throw busy();
      try {
        return await work();
      } finally {
        release();
      }
    },
  };
}
