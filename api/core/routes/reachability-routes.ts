/**
 * `POST /v1/nodes/:id/reachability`: a registered node (its own token) asks the API to fetch the probe URL its
 * card advertises, so a node behind NAT or a firewall learns that clients cannot reach it (`tessera node
 * doctor`). See probe-reachability.ts for the bounds that keep it from being a scanner: only the node's own
 * URL, `/ping` over http(s), public addresses, no redirects, yes/no answered in constant time, and rate limits
 * per node and per API process.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { TesseraError } from '../../protocol/errors.ts';
import { NodeReachability } from '../../protocol/node-reachability.ts';
import type { ApiContext } from '../api-context.ts';
import { convictNode } from '../convict-node.ts';
import { forgedProbeReason } from '../node-trust.ts';
import { probeChallenge, refuseProbeUrl } from '../probe-reachability.ts';
import { RateLimiter } from '../rate-limiter.ts';
import { errorResponses } from './error-responses.ts';
import { authenticateNode, blocklisted, NODE_AUTH } from './node-auth.ts';
import { jsonResponse } from './route-shapes.ts';

const NodeParams = z.object({ id: z.string().min(1).max(128) });

const reachability = createRoute({
  method: 'post',
  path: '/v1/nodes/{id}/reachability',
  tags: ['nodes'],
  summary: "Check from the API that the node's advertised probe URL answers",
  description:
    "The API GETs the probe URL in the node's card (never one from the request) once, with a fresh ?nonce=, and answers whether the node's own " +
    '{"nodeId", "nonce", "proof"} came back (proof: HMAC-SHA256 of the nonce under its probe key). An answer speaking as the node without that proof ' +
    'blocklists the node (the probe URL is not the node) and forfeits its credit. Only /ping over http(s), public addresses unless the API allows private ones, no redirects; ' +
    'a negative answer always takes the full timeout. Rate limited per node and per API process.',
  security: [{ [NODE_AUTH]: [] }],
  request: { params: NodeParams },
  responses: {
    200: jsonResponse('Whether the probe URL answered.', NodeReachability),
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'NODE_BLOCKLISTED', 'NODE_NOT_FOUND', 'RATE_LIMITED'),
  },
});

/** Register the reachability route. */
export function registerReachabilityRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  const limits = ctx.options.probeCheck;
  const limiter = new RateLimiter();
  const take = (key: string, requestsPerMinute: number, burst: number) => {
    const decision = limiter.take(key, { requestsPerMinute, burst }, ctx.clock.now());
    if (!decision.ok) {
      const retryAfterSeconds = Math.ceil(decision.retryAfterMs / 1000);
      throw new TesseraError('RATE_LIMITED', `Too many reachability checks; retry in ${retryAfterSeconds} s.`, { retryAfterSeconds });
    }
  };

  app.openapi(reachability, async (c) => {
    const { id } = c.req.valid('param');
    const node = await authenticateNode(c, ctx, id);
    if (node.reputation?.blocklisted) throw blocklisted(node);
    const probeUrl = node.card.probeUrl;
    const refused = refuseProbeUrl(probeUrl, limits);
    if (refused) return c.json({ probeUrl: probeUrl ?? '', reachable: false, message: refused }, 200);
    take(`node:${id}`, limits.perNodePerMinute, 2);
    take('process', limits.perProcessPerMinute, 10);
    const verdict = await probeChallenge(probeUrl!, node, limits, limits.allowPrivateAddresses ? undefined : ctx.publicFetch);
    ctx.logger.info({ nodeId: id, probeUrl, verdict }, 'probe reachability checked');
    if (verdict === 'forged') {
      // Whatever answers there spoke as this node without its key's proof: the probe URL is not the node. A lie.
      await convictNode(ctx, id, forgedProbeReason(probeUrl!, 'reachability check'));
      const message = `The probe URL ${probeUrl} answered as this node without its probe key's proof: it is not this node. The node is blocklisted and its credit forfeited.`;
      return c.json({ probeUrl: probeUrl!, reachable: false, message }, 200);
    }
    const reachable = verdict === 'answered';
    const message = reachable
      ? 'The API reached the probe URL and the node answered its challenge.'
      : `The API could not get this node's answer from ${probeUrl} within ${limits.timeoutMs} ms: open that port to the internet in the firewall (TCP), forward it on the NAT router, or set --probe-url to the address clients reach.`;
    return c.json({ probeUrl: probeUrl!, reachable, message }, 200);
  });
}
