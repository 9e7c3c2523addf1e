/**
 * Node authentication: every node call carries `Authorization: Bearer <nodeToken>` from registration. The token is
 * signed (node-credentials.ts): its signature, expiry and node are checked here without the store, and a token that
 * fails is refused before any store call. Only the token's sha256 is stored, so a leaked database does not leak
 * working tokens, and the store checks it in every node call (a blocklisted node's valid token gets it nowhere).
 */
import type { Context } from 'hono';
import { TesseraError } from '../../protocol/errors.ts';
import type { ApiContext } from '../api-context.ts';
import { sha256Hex } from '../crypto-utils.ts';
import type { NodeRecord } from '../job-store.ts';
import { limitNodeCall } from './node-admission.ts';
import { checkNodeCredentials } from '../check-node-credentials.ts';

/** The security scheme name used in the OpenAPI document. */
export const NODE_AUTH = 'nodeToken';

/**
 * The sha256 of the request's bearer token (what the store keeps of a node token), once its signature and expiry
 * check out. Throws UNAUTHORIZED. Whose node the route names is left to the store (404 for a node it does not know).
 */
export async function bearerHash(c: Context, ctx: Pick<ApiContext, 'credentials' | 'clock'>): Promise<string> {
  const token = bearer(c);
  await ctx.credentials.check(token, ctx.clock.now());
  return sha256Hex(token);
}

/**
 * The request's node credentials, checked as `bearerHash` does: the token's sha256, and the node id a signed token
 * names (absent for an unsigned token, which only the store can place). Throws UNAUTHORIZED.
 */
export async function bearerCredentials(c: Context, ctx: Pick<ApiContext, 'credentials' | 'clock'>): Promise<{ tokenHash: string; nodeId?: string }> {
  const token = bearer(c);
  const claims = await ctx.credentials.check(token, ctx.clock.now());
  const tokenHash = await sha256Hex(token);
  return claims ? { tokenHash, nodeId: claims.nodeId } : { tokenHash };
}

function bearer(c: Context): string {
  const header = c.req.header('authorization') ?? '';
  const m = /^Bearer\s+([^\s]+)\s*$/i.exec(header);
  if (!m) throw new TesseraError('UNAUTHORIZED', 'Send the node token from POST /v1/nodes as "Authorization: Bearer <token>".');
  return m[1];
}

/** The node the request's token belongs to; when `nodeId` is given, the token must be that node's. Each call counts against the node's rate limit. */
export async function authenticateNode(c: Context, ctx: ApiContext, nodeId?: string): Promise<NodeRecord> {
  const tokenHash = await bearerHash(c, ctx);
  const found = nodeId !== undefined ? await ctx.jobs.getNode(nodeId) : await ctx.jobs.findNodeByTokenHash(tokenHash);
  const node = checkNodeCredentials({ tokenHash, nodeId }, found);
  limitNodeCall(ctx, node.nodeId);
  return node;
}

/** The answer to a blocklisted node's lease or result: 403 with why and since when. */
export function blocklisted(node: NodeRecord): TesseraError {
  const b = node.reputation!.blocklisted!;
  return new TesseraError('NODE_BLOCKLISTED', `Node ${node.nodeId} is blocklisted since ${new Date(b.at).toISOString()}: ${b.reason}. It gets no more tasks.`);
}
