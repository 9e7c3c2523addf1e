/**
 * A client's PoP as the routes use it: the PoP and RTT it timed (`GET /v1/edge/ping`), and that PoP's own RTTs
 * to nodes (EdgeRttMeter), which bound the client's RTT to each node (|r − d| ≤ RTT ≤ r + d). The row is used
 * only when the PoP the client names is the one that took the request (on Workers `request.cf.colo`; on Node
 * the named PoP, no edge vouching for it): a client naming another PoP only misleads itself, never others.
 * One rule for `GET /v1/nodes/nearby`, `POST /v1/jobs` and `POST /v1/sessions`.
 */
import type { ApiContext } from '../api-context.ts';
import type { EdgeSighting } from '../routing/router.ts';

/** The PoP whose row applies to this request's client, upper-cased, or undefined. */
export function clientEdgePop(ctx: ApiContext, raw: Request, claimed: { pop: string } | undefined): string | undefined {
  if (!claimed) return undefined;
  const asking = ctx.pops.askingPop(raw, claimed.pop);
  return asking !== undefined && asking === claimed.pop.toUpperCase() ? asking : undefined;
}

/**
 * The client's sighting with its PoP's row (`nodeRttMs`, when the row applies and holds any node), or the
 * sighting as named (no row), or undefined without one.
 */
export async function clientEdge(ctx: ApiContext, raw: Request, claimed: { pop: string; rttMs: number } | undefined, now: number): Promise<EdgeSighting | undefined> {
  if (!claimed) return undefined;
  const pop = clientEdgePop(ctx, raw, claimed);
  const nodeRttMs = pop ? await ctx.edgeRtts.rtts(pop, now) : {};
  return { pop: claimed.pop, rttMs: claimed.rttMs, ...(Object.keys(nodeRttMs).length ? { nodeRttMs } : {}) };
}
