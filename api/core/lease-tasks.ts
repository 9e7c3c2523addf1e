/**
 * Leasing tasks to a node, shared by the lease long-poll and the completion that asks for its `next` tasks:
 * sweep stranded verifications, route ready tasks, then expire leases and lease up to the node's free slots (and
 * its lease-ahead allowance) in one store step, and presign each task. The store step may carry the route's own
 * work (authenticating the node, completing its task: `authenticateAndLease`, `authenticateAndComplete`), so a route is
 * one Durable Object request on Workers.
 */
import type { LeasedTask } from '../protocol/task.ts';
import type { ApiContext } from './api-context.ts';
import { randomId } from './crypto-utils.ts';
import type { LeaseManyInput, LeaseManyOutcome, NodeRecord } from './job-store.ts';
import { presignLeasedTask, stitchesFrame } from './leased-task.ts';
import { TASKS_TOPIC } from './notifier.ts';
import { epochMs, stampTimeline } from './timeline.ts';
import type { StatusChange } from './state-machine.ts';
import { aheadLeaseMs } from './task-policy.ts';
import { UPLOAD_CAPABILITY_PURPOSE } from './upload-capability.ts';

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

/** The first store step's lease input, less the node (a composite step learns it from the credentials). */
export type LeaseStepInput = Omit<LeaseManyInput, 'nodeId' | 'card' | 'maxLeases'>;

/** What the first store step did: the node it leased to, the lease (null: none was made), and any other changes. */
export interface LeaseStep {
  node: NodeRecord;
  lease: LeaseManyOutcome | null;
  /** Changes the step made besides the lease's (a completion's), logged and announced with them. */
  changes?: StatusChange[];
  /** The node had not been asking for work before this call: routing may now place tasks on it. */
  resumed?: boolean;
}

/**
 * Lease the node what it may have now (possibly nothing), presigned, in lease order. `earlier`: status changes
 * the caller made in the same request (a completion), logged and announced with the lease's own in one go, so
 * the request sends one wake-up rather than two.
 */
export async function leaseTasks(ctx: ApiContext, node: NodeRecord, wanted: LeaseWanted, earlier: StatusChange[] = []): Promise<LeasedTasks> {
  const { tasks, wakeAt } = await leaseWith(ctx, wanted, async (input) => ({ node, lease: await ctx.jobs.leaseMany(leaseManyInput(node, input, wanted)) }), earlier);
  return { tasks, wakeAt };
}

/** `input` for `node`: its card, its slots as the cap, and no more lease ids than its slots and lease-ahead allow. */
function leaseManyInput(node: NodeRecord, input: LeaseStepInput, wanted: LeaseWanted): LeaseManyInput {
  return {
    ...input,
    leaseIds: input.leaseIds.slice(0, leaseCount(node, wanted)),
    nodeId: node.nodeId,
    card: node.card,
    // No more leases than slots (plus the bounded lease-ahead): a node cannot hoard tasks it is not working on.
    maxLeases: node.card.concurrency,
  };
}

function leaseCount(node: NodeRecord, wanted: LeaseWanted): number {
  return Math.max(0, Math.min(wanted.max, node.card.concurrency) + wanted.ahead);
}

/**
 * As `leaseTasks`, with the first store step given: `step` gets the lease input (up to `max + ahead` fresh lease
 * ids, expiring leases first) and runs it alone or inside a composite operation. Returns the step's node too.
 */
export async function leaseWith(
  ctx: ApiContext,
  wanted: LeaseWanted,
  step: (input: LeaseStepInput) => Promise<LeaseStep>,
  earlier: StatusChange[] = [],
): Promise<LeasedTasks & { node: NodeRecord; lease: LeaseManyOutcome | null }> {
  const { policy } = ctx.options;
  /** Where the step's time goes, for the timeline (stamped on the tasks leased). */
  const marks: [string, number][] = [];
  const mark = ctx.options.timeline ? (step: string) => marks.push([step, epochMs()]) : () => {};
  // Finished or freed tasks change queues: the routing pass below must see them.
  if (earlier.length > 0) ctx.router.invalidate();
  const changes = [...earlier, ...(await ctx.verifier.sweep(ctx.clock.now()))];
  mark('lease-swept');
  let leasedIds: { jobId: string; taskId: string; frame: number }[] = [];
  try {
    if ((await ctx.router.routePending()) > 0) ctx.notifier.notify(TASKS_TOPIC);
    mark('lease-routed');
    const input = (n: number, expire: boolean): LeaseStepInput => ({
      leaseIds: Array.from({ length: n }, () => randomId('lease')),
      now: ctx.clock.now(),
      policy,
      ahead: wanted.ahead,
      aheadLeaseMs: aheadLeaseMs(policy),
      expire,
    });
    const first = await step(input(Math.max(0, wanted.max + wanted.ahead), true));
    mark('lease-stored');
    const { node, lease } = first;
    changes.push(...(first.changes ?? []));
    if (!lease) return { node, lease, tasks: [], wakeAt: null };
    changes.push(...lease.expired, ...lease.leased.flatMap((o) => o.changes));
    const count = leaseCount(node, wanted);
    const leased = [...lease.leased];
    let { wakeAt } = lease;
    // The router skips its passes while the store says no runnable job is routed; a routed job it did not know of
    // (submitted through another isolate) means a pass and a second try now.
    const routedAppeared = ctx.router.noteRoutedJobs(lease.routedJobs);
    if ((lease.expired.length > 0 || routedAppeared || (first.resumed && lease.routedJobs)) && leased.length < count) {
      // Leases ran out in this very step, routed work appeared, or this node came back as capacity: their tasks wait
      // for the router. Route them now and try once more, rather than leave this node waiting for a wake-up that
      // already passed.
      ctx.router.invalidate();
      // A node back as capacity: the routing pass must read it afresh.
      if (first.resumed) ctx.nodes.invalidate();
      await ctx.router.routePending();
      const again = await ctx.jobs.leaseMany(leaseManyInput(node, input(count - leased.length, false), wanted));
      changes.push(...again.leased.flatMap((o) => o.changes));
      leased.push(...again.leased);
      wakeAt = again.wakeAt;
    }
    const uploadKey = leased.length ? await ctx.tickets.derivedKey(UPLOAD_CAPABILITY_PURPOSE) : new Uint8Array();
    const now = ctx.clock.now();
    const tasks = await Promise.all(
      leased.map(async ({ task, job }) => {
        const frameTiles = stitchesFrame(task) ? await ctx.jobs.listFrameTasks(job.jobId, task.frame) : [];
        return presignLeasedTask(task, job, frameTiles, ctx.blobs, ctx.options.nodeUrlSeconds, uploadKey, node.nodeId, now, ctx.options.inlineOutputBytes, ctx.hmacSha256Sync);
      }),
    );
    mark('lease-presigned');
    leasedIds = tasks;
    return { node, lease, tasks, wakeAt };
  } finally {
    // Whatever happened after them, the changes made are logged and announced.
    await ctx.applied(changes);
    for (const t of leasedIds) for (const [step, at] of marks) stampTimeline(true, ctx.logger, step, { jobId: t.jobId, taskId: t.taskId, frame: t.frame }, at);
  }
}
