/**
 * Node admission and node-route limits. Registration is open by default (a new node is on probation), but
 * an operator can require a join token (`requireJoinToken`: a `node` key made with `tessera keys create
 * --role node`, or an admin key), and registrations are rate limited per client address and per join token,
 * so one machine cannot mint identities in bulk. Each node's own calls (heartbeat, lease, task reports) are
 * rate limited per node once its token is checked, so a flood of them costs the API one bucket lookup each.
 * All limits answer 429 RATE_LIMITED with Retry-After. Buckets live in memory per API process (rate-limiter.ts).
 */
import type { Context } from 'hono';
import { TesseraError } from '../../protocol/errors.ts';
import type { ApiContext } from '../api-context.ts';
import type { Principal } from '../client-keys.ts';
import type { RateLimit } from '../rate-limiter.ts';

export interface NodeRateLimits {
  /** `POST /v1/nodes` per client address (the socket's on Node, CF-Connecting-IP on Workers). */
  registration: RateLimit;
  /** Calls per registered node on its routes (heartbeat, lease, reachability, task complete and fail). */
  perNode: RateLimit;
}

export const NODE_RATE_LIMIT_DEFAULTS: NodeRateLimits = {
  // A farm of a hundred nodes may come up at once behind one address; past that, one a second.
  registration: { requestsPerMinute: 60, burst: 100 },
  // An honest node makes a lease and a report per task plus a heartbeat every few seconds: 100 calls a
  // second sustained is tens of tiny tiles a second per slot; a flood beyond it is refused cheaply.
  perNode: { requestsPerMinute: 6000, burst: 600 },
};

/**
 * The address a request came from: the socket's peer on Node (@hono/node-server passes it as `incoming`),
 * else Cloudflare's CF-Connecting-IP (set by the edge, not by the client), else one shared bucket. Behind a
 * reverse proxy on Node every request shares the proxy's address: raise `registration` there.
 */
export function clientAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  const address = incoming?.socket?.remoteAddress ?? c.req.header('cf-connecting-ip') ?? 'unknown';
  return address.slice(0, 64);
}

function refuse(message: string, retryAfterMs: number): TesseraError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new TesseraError('RATE_LIMITED', `${message}; retry in ${seconds} s.`, { retryAfterSeconds: seconds });
}

/**
 * Admit a registration: within its address's rate, and, when join tokens are required, carrying a valid
 * one (within that token's rate). Returns the join token's principal when one was checked. Throws
 * RATE_LIMITED, UNAUTHORIZED (no token, an unknown or revoked one) or FORBIDDEN (a client key).
 */
export async function admitRegistration(c: Context, ctx: ApiContext): Promise<Principal | null> {
  const now = ctx.clock.now();
  const { registration } = ctx.options.nodeRateLimits;
  const address = clientAddress(c);
  const byAddress = ctx.limiter.take(`register:${address}`, registration, now);
  if (!byAddress.ok) {
    throw refuse(`Too many node registrations from ${address} (${registration.requestsPerMinute} a minute, bursts of ${registration.burst})`, byAddress.retryAfterMs);
  }
  if (!ctx.options.requireJoinToken) return null;
  if (!c.req.header('authorization')) {
    throw new TesseraError('UNAUTHORIZED', 'This API admits render nodes with a join token only: send it as "Authorization: Bearer <token>" (tessera node start --join-token; the operator makes one with tessera keys create --role node).');
  }
  const principal = await ctx.keys.authenticate(c.req.header('authorization'));
  if (principal.role === 'client') {
    throw new TesseraError('FORBIDDEN', `API key "${principal.name}" is a client key; registering a node needs a join token (tessera keys create --role node).`);
  }
  const byToken = ctx.limiter.take(principal.keyId, principal.limits, now);
  if (!byToken.ok) {
    throw refuse(`Join token "${principal.name}" may register ${principal.limits.requestsPerMinute} nodes a minute (bursts of ${principal.limits.burst})`, byToken.retryAfterMs);
  }
  return principal;
}

/** Take one call from a registered node's bucket (after its token was checked); throws RATE_LIMITED past it. */
export function limitNodeCall(ctx: ApiContext, nodeId: string): void {
  const { perNode } = ctx.options.nodeRateLimits;
  const decision = ctx.limiter.take(`node:${nodeId}`, perNode, ctx.clock.now());
  if (!decision.ok) throw refuse(`Node ${nodeId} may make ${perNode.requestsPerMinute} calls a minute (bursts of ${perNode.burst})`, decision.retryAfterMs);
}

/** Whether the node's bucket allows one more call, taking nothing (checked before a store step that authenticates and acts at once). */
export function nodeCallAllowed(ctx: ApiContext, nodeId: string): boolean {
  return ctx.limiter.peek(`node:${nodeId}`, ctx.options.nodeRateLimits.perNode, ctx.clock.now());
}

/** Charge a call the node made that `nodeCallAllowed` let through (never throws: the work is done by now). */
export function chargeNodeCall(ctx: ApiContext, nodeId: string): void {
  ctx.limiter.take(`node:${nodeId}`, ctx.options.nodeRateLimits.perNode, ctx.clock.now());
}
