/**
 * The storage clean-up sweep: prunes the ended jobs whose clean-up is due (the job store marks each job as it ends,
 * prune-schedule.ts) and settles their marks. Run periodically (Node: an interval in the API process; Workers: the
 * coordinator Durable Object's alarm), it picks up after any restart, since the marks are in the store. Idempotent
 * (a prune of a pruned job deletes nothing; a mark is settled only if it still holds the due time the sweep read)
 * and bounded: at most `limit` jobs per sweep, one after another. A job whose storage failed is tried again
 * `retryMs` later, behind the others due.
 */
import type { ApiContext } from './api-context.ts';
import { pruneSupersededOutputs } from './prune-outputs.ts';

export interface PruneSweepOptions {
  /** Most jobs one sweep prunes. */
  limit?: number;
  /** A job whose listing or deletes failed is due again this much later. */
  retryMs?: number;
}

export const PRUNE_SWEEP_DEFAULTS: Required<PruneSweepOptions> = {
  limit: 25,
  retryMs: 60_000,
};

/** How often the Node API sweeps (ms); the Workers coordinator sets its alarm for the next due time instead. */
export const PRUNE_SWEEP_INTERVAL_MS = 30_000;

/** What one sweep did. */
export interface PruneSweepResult {
  /** Jobs cleaned up (marks cleared). */
  pruned: string[];
  /** Jobs whose storage failed: due again later. */
  retried: string[];
  /** Objects deleted. */
  deleted: number;
  /** True when the sweep stopped at its limit: more may be due now. */
  more: boolean;
}

/** Prune the jobs whose clean-up is due by `now`, at most `limit`. */
export async function sweepDuePrunes(ctx: Pick<ApiContext, 'jobs' | 'blobs' | 'logger'>, now: number, options: PruneSweepOptions = {}): Promise<PruneSweepResult> {
  const { limit, retryMs } = { ...PRUNE_SWEEP_DEFAULTS, ...options };
  const due = await ctx.jobs.listDuePrunes({ now, limit });
  const result: PruneSweepResult = { pruned: [], retried: [], deleted: 0, more: due.length >= limit };
  for (const { jobId, dueAt } of due) {
    let complete: boolean;
    try {
      const pruned = await pruneSupersededOutputs(ctx, jobId);
      result.deleted += pruned.deleted.length;
      complete = pruned.complete;
    } catch (err) {
      ctx.logger.warn({ err, jobId }, "could not clean up an ended job's storage");
      complete = false;
    }
    await ctx.jobs.settlePrune({ jobId, dueAt, retryAt: complete ? null : now + retryMs });
    (complete ? result.pruned : result.retried).push(jobId);
  }
  if (due.length) ctx.logger.info({ pruned: result.pruned.length, retried: result.retried.length, deleted: result.deleted }, 'storage clean-up sweep');
  return result;
}
