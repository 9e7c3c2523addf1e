/**
 * Leasing tasks to a node, shared by the lease long-poll and the completion that asks for its `next` tasks:
 * sweep stranded verifications, route ready tasks, then expire leases and lease up to the node's free slots (and
 * its lease-ahead allowance) in one store step (one Durable Object request on Workers), and presign each task.
 */
import type { LeasedTask } from '../protocol/task.ts';
import type { ApiContext } from './api-context.ts';
import { randomId } from './crypto-utils.ts';
import type { NodeRecord } from './job-store.ts';
import { presignLeasedTask, stitchesFrame } from './leased-task.ts';
import { TASKS_TOPIC } from './notifier.ts';
import type { StatusChange } from './state-machine.ts';
import { aheadLeaseMs } from './task-policy.ts';

export interface LeaseWanted {
  /** Most tasks to lease (the store stops at the node's slots). */
  max: number;
  /** Lease-ahead tasks beyond the slots (the store bounds it by LEASE_AHEAD_MAX). */
  ahead: number;
}

/** The tasks leased, presigned, and when the store next has a deadline (see LeaseManyOutcome.wakeAt). */
export interface LeasedTasks {
  tasks: LeasedTask[];
  wakeAt: number | null;
}

/**
 * Lease the node what it may have now (possibly nothing), presigned, in lease order. `earlier`: status changes
 * the caller made in the same request (a completion), logged and announced with the lease's own in one go, so
 * the request sends one wake-up (one Durable Object request on Workers) rather than two.
 */
export async function leaseTasks(ctx: ApiContext, node: NodeRecord, wanted: LeaseWanted, earlier: StatusChange[] = []): Promise<LeasedTasks> {
  const { policy } = ctx.options;
  // Finished or freed tasks change queues: the routing pass below must see them.
  if (earlier.length > 0) ctx.router.invalidate();
  const changes = [...earlier, ...(await ctx.verifier.sweep(ctx.clock.now()))];
  try {
    if ((await ctx.router.routePending()) > 0) ctx.notifier.notify(TASKS_TOPIC);
    const count = Math.max(0, Math.min(wanted.max, node.card.concurrency) + wanted.ahead);
    const leaseOnce = async (expire: boolean, n: number) => {
      const outcome = await ctx.jobs.leaseMany({
        nodeId: node.nodeId,
        leaseIds: Array.from({ length: n }, () => randomId('lease')),
        now: ctx.clock.now(),
        policy,
        card: node.card,
        // No more leases than slots (plus the bounded lease-ahead): a node cannot hoard tasks it is not working on.
        maxLeases: node.card.concurrency,
        ahead: wanted.ahead,
        aheadLeaseMs: aheadLeaseMs(policy),
        expire,
      });
      changes.push(...outcome.expired, ...outcome.leased.flatMap((o) => o.changes));
      return outcome;
    };
    const first = await leaseOnce(true, count);
    const leased = [...first.leased];
    let { wakeAt } = first;
    // The router skips its passes while the store says no runnable job is routed; a routed job it did not know of
    // (submitted through another isolate) means a pass and a second try now.
    const routedAppeared = ctx.router.noteRoutedJobs(first.routedJobs);
    if ((first.expired.length > 0 || routedAppeared) && leased.length < count) {
      // Leases ran out in this very step, or routed work appeared: their tasks wait for the router. Route them now
      // and try once more, rather than leave this node waiting for a wake-up that already passed.
      ctx.router.invalidate();
      await ctx.router.routePending();
      const again = await leaseOnce(false, count - leased.length);
      leased.push(...again.leased);
      wakeAt = again.wakeAt;
    }
    const tasks = await Promise.all(
      leased.map(async ({ task, job }) => {
        const frameTiles = stitchesFrame(task) ? await ctx.jobs.listFrameTasks(job.jobId, task.frame) : [];
        return presignLeasedTask(task, job, frameTiles, ctx.blobs, ctx.options.nodeUrlSeconds);
      }),
    );
    return { tasks, wakeAt };
  } finally {
    // Whatever happened after them, the changes made are logged and announced.
    await ctx.applied(changes);
  }
}
