/** `GET /v1/health`: liveness for load balancers and the local farm launcher. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { ApiContext } from '../api-context.ts';
import { jsonResponse } from './route-shapes.ts';

const Health = z.object({ status: z.literal('ok'), version: z.string(), serverTime: z.number() });

const health = createRoute({
  method: 'get',
  path: '/v1/health',
  tags: ['health'],
  summary: 'Whether the API is up',
  responses: { 200: jsonResponse('The API is up.', Health) },
});

/** Register the health route. */
export function registerHealthRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  app.openapi(health, (c) => c.json({ status: 'ok' as const, version: ctx.options.version, serverTime: ctx.clock.now() }, 200));
}
