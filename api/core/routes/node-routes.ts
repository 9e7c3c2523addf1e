/**
 * Render nodes: register (get a token), heartbeat (load; extends leases; learns of revoked ones) and lease
 * (long-poll for a task). A lease call sweeps expired leases first, so a farm needs no separate timer.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { NodeCard } from '../../protocol/node-card.ts';
import { Heartbeat, HeartbeatAck, LeaseRequest, NodeRegistered } from '../../protocol/node-messages.ts';
import { LeasedTask } from '../../protocol/task.ts';
import type { ApiContext } from '../api-context.ts';
import { randomId, randomToken, sha256Hex } from '../crypto-utils.ts';
import { presignLeasedTask } from '../leased-task.ts';
import { TASKS_TOPIC } from '../notifier.ts';
import { errorResponses } from './error-responses.ts';
import { authenticateNode, NODE_AUTH } from './node-auth.ts';

const NodeParams = z.object({ id: z.string().min(1).max(128) });
const security = [{ [NODE_AUTH]: [] }];

const register = createRoute({
  method: 'post',
  path: '/v1/nodes',
  tags: ['nodes'],
  summary: 'Register a render node',
  request: { body: { required: true, content: { 'application/json': { schema: NodeCard } } } },
  responses: {
    201: { description: 'Registered; keep the token.', content: { 'application/json': { schema: NodeRegistered } } },
    ...errorResponses('BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'),
  },
});

const heartbeat = createRoute({
  method: 'post',
  path: '/v1/nodes/{id}/heartbeat',
  tags: ['nodes'],
  summary: 'Report load and extend leases',
  security,
  request: { params: NodeParams, body: { required: true, content: { 'application/json': { schema: Heartbeat } } } },
  responses: {
    200: { description: 'Acknowledged, with the leases to stop working on.', content: { 'application/json': { schema: HeartbeatAck } } },
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'NODE_NOT_FOUND'),
  },
});

const lease = createRoute({
  method: 'post',
  path: '/v1/nodes/{id}/lease',
  tags: ['nodes'],
  summary: 'Wait for a task (long-poll)',
  security,
  request: { params: NodeParams, body: { required: false, content: { 'application/json': { schema: LeaseRequest } } } },
  responses: {
    200: { description: 'A task, with the presigned URLs it needs.', content: { 'application/json': { schema: LeasedTask } } },
    204: { description: 'No task came within waitSeconds.' },
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'NODE_NOT_FOUND', 'STORAGE_FAILED'),
  },
});

/** Register the node routes. */
export function registerNodeRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  const { policy } = ctx.options;

  app.openapi(register, async (c) => {
    const card = c.req.valid('json');
    // The name in the id makes logs and job statuses readable; the random part keeps it unique.
    const slug = card.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 32);
    const nodeId = randomId(slug ? `node_${slug}` : 'node');
    const nodeToken = randomToken();
    const now = ctx.clock.now();
    await ctx.jobs.registerNode({ nodeId, tokenHash: await sha256Hex(nodeToken), card, registeredAt: now, lastSeenAt: now, load: 0 });
    ctx.logger.info({ nodeId, name: card.name, region: card.region }, 'node registered');
    // Three heartbeats per lease: one lost heartbeat does not cost a lease.
    return c.json({ nodeId, nodeToken, heartbeatIntervalMs: Math.max(1, Math.floor(policy.leaseMs / 3)), leaseMs: policy.leaseMs }, 201);
  });

  app.openapi(heartbeat, async (c) => {
    const { id } = c.req.valid('param');
    await authenticateNode(c, ctx, id);
    const body = c.req.valid('json');
    const { revoked } = await ctx.jobs.heartbeat({ nodeId: id, leaseIds: body.leaseIds, load: body.load, now: ctx.clock.now(), policy });
    if (revoked.length) ctx.logger.info({ nodeId: id, revoked }, 'leases revoked');
    return c.json({ serverTime: ctx.clock.now(), revoked }, 200);
  });

  app.openapi(lease, async (c) => {
    const { id } = c.req.valid('param');
    await authenticateNode(c, ctx, id);
    // The body is optional: an empty one waits the default time.
    const { waitSeconds } = LeaseRequest.parse((c.req.valid('json') as unknown) ?? {});
    const deadline = ctx.clock.now() + waitSeconds * 1000;
    const signals = [c.req.raw.signal, ctx.options.shutdown].filter((s): s is AbortSignal => s !== undefined);
    const signal = AbortSignal.any(signals);
    for (;;) {
      if (signal.aborted) return c.body(null, 204);
      const now = ctx.clock.now();
      ctx.applied(await ctx.jobs.expireLeases(now, policy));
      const leased = await ctx.jobs.leaseNext({ nodeId: id, leaseId: randomId('lease'), now, policy });
      if (leased) {
        ctx.applied(leased.changes);
        const { task, job } = leased;
        const frameTiles = task.kind === 'stitch' ? await ctx.jobs.listFrameTasks(job.jobId, task.frame) : [];
        return c.json(await presignLeasedTask(task, job, frameTiles, ctx.blobs, ctx.options.urlSeconds), 200);
      }
      const left = deadline - ctx.clock.now();
      if (left <= 0) return c.body(null, 204);
      // Woken when tasks may have become available; the timer catches backoffs ending and other processes.
      await ctx.notifier.wait(TASKS_TOPIC, Math.min(left, ctx.options.recheckMs), signal);
    }
  });
}
