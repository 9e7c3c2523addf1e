/** Metering: how much compute time a node may claim for a task (the ledger's render-seconds). */
import type { TaskRecord } from './job-store.ts';

/** Timings (ms) a node reports that count as compute: pixels drawn, read back, stitched and encoded (not I/O). */
const COMPUTE_TIMINGS = ['render', 'readback', 'stitch', 'encode'];

/** The compute time a node may claim for a task: its reported compute timings, within the lease's wall time. */
export function claimedRenderMs(timings: Record<string, number>, task: Pick<TaskRecord, 'leasedAt'>, now: number, leaseMs: number): number {
  const reported = COMPUTE_TIMINGS.reduce((sum, k) => sum + (Number.isFinite(timings[k]) ? Math.max(0, timings[k]) : 0), 0);
  const wall = Math.max(0, now - (task.leasedAt ?? now - leaseMs));
  return Math.min(reported, wall);
}
