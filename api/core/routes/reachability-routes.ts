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
import { probeAnswers, refuseProbeUrl } from '../probe-reachability.ts';
import { RateLimiter } from '../rate-limiter.ts';
import { errorResponses } from './error-responses.ts';
import { authenticateNode, blocklisted, NODE_AUTH } from './node-auth.ts';

const NodeParams = z.object({ id: z.string().min(1).max(128) });

const reachability = createRoute({
  method: 'post',
  path: '/v1/nodes/{id}/reachability',
  tags: ['nodes'],
  summary: "Check from the API that the node's advertised probe URL answers",
  description:
    "The API GETs the probe URL in the node's card (never one from the request) once and answers whether the node's own " +
    '{"nodeId"} came back. Only /ping over http(s), public addresses unless the API allows private ones, no redirects; ' +
    'a negative answer always takes the full timeout. Rate limited per node and per API process.',
  security: [{ [NODE_AUTH]: [] }],
  request: { params: NodeParams },
  responses: {
    200: { description: 'Whether the probe URL answered.', content: { 'application/json': { schema: NodeReachability } } },
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
    const reachable = await probeAnswers(probeUrl!, id, limits);
    ctx.logger.info({ nodeId: id, probeUrl, reachable }, 'probe reachability checked');
    const message = reachable
      ? 'The API reached the probe URL and the node answered.'
      : `The API could not get this node's answer from ${probeUrl} within ${limits.timeoutMs} ms: open that port to the internet in the firewall (TCP), forward it on the NAT router, or set --probe-url to the address clients reach.`;
    return c.json({ probeUrl: probeUrl!, reachable, message }, 200);
  });
}
