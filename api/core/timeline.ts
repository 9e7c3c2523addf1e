/**
 * A per-hop timeline of jobs and tasks for `npm run bench:farm`: with the API's `timeline` option on, each step of
 * a job's way through the API (submitted, leased, completion received / checked / stored / recorded / answered,
 * frame event sent) is logged in `timeline=[{"step":…,"at":…},…]` lines with an epoch time in milliseconds from the
 * high-resolution clock (performance.timeOrigin + performance.now()), so stamps taken by different processes on
 * one host line up to a fraction of a millisecond. Off by default: nothing is logged then.
 */
import type { Logger } from './logger.ts';

/** What identifies a stamp: the job, and the task where the step is a task's. */
export interface TimelineIds {
  jobId?: string;
  taskId?: string;
  frame?: number;
}

/** Epoch milliseconds from the high-resolution clock (fractional). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Stamps waiting to be logged, per logger: logged together a moment later, off the path they time. */
const pending = new Map<Logger, object[]>();

/**
 * Record one timeline stamp when `on` (`at` defaults to now). The line is logged a moment later with the others
 * stamped meanwhile, not here: a log line costs a synchronous write in the farm (more on a busy machine), which
 * would lengthen the very hops the timeline measures.
 */
export function stampTimeline(on: boolean, logger: Logger, step: string, ids: TimelineIds, at = epochMs()): void {
  if (!on) return;
  let list = pending.get(logger);
  if (!list) {
    pending.set(logger, (list = []));
    const timer = setTimeout(() => {
      pending.delete(logger);
      // One line for the batch: each line costs the farm a parse and a write.
      logger.info({ timeline: list }, 'timeline');
    }, 200);
    (timer as { unref?: () => void }).unref?.();
  }
  list.push({ step, ...ids, at: Math.round(at * 100) / 100 });
}

/** Stamp tasks handed to a node (`lease-answered`, and `lease-woken` when a wake-up ended its long-poll's wait). */
export function stampLeased(ctx: { options: { timeline: boolean }; logger: Logger }, tasks: readonly { jobId: string; taskId: string; frame: number }[], wokenAt?: number): void {
  if (!ctx.options.timeline) return;
  for (const t of tasks) {
    const ids = { jobId: t.jobId, taskId: t.taskId, frame: t.frame };
    if (wokenAt !== undefined) stampTimeline(true, ctx.logger, 'lease-woken', ids, wokenAt);
    stampTimeline(true, ctx.logger, 'lease-answered', ids);
  }
}
