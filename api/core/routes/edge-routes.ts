/**
 * `GET /v1/edge/ping`: the edge as a landmark. Answered from the request alone — no store, no Durable
 * Object, no key — so it costs a Worker almost nothing and its RTT is the client's RTT to its PoP. On
 * Workers the PoP is `request.cf.colo`, placed by the bundled colo table; on Node it is the configured PoP
 * (TESSERA_EDGE_POP), else unknown. Unauthenticated, so it is rate-limited per client address.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { EdgePing, EdgeRtts, EdgeRttsQuery } from '../../protocol/edge.ts';
import { TesseraError } from '../../protocol/errors.ts';
import type { ApiContext } from '../api-context.ts';
import type { RateLimit, RateLimiter } from '../rate-limiter.ts';
import { coloLocation } from '../routing/edge-colos.ts';
import { edgeRttView } from '../routing/edge-rtts.ts';
import { errorResponses } from './error-responses.ts';
import { CLIENT_AUTH_ERRORS, clientSecurity, requireAdmin } from './client-auth.ts';
import { jsonResponse } from './route-shapes.ts';

/** An API's own PoP when it is not behind Cloudflare: a name, and where it is when known. */
export interface EdgePopConfig {
  pop: string;
  lat?: number;
  lon?: number;
}

/** Edge pings per client address: a client times a few, a node one per heartbeat or so. */
export const EDGE_PING_LIMIT: RateLimit = { requestsPerMinute: 120, burst: 30 };

/** The answer to an edge ping: the colo that took the request, else the configured PoP, else unknown. */
export function edgePingBody(raw: Request, configured: EdgePopConfig | undefined, now: number): EdgePing {
  const colo = (raw as Request & { cf?: { colo?: unknown } }).cf?.colo;
  if (typeof colo === 'string' && /^[A-Za-z0-9]{2,8}$/.test(colo)) {
    const at = coloLocation(colo);
    return { pop: colo.toUpperCase(), location: at ? { lat: at.lat, lon: at.lon } : null, source: 'cf', serverTime: now };
  }
  if (configured) {
    const at = configured.lat !== undefined && configured.lon !== undefined ? { lat: configured.lat, lon: configured.lon } : (coloLocation(configured.pop) ?? null);
    return { pop: configured.pop, location: at, source: 'config', serverTime: now };
  }
  return { pop: null, location: null, source: 'unknown', serverTime: now };
}

/** Who is pinging, for the rate limit: Cloudflare's connecting IP, else the first forwarded address, else one shared bucket. */
export function pingerKey(raw: Request): string {
  const h = raw.headers;
  const ip = h.get('cf-connecting-ip') ?? h.get('x-forwarded-for')?.split(',')[0]?.trim() ?? h.get('x-real-ip');
  return `edge-ping:${(ip ?? 'unknown').slice(0, 64)}`;
}

/**
 * The whole response to `GET /v1/edge/ping` (the Worker answers it before its app, and the Node API through
 * the route below): 200 with the PoP, or 429 with Retry-After past the limit.
 */
export function answerEdgePing(raw: Request, limiter: RateLimiter, configured: EdgePopConfig | undefined, now: number, limit: RateLimit = EDGE_PING_LIMIT): Response {
  const decision = limiter.take(pingerKey(raw), limit, now);
  const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (!decision.ok) {
    const err = new TesseraError('RATE_LIMITED', 'Too many edge pings from this address; retry later.');
    return new Response(JSON.stringify({ code: err.code, message: err.message }), { status: 429, headers: { ...headers, 'retry-after': String(Math.ceil(decision.retryAfterMs / 1000)) } });
  }
  return new Response(JSON.stringify(edgePingBody(raw, configured, now)), { status: 200, headers });
}

const ping = createRoute({
  method: 'get',
  path: '/v1/edge/ping',
  tags: ['edge'],
  summary: 'Which edge location answered (time it: the RTT to your PoP)',
  description:
    'Answered by the edge itself (no store, no key). Time a few of these and send the minimum with the PoP as ' +
    'client.edge (jobs) or edge (heartbeats), and as ?pop=&popRttMs= to GET /v1/nodes/nearby.',
  responses: {
    200: jsonResponse('The PoP, and where it is when known.', EdgePing),
    ...errorResponses('RATE_LIMITED'),
  },
});

const rtts = createRoute({
  method: 'get',
  path: '/v1/edge/rtts',
  tags: ['edge'],
  security: clientSecurity,
  summary: "A PoP's own RTTs to render nodes (admin)",
  description:
    'What the edge measured itself, timing nodes\' challenge pings from this PoP (request.cf.colo on Workers, the ' +
    'configured PoP on Node), or from ?pop=: nearest first. GET /v1/nodes/nearby uses them as bounds.',
  request: { query: EdgeRttsQuery },
  responses: {
    200: jsonResponse("The PoP's measured RTTs.", EdgeRtts),
    ...errorResponses('BAD_REQUEST', 'FORBIDDEN', ...CLIENT_AUTH_ERRORS),
  },
});

/** Register the edge ping route and the PoP's RTT row. */
export function registerEdgeRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  app.openapi(ping, (c) => answerEdgePing(c.req.raw, ctx.limiter, ctx.options.edgePop, ctx.clock.now()) as never);
  app.openapi(rtts, async (c) => {
    requireAdmin(c);
    const query = c.req.valid('query');
    const pop = query.pop?.toUpperCase() ?? ctx.edgeRtts.measuringPop(c.req.raw, ctx.options.edgePop?.pop) ?? null;
    const now = ctx.clock.now();
    const row = pop ? await ctx.edgeRtts.row(pop, now) : {};
    const view = edgeRttView(row, now, ctx.edgeRtts.options);
    const nodes = Object.keys(view)
      .map((nodeId) => ({ nodeId, rttMs: view[nodeId], measuredAt: row[nodeId].at }))
      .sort((a, b) => a.rttMs - b.rttMs);
    return c.json({ pop, nodes }, 200);
  });
}
