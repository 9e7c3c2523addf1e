/**
 * A node proven to lie outside a completion (its probe URL forged the API's challenge): blocklisted through the
 * store (its leases revoked, its work in unfinished jobs redone, every ledger entry it has forfeited), the changes
 * applied (logged, waiters woken), the node directory refreshed so nothing is routed to it, and the conviction logged.
 */
import type { ApiContext } from './api-context.ts';

/** Blocklist `nodeId` for `reason` and apply what that changed. */
export async function convictNode(ctx: Pick<ApiContext, 'jobs' | 'clock' | 'logger' | 'nodes' | 'applied'>, nodeId: string, reason: string): Promise<void> {
  const changes = await ctx.jobs.blocklistNode(nodeId, reason, ctx.clock.now());
  ctx.logger.warn({ nodeId, reason, requeued: changes.length }, 'node proven a liar: blocklisted, its credit forfeited');
  ctx.nodes.invalidate();
  await ctx.applied(changes);
}
