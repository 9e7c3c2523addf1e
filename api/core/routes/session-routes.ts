/**
 * Interactive sessions: `POST /v1/sessions` places a session on the capable node with the earliest expected
 * first frame (session-placement.ts) and answers with that node's WebSocket URL and a single-use ticket
 * only that node accepts; frames then flow between the client and the node, never through the API. The
 * node learns of the session from its lease long-poll (`kinds: ['session']`) and reports it in heartbeats.
 * `GET /v1/sessions/:id` shows state, node, route and live stats; `DELETE` closes it (the node is told at its
 * next heartbeat).
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { TesseraError } from '../../protocol/errors.ts';
import { SessionSampleRequest, SessionSampleView } from '../../protocol/session-sample.ts';
import { advanceSample, advanceSamples, sampleView, submitSample } from '../session-verification.ts';
import { EMPTY_SESSION_STATS, SessionCreated, SessionRequest, SessionView, type SessionRender } from '../../protocol/session.ts';
import type { CameraSpec } from '../../protocol/render-spec.ts';
import type { ApiContext } from '../api-context.ts';
import { clientEdge } from './client-edge.ts';
import { mayAccess } from '../client-keys.ts';
import { randomId } from '../crypto-utils.ts';
import { noWebgl2SessionNodeReason } from '../no-webgl2-session-node.ts';
import { TASKS_TOPIC } from '../notifier.ts';
import { sceneHolders } from '../scene-holders.ts';
import { sceneRequirements } from '../plan-job.ts';
import { placeSession } from '../session-placement.ts';
import { VR_SAMPLE_PAGE } from '../sample/vr-page.ts';
import type { SessionRecord, SessionStore } from '../session-store.ts';
import type { SessionChange } from '../session-state.ts';
import { errorResponses } from './error-responses.ts';
import { jsonBody, jsonResponse } from './route-shapes.ts';
import { CLIENT_AUTH_ERRORS, clientSecurity, principalOf } from './client-auth.ts';
import { requireScene } from './job-routes.ts';
import type { Principal } from '../client-keys.ts';

const SessionParams = z.object({ id: z.string().min(1).max(128) });
const SampleParams = z.object({ id: z.string().min(1).max(128), sampleId: z.string().min(1).max(128) });

const postSample = createRoute({
  method: 'post',
  path: '/v1/sessions/{id}/samples',
  tags: ['sessions'],
  security: clientSecurity,
  summary: 'Report a received frame for verification',
  description:
    'A frame as the node sent it (its header\'s seq, eyes, size, format and mac, and the image bytes in base64). The API checks ' +
    'the node\'s signature, then has other nodes render the same pose and compares (session-verification.ts). Poll the ' +
    'sample with GET for the verdict.',
  request: { params: SessionParams, body: jsonBody(SessionSampleRequest) },
  responses: {
    201: jsonResponse('Accepted: its check is under way.', SessionSampleView),
    ...errorResponses('BAD_REQUEST', ...CLIENT_AUTH_ERRORS, 'SESSION_NOT_FOUND', 'SAMPLE_UNSIGNED', 'SAMPLE_UNVERIFIABLE', 'QUOTA_EXCEEDED', 'PAYLOAD_TOO_LARGE', 'UNAVAILABLE'),
  },
});

const getSample = createRoute({
  method: 'get',
  path: '/v1/sessions/{id}/samples/{sampleId}',
  tags: ['sessions'],
  security: clientSecurity,
  summary: 'A reported frame\'s verification: checking, second-opinion, agreed, disproven or inconclusive',
  request: { params: SampleParams },
  responses: {
    200: jsonResponse('The sample.', SessionSampleView),
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'SESSION_NOT_FOUND', 'NOT_FOUND'),
  },
});

const create = createRoute({
  method: 'post',
  path: '/v1/sessions',
  tags: ['sessions'],
  security: clientSecurity,
  summary: 'Open an interactive (VR) session on the nearest capable node',
  description:
    'Places the session on the node with the earliest expected first frame (client RTT + scene load + render) and ' +
    'answers with a WebSocket URL on that node and a single-use ticket: connect, send {"type":"hello","ticket":…}, ' +
    'then stream poses; each frame comes back as one binary message.',
  request: { body: jsonBody(SessionRequest) },
  responses: {
    201: jsonResponse('Placed.', SessionCreated),
    ...errorResponses('BAD_REQUEST', ...CLIENT_AUTH_ERRORS, 'SCENE_UNKNOWN', 'SCENE_UNSUPPORTED', 'QUOTA_EXCEEDED', 'NO_CAPABLE_NODE', 'UNAVAILABLE'),
  },
});

const get = createRoute({
  method: 'get',
  path: '/v1/sessions/{id}',
  tags: ['sessions'],
  security: clientSecurity,
  summary: 'A session: state, node, route, live stats',
  request: { params: SessionParams },
  responses: {
    200: jsonResponse('The session.', SessionView),
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'SESSION_NOT_FOUND'),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/v1/sessions/{id}',
  tags: ['sessions'],
  security: clientSecurity,
  summary: 'Close a session',
  request: { params: SessionParams },
  responses: {
    200: jsonResponse('Closed (or already closed).', SessionView),
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'SESSION_NOT_FOUND'),
  },
});

/** The session store, or a clear 503 when this API runs without one. */
export function sessionStore(ctx: ApiContext): SessionStore {
  if (!ctx.sessions) throw new TesseraError('UNAVAILABLE', 'This API serves no interactive sessions (no session store configured).');
  return ctx.sessions;
}

/** Log session status changes, the one place they are logged. */
export function loggedSessions(ctx: ApiContext, changes: SessionChange[]): void {
  for (const ch of changes) ctx.logger.info({ entity: ch.entity, id: ch.id, from: ch.from, to: ch.to, reason: ch.reason }, `session ${ch.id}: ${ch.from} → ${ch.to}`);
}

/** How long a silent node keeps its sessions (and counts as still there for placement's answers): a few health windows. */
function sessionGraceMs(ctx: ApiContext): number {
  return Math.max(3 * ctx.nodes.healthWindowMs, 15_000);
}

/**
 * Close sessions whose node went silent (for longer than a few health windows: a session is a person
 * waiting, so a slow heartbeat must not cut it; the SDK re-opens on its own when the socket drops) or whose
 * client never came.
 */
export async function sweepSessions(ctx: ApiContext, now = ctx.clock.now()): Promise<void> {
  if (!ctx.sessions) return;
  await advanceSamples(ctx);
  const live = await ctx.jobs.listNodes({ seenSince: now - sessionGraceMs(ctx) });
  loggedSessions(ctx, await ctx.sessions.expireSessions({ now, liveNodes: live.filter((n) => !n.reputation?.blocklisted).map((n) => n.nodeId) }));
}

function toView(s: SessionRecord): SessionView {
  return {
    sessionId: s.sessionId,
    sceneId: s.sceneId,
    state: s.state,
    nodeId: s.nodeId,
    url: s.url,
    eye: s.render.eye,
    format: s.render.format,
    fidelity: s.render.fidelity ?? 'full',
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    closedAt: s.closedAt,
    closeReason: s.closeReason,
    stats: s.stats,
    route: s.route,
  };
}

async function requireSession(ctx: ApiContext, id: string, principal: Principal): Promise<SessionRecord> {
  const s = await sessionStore(ctx).getSession(id);
  if (!s || !mayAccess(principal, s.owner)) throw new TesseraError('SESSION_NOT_FOUND', `No session with id ${id} for API key "${principal.name}".`);
  return s;
}

function cameraOf(camera: SessionRequest['camera']): CameraSpec {
  if (camera === undefined || camera === 'auto') return { kind: 'auto', yaw: 30, pitch: 15, fov: 40 };
  return typeof camera === 'string' ? { kind: 'gltf', name: camera } : camera;
}

/** The node's session WebSocket URL for one session. */
export function sessionUrlFor(base: string, sessionId: string): string {
  return `${base.replace(/\/+$/, '')}/v1/sessions/${encodeURIComponent(sessionId)}`;
}

/** Register the session routes. */
export function registerSessionRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  const opts = ctx.options.sessions;

  // The sample WebXR page (no key needed to load it; it asks for ?key= and ?scene=).
  app.get('/sample/vr', (c) => c.html(VR_SAMPLE_PAGE));

  app.openapi(create, async (c) => {
    const store = sessionStore(ctx);
    const req = c.req.valid('json');
    const principal = principalOf(c);
    const scene = await requireScene(ctx, req.sceneId, principal);
    const now = ctx.clock.now();
    await sweepSessions(ctx, now);
    const open = await store.countOpenSessions(principal.keyId);
    if (open >= principal.limits.maxOpenSessions) {
      throw new TesseraError('QUOTA_EXCEEDED', `API key "${principal.name}" has ${open} sessions open, its limit; close one first.`, { retryAfterSeconds: 10 });
    }
    const { record: client } = await ctx.network.locateClient(req.client, now);
    // Its PoP's own RTTs to nodes bound its RTT to the nodes it did not ping (client-edge.ts), as for jobs.
    const edge = await clientEdge(ctx, c.req.raw, req.client?.edge, now);
    const [live, openSessions, servedSessions, leasedTasks] = await Promise.all([ctx.nodes.liveNodes(now), store.countNodeSessions(), store.nodesWithScene(scene.sceneId), ctx.jobs.nodesGivenScene(scene.sceneId)]);
    // A session's proven RTTs teach its PoP as a job's do.
    await ctx.pops.teach(c.req.raw, req.client?.edge?.pop, client?.rttMs, async () => live.map((n) => n.record.nodeId), now);
    // As for jobs: a scene flagged at upload as needing WebGL 2 requires it (the session then goes only to a node
    // whose sessions render on a WebGL 2 backend: its card lists the `webgl2` session feature).
    const requirements = sceneRequirements(req.requirements, scene.info) ?? undefined;
    const placement = placeSession(
      live,
      {
        client: { measuredRttMs: client?.rttMs ?? {}, coord: client?.coordinate ?? undefined, location: client?.location ?? undefined, edge },
        requirements,
        webgl2Extensions: scene.info.webgl2 ?? [],
        eye: req.eye,
        depth: req.depth,
        fast: req.fidelity === 'fast',
        sceneBytes: scene.bytes,
        openSessions,
        // Nodes whose heartbeats report the scene cached, where this API handed it to them (scene-holders.ts).
        cachedOn: sceneHolders(live, scene.sceneId, { leasedTasks, servedSessions }),
        exclude: req.excludeNodes,
      },
      ctx.rng,
      opts.placement,
      ctx.options.routing.route,
    );
    if (!placement.ok) {
      // No node with WebGL 2 sessions at all (not busy, full or briefly silent: none seen within the sessions' grace),
      // so retrying cannot help: 422, as clear as a batch job's "waiting for a node with WebGL 2".
      if (requirements?.webgl2) {
        const registered = (await ctx.jobs.listNodes({ seenSince: now - sessionGraceMs(ctx) })).filter((n) => !n.reputation?.blocklisted);
        const never = noWebgl2SessionNodeReason(registered, scene.info.webgl2);
        if (never) throw new TesseraError('NO_CAPABLE_NODE', `${never}.`);
      }
      throw new TesseraError('UNAVAILABLE', `${placement.reason}; retry shortly.`, { retryAfterSeconds: 2 });
    }
    const { route } = placement;
    const node = live.find((n) => n.record.nodeId === route.nodeId)!.record;
    const sessionId = randomId('ses');
    const expiresAt = now + opts.ticketSeconds * 1000;
    const render: SessionRender = {
      eye: req.eye,
      format: req.format,
      quality: req.quality,
      depth: req.depth,
      shadows: req.shadows,
      // Absent for full: nodes that predate `fidelity` refuse a lease with a field they do not know.
      ...(req.fidelity === 'fast' ? { fidelity: 'fast' as const } : {}),
      maxFps: req.maxFps,
      scene: req.scene,
      clip: req.clip,
      toneMapping: req.toneMapping,
      exposure: req.exposure,
      background: req.background,
      environmentIntensity: req.environmentIntensity,
      keyLight: req.keyLight,
      camera: cameraOf(req.camera),
    };
    const url = sessionUrlFor(node.card.sessionUrl!, sessionId);
    await store.createSession({
      sessionId,
      sceneId: scene.sceneId,
      owner: principal.keyId,
      nodeId: route.nodeId,
      state: 'placed',
      render,
      route,
      url,
      leaseId: null,
      connectBy: expiresAt,
      createdAt: now,
      updatedAt: now,
      closedAt: null,
      closeReason: null,
      stats: EMPTY_SESSION_STATS,
    });
    const ticket = await ctx.tickets.mint(sessionId, route.nodeId, expiresAt);
    ctx.logger.info({ sessionId, sceneId: scene.sceneId, nodeId: route.nodeId, eye: req.eye, clientRtts: client?.rttMs, reason: route.reason }, 'session placed');
    // Wake the node's session long-poll.
    ctx.notifier.notify(TASKS_TOPIC);
    return c.json({ sessionId, nodeId: route.nodeId, url, ticket, expiresAt, route }, 201);
  });

  app.openapi(get, async (c) => {
    await sweepSessions(ctx);
    const s = await requireSession(ctx, c.req.valid('param').id, principalOf(c));
    return c.json(toView(s), 200);
  });

  app.openapi(postSample, async (c) => {
    const s = await requireSession(ctx, c.req.valid('param').id, principalOf(c));
    const sample = await submitSample(ctx, s, c.req.valid('json'));
    return c.json(sampleView(sample), 201);
  });

  app.openapi(getSample, async (c) => {
    const { id, sampleId } = c.req.valid('param');
    const s = await requireSession(ctx, id, principalOf(c));
    const sample = await sessionStore(ctx).getSample(sampleId);
    if (!sample || sample.sessionId !== s.sessionId) throw new TesseraError('NOT_FOUND', `Session ${s.sessionId} has no sample ${sampleId}.`);
    return c.json(sampleView(await advanceSample(ctx, sample)), 200);
  });

  app.openapi(remove, async (c) => {
    const s = await requireSession(ctx, c.req.valid('param').id, principalOf(c));
    const closed = await sessionStore(ctx).closeSession({ sessionId: s.sessionId, reason: 'closed by the client (DELETE)', now: ctx.clock.now() });
    loggedSessions(ctx, closed?.changes ?? []);
    return c.json(toView(closed?.session ?? s), 200);
  });
}
