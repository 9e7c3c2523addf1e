/**
 * Render nodes: register (get a token), heartbeat (load and RTT measurements; extends leases; learns of
 * revoked ones, its coordinate and peers to ping) and lease (long-poll for tasks, several per call up to its
 * free slots). A lease call sweeps expired leases and routes ready tasks first, so a farm needs no separate timer. Clients search the nodes
 * (`GET /v1/nodes`) and ask which to ping before submitting a job (`GET /v1/nodes/nearby`).
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import { NodeCard } from '../../protocol/node-card.ts';
import { NodeLedger } from '../../protocol/metering.ts';
import { toNodeLedger } from '../ledger-view.ts';
import { creditStanding } from '../node-trust.ts';
import { NearbyNodes, NearbyQuery, NodeList, NodeSearch, type GeoPoint } from '../../protocol/latency.ts';
import { Heartbeat, HeartbeatAck, LeaseBatch, LeaseRequest, NodeRegistered } from '../../protocol/node-messages.ts';
import { LeasedTask, NODE_PROTOCOL_MIN } from '../../protocol/task.ts';
import { TesseraError } from '../../protocol/errors.ts';
import { LeasedSession } from '../../protocol/session.ts';
import { sceneKey } from '../object-keys.ts';
import type { SessionRecord } from '../session-store.ts';
import type { BlobStore } from '../blob-store.ts';
import { loggedSessions } from './session-routes.ts';
import type { ApiContext } from '../api-context.ts';
import { randomId, randomToken, sha256Hex } from '../crypto-utils.ts';
import { leaseTasks, leaseWith } from '../lease-tasks.ts';
import type { OpenPoll } from '../node-polls.ts';
import { TASKS_TOPIC } from '../notifier.ts';
import { heartbeatIntervalMs } from '../task-policy.ts';
import { errorResponses } from './error-responses.ts';
import { CLIENT_AUTH_ERRORS, clientSecurity } from './client-auth.ts';
import { clientEdge } from './client-edge.ts';
import { edgeLocation } from './edge-location.ts';
import { authenticateNode, bearerHash, blocklisted, NODE_AUTH } from './node-auth.ts';
import { admitRegistration, chargeNodeCall, clientAddress, nodeCallAllowed } from './node-admission.ts';
import { nodeOrigin } from '../node-origin.ts';
import { jsonBody, optionalJsonBody, jsonResponse } from './route-shapes.ts';
import { epochMs, stampLeased } from '../timeline.ts';

/** How long after registering a node's heartbeats have this PoP time its probe (see the heartbeat route). */
const NEW_NODE_METER_MS = 5 * 60_000;

/** Run `work` after the response: waitUntil on Workers, a detached promise on Node; failures are logged. */
function inBackground(c: Context, work: Promise<unknown>, ctx: ApiContext): void {
  const logged = work.catch((err: unknown) => ctx.logger.warn({ err: (err as Error)?.message }, 'background work failed'));
  let execution: { waitUntil(p: Promise<unknown>): void } | undefined;
  try {
    execution = c.executionCtx;
  } catch {
    execution = undefined; // Node: no execution context
  }
  execution?.waitUntil(logged);
}

const NodeParams = z.object({ id: z.string().min(1).max(128) });
const security = [{ [NODE_AUTH]: [] }];

const register = createRoute({
  method: 'post',
  path: '/v1/nodes',
  tags: ['nodes'],
  summary: 'Register a render node',
  description:
    'Open unless the operator requires join tokens: then send one (a `node` key, `tessera keys create --role node`) as ' +
    '`Authorization: Bearer <token>`. Registrations are rate limited per address and per join token.',
  request: { body: jsonBody(NodeCard) },
  responses: {
    201: jsonResponse('Registered; keep the token.', NodeRegistered),
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'),
  },
});

const heartbeat = createRoute({
  method: 'post',
  path: '/v1/nodes/{id}/heartbeat',
  tags: ['nodes'],
  summary: 'Report load and extend leases',
  security,
  request: { params: NodeParams, body: jsonBody(Heartbeat) },
  responses: {
    200: jsonResponse('Acknowledged, with the leases to stop working on.', HeartbeatAck),
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'NODE_NOT_FOUND'),
  },
});

const lease = createRoute({
  method: 'post',
  path: '/v1/nodes/{id}/lease',
  tags: ['nodes'],
  summary: 'Wait for a task (long-poll)',
  security,
  request: { params: NodeParams, body: optionalJsonBody(LeaseRequest) },
  responses: {
    200: jsonResponse('A task (a batch of them when asked for with max, or a session when asked for with kinds), with the presigned URLs each needs.', z.union([LeasedTask, LeaseBatch, LeasedSession])),
    204: { description: 'No task came within waitSeconds.' },
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'NODE_BLOCKLISTED', 'NODE_NOT_FOUND', 'NODE_OUTDATED', 'STORAGE_FAILED'),
  },
});

const ownLedger = createRoute({
  method: 'get',
  path: '/v1/nodes/{id}/ledger',
  tags: ['nodes', 'metering'],
  summary: "The node's own credited work (what it earned), with its node token",
  security,
  request: { params: NodeParams },
  responses: {
    200: jsonResponse('Credited totals of this node (an empty list before its first accepted result).', NodeLedger),
    ...errorResponses('UNAUTHORIZED', 'NODE_NOT_FOUND'),
  },
});

const listNodes = createRoute({
  method: 'get',
  path: '/v1/nodes',
  tags: ['nodes'],
  security: clientSecurity,
  summary: 'Search render nodes by card fields and health',
  description: 'Each node with its card, load, filtered RTT to the API, network coordinate and when it was last heard from.',
  request: { query: NodeSearch },
  responses: {
    200: jsonResponse('The matching nodes, in registration order.', NodeList),
    ...errorResponses('BAD_REQUEST', ...CLIENT_AUTH_ERRORS),
  },
});

const nearby = createRoute({
  method: 'get',
  path: '/v1/nodes/nearby',
  tags: ['nodes'],
  security: clientSecurity,
  summary: 'Nodes a client should ping before submitting a job',
  description:
    'Healthy nodes with a probe URL, best first: first the node earlier clients of the same PoP found best (the ' +
    'edge\'s colo on Workers, else ?pop=), then nearest to the client when its location is known (Cloudflare\'s ' +
    'request.cf, else ?lat=&lon=), bounded by the client\'s PoP (?pop=&popRttMs= from GET /v1/edge/ping): the PoP\'s ' +
    'own timed RTTs to nodes (GET /v1/edge/rtts), else nodes\' RTTs to the same PoP; ' +
    'else landmarks learned from the nodes\' measured RTTs. Sequential probing: ask for one, ping it, ask again ' +
    'with ?rtts=nodeId:ms,... (and ?exclude= for nodes that did not answer): each answer is chosen knowing those ' +
    'RTTs (profile matching against the nodes\' measured matrix). Ping each GET probeUrl a few times, ' +
    'keep the minimum, and send the results as client.rtts with the job.',
  request: { query: NearbyQuery },
  responses: {
    200: jsonResponse('Candidates to ping.', NearbyNodes),
    ...errorResponses('BAD_REQUEST', ...CLIENT_AUTH_ERRORS),
  },
});

/** The client's location from Cloudflare's request.cf (Workers), else from ?lat=&lon=. */
function clientLocation(raw: Request, query: NearbyQuery): (GeoPoint & { source: 'cf' | 'query' }) | null {
  const edge = edgeLocation(raw);
  if (edge) return { lat: edge.lat, lon: edge.lon, source: 'cf' };
  if (query.lat !== undefined && query.lon !== undefined) return { lat: query.lat, lon: query.lon, source: 'query' };
  return null;
}

/** Register the node routes. */
export function registerNodeRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  const { policy } = ctx.options;

  app.openapi(register, async (c) => {
    const joinedWith = await admitRegistration(c, ctx);
    const card = c.req.valid('json');
    // The name in the id makes logs and job statuses readable; the random part keeps it unique.
    const slug = card.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 32);
    const nodeId = randomId(slug ? `node_${slug}` : 'node');
    // The secret its GET /ping answers challenges with: the API checks RTTs clients and peers report against it.
    const probeKey = randomToken();
    const now = ctx.clock.now();
    // Signed: any API process checks it without the store (node-credentials.ts); the store keeps its hash.
    const nodeToken = await ctx.credentials.issue(nodeId, now);
    // Where it came from (its address's network, its join token): references sharing either are one voice in a session vote.
    const origin = nodeOrigin(clientAddress(c), joinedWith?.keyId ?? null);
    await ctx.jobs.registerNode({ nodeId, tokenHash: await sha256Hex(nodeToken), card, registeredAt: now, lastSeenAt: now, load: 0, probeKey, origin });
    ctx.logger.info({ nodeId, name: card.name, region: card.region, probeUrl: card.probeUrl, joinToken: joinedWith?.keyId }, 'node registered');
    // A new node is new capacity: routing may place waiting tasks on it.
    ctx.nodes.invalidate();
    ctx.router.invalidate();
    ctx.notifier.notify(TASKS_TOPIC);
    const ticketSecret = await ctx.tickets.nodeSecretText(nodeId);
    return c.json({ nodeId, nodeToken, heartbeatIntervalMs: heartbeatIntervalMs(policy), leaseMs: policy.leaseMs, probeKey, ticketSecret }, 201);
  });

  app.openapi(heartbeat, async (c) => {
    const receivedAt = ctx.clock.now();
    const { id } = c.req.valid('param');
    const tokenHash = await bearerHash(c, ctx);
    // Over its rate limit: the plain check answers (429 for the token's owner, else 401/404), recording nothing first.
    if (!nodeCallAllowed(ctx, id)) await authenticateNode(c, ctx, id);
    const body = c.req.valid('json');
    // Authentication and the heartbeat (load, leases extended) in one store step.
    const beat = await ctx.jobs.authenticateAndHeartbeat({ credentials: { nodeId: id, tokenHash }, leaseIds: body.leaseIds, load: body.load, now: receivedAt, policy });
    chargeNodeCall(ctx, id);
    const { node } = beat;
    // A blocklisted node is no capacity and no witness: its heartbeats (load, peer RTTs) are refused (nothing was recorded).
    if (beat.revoked === null) throw blocklisted(node);
    const revoked = beat.revoked;
    if (revoked.length) ctx.logger.info({ nodeId: id, revoked }, 'leases revoked');
    // A new identity's probe is timed by this PoP (the edge's colo, or the Node API's configured PoP) in its first
    // minutes, from its first heartbeat on (it holds its probe key by then): a forged probe is proven before the
    // node has earned much, whether or not a client asks about nearby nodes meanwhile. Only this node, once per
    // refresh (the meter's row says when it is due).
    const measuring = ctx.edgeRtts.measuringPop(c.req.raw, ctx.options.edgePop?.pop);
    if (measuring && receivedAt - node.registeredAt < NEW_NODE_METER_MS) inBackground(c, ctx.edgeRtts.measure(measuring, [node], receivedAt, [id]), ctx);
    let revokedSessions: string[] = [];
    if (body.sessions?.length && ctx.sessions) {
      const reported = await ctx.sessions.reportSessions({ nodeId: id, reports: body.sessions, now: receivedAt });
      loggedSessions(ctx, reported.changes);
      revokedSessions = reported.revoked;
      if (revokedSessions.length) ctx.logger.info({ nodeId: id, sessions: revokedSessions }, 'sessions revoked');
    }
    if (!ctx.nodes.isHealthy(node, receivedAt)) {
      // Back after a silence: it counts as capacity again.
      ctx.logger.info({ nodeId: id, silentMs: receivedAt - node.lastSeenAt }, 'node healthy again');
      ctx.nodes.invalidate();
      ctx.router.invalidate();
      ctx.notifier.notify(TASKS_TOPIC);
    }
    // The leases are extended; a failure recording measurements must not turn that into an error.
    const net = await ctx.network.recordHeartbeat(node, body, receivedAt).catch((err: unknown) => {
      ctx.logger.warn({ nodeId: id, err: (err as Error)?.message ?? String(err) }, 'could not record network measurements');
      return { coordinate: undefined, rttToApiMs: undefined, probePeers: [] };
    });
    // Stamped last: the node's next heartbeat echoes it, and the API times ack → heartbeat from here.
    const serverTime = ctx.clock.now();
    ctx.network.stampAck(id, serverTime);
    return c.json({ revoked, revokedSessions, coordinate: net.coordinate, rttToApiMs: net.rttToApiMs, probePeers: net.probePeers, serverTime }, 200);
  });

  app.openapi(lease, async (c) => {
    const { id } = c.req.valid('param');
    // The body is optional: an empty one waits the default time.
    const { waitSeconds, kinds, max, ahead, protocol } = LeaseRequest.parse((c.req.valid('json') as unknown) ?? {});
    // A node from before report-then-upload would look for an upload URL its lease no longer carries. Its
    // credentials are checked first (401/404/429/403 as for any node call); only such nodes pay that extra look.
    if (kinds.includes('task') && protocol < NODE_PROTOCOL_MIN) {
      const node = await authenticateNode(c, ctx, id);
      if (node.reputation?.blocklisted) throw blocklisted(node);
      throw new TesseraError(
        'NODE_OUTDATED',
        `This API hands out tasks to nodes of protocol ${NODE_PROTOCOL_MIN} or later (outputs reported by size and sha256, then uploaded through a URL signed for exactly those bytes); this node speaks protocol ${protocol}. Upgrade tessera on the node.`,
      );
    }
    /** The lease long-poll of a node that may take sessions: sessions first, then tasks, each its own store call. */
    const leaseWithSessions = async () => {
      const node = await authenticateNode(c, ctx, id);
      if (node.reputation?.blocklisted) throw blocklisted(node);
      if (!ctx.nodes.isAskingForWork(node, { running: 0 }, ctx.clock.now())) {
        // It starts (or resumes) asking for work: record that first, so this call's routing pass counts it.
        await ctx.jobs.recordLeaseCall(id, ctx.clock.now());
        ctx.nodes.invalidate();
        ctx.router.invalidate();
      }
      const wantsTasks = kinds.includes('task');
      const wantsSessions = (node.card.sessionSlots ?? 0) > 0;
      const deadline = ctx.clock.now() + waitSeconds * 1000;
      // At most one open long-poll per slot: a further one ends the oldest (a node cannot pin the API's connections).
      // A poll for sessions only counts apart, against one slot of its own: a node long-polls for tasks and for
      // sessions at once, and counted together the two would end each other at once, over and over.
      const poll = wantsTasks ? ctx.polls.open(id, node.card.concurrency + (wantsSessions ? 1 : 0)) : ctx.polls.open(`${id} sessions`, 1);
      if (poll.displacedOthers) ctx.notifier.notify(TASKS_TOPIC);
      const signals = [c.req.raw.signal, ctx.options.shutdown].filter((s): s is AbortSignal => s !== undefined);
      const signal = AbortSignal.any(signals);
      try {
        for (;;) {
          if (signal.aborted || poll.displaced) return c.body(null, 204);
          const now = ctx.clock.now();
          if (wantsSessions) {
            const session = await ctx.sessions!.leaseSession({ nodeId: id, leaseId: randomId('slease'), now });
            if (session) {
              loggedSessions(ctx, session.changes);
              return c.json(await presignLeasedSession(session.session, ctx.blobs, ctx.options.nodeUrlSeconds), 200);
            }
          }
          // Without `max` (older nodes) one task, answered bare; with it a batch.
          const { tasks, wakeAt } = wantsTasks ? await leaseTasks(ctx, node, { max: max ?? 1, ahead: max === undefined ? 0 : ahead }) : { tasks: [], wakeAt: null };
          if (tasks.length > 0) return max === undefined ? c.json(tasks[0], 200) : c.json({ tasks }, 200);
          const checkedAt = ctx.clock.now();
          if (deadline - checkedAt <= 0) return c.body(null, 204);
          const woken = await waitForTasks(deadline, checkedAt, wakeAt, signal);
          // The wait ran out with the long-poll and nothing woke it: nothing changed, so no last look at the store.
          if (!woken && (wakeAt === null || wakeAt - checkedAt >= deadline - checkedAt) && ctx.clock.now() >= deadline) return c.body(null, 204);
        }
      } finally {
        poll.close();
      }
    };
    // A node that may lease sessions takes the general path (sessions first, then tasks, each its own call).
    if (kinds.includes('session') && ctx.sessions !== undefined) return leaseWithSessions();
    const tokenHash = await bearerHash(c, ctx);
    // Over its rate limit: the plain check answers (429 for the token's owner, else 401/404), taking nothing first.
    if (!nodeCallAllowed(ctx, id)) await authenticateNode(c, ctx, id);
    const wanted = { max: max ?? 1, ahead: max === undefined ? 0 : ahead };
    const deadline = ctx.clock.now() + waitSeconds * 1000;
    const signals = [c.req.raw.signal, ctx.options.shutdown].filter((s): s is AbortSignal => s !== undefined);
    const signal = AbortSignal.any(signals);
    let poll: OpenPoll | undefined;
    /** When a wake-up last ended this poll's wait (for the timeline). */
    let wokenAt: number | undefined;
    try {
      for (let first = true; ; first = false) {
        if (signal.aborted || poll?.displaced) return c.body(null, 204);
        const now = ctx.clock.now();
        // Authentication, the expiry sweep and the lease in one store step; with nothing to lease in an idle farm, a
        // store that hears wake-ups (the coordinator object) holds the call until one comes: one request per poll.
        const waitMs = Math.max(0, Math.min(deadline - now, ctx.options.leaseRecheckMs ?? ctx.options.recheckMs));
        const seen: { resumed: boolean; waited?: { woken: boolean; displaced?: boolean } } = { resumed: false };
        const got = await leaseWith(ctx, wanted, async (input) => {
          // A node that resumes asking for work is only recorded while routed jobs wait: routing counts it, then it leases.
          const out = await ctx.jobs.authenticateAndLease({ ...input, credentials: { nodeId: id, tokenHash }, max: wanted.max, waitMs, resumeBefore: now - ctx.nodes.healthWindowMs });
          ctx.verifier.noteRunnableJobs(out.runnableJobs);
          seen.resumed = out.resumed === true || !ctx.nodes.isAskingForWork(out.node, { running: 0 }, now);
          seen.waited = out.waited;
          return { node: out.node, lease: out.lease, resumed: seen.resumed };
        });
        if (first) {
          chargeNodeCall(ctx, id);
          if (!got.lease) throw blocklisted(got.node);
          // At most one open long-poll per slot: a further one ends the oldest (a node cannot pin the API's connections).
          poll = ctx.polls.open(id, got.node.card.concurrency);
          // The displaced poll is waiting on the tasks topic: wake it so it sees its flag and answers now.
          if (poll.displacedOthers) ctx.notifier.notify(TASKS_TOPIC);
        }
        if (!got.lease) return c.body(null, 204);
        if (seen.resumed) {
          // It starts (or resumes) asking for work: it counts as capacity again.
          ctx.nodes.invalidate();
          ctx.router.invalidate();
        }
        if (got.tasks.length > 0) {
          stampLeased(ctx, got.tasks, wokenAt);
          return max === undefined ? c.json(got.tasks[0], 200) : c.json({ tasks: got.tasks }, 200);
        }
        const checkedAt = ctx.clock.now();
        if (deadline - checkedAt <= 0) return c.body(null, 204);
        // The store waited already: a wake-up or its deadline means another look; else the time is up.
        if (seen.waited) {
          // A newer poll of this node displaced this one where it waited (the coordinator counts polls across Workers).
          if (seen.waited.displaced) return c.body(null, 204);
          if (!seen.waited.woken && ctx.clock.now() >= deadline) return c.body(null, 204);
          continue;
        }
        const woken = await waitForTasks(deadline, checkedAt, got.wakeAt, signal);
        wokenAt = woken ? epochMs() : undefined;
        if (!woken && (got.wakeAt === null || got.wakeAt - checkedAt >= deadline - checkedAt) && ctx.clock.now() >= deadline) return c.body(null, 204);
      }
    } finally {
      poll?.close();
    }
  });

  /**
   * Wait in this process until tasks may have become available, the store's next deadline (a backoff or grace period
   * ending, a lease running out) or the long-poll's end; the re-check timer catches wake-ups that cannot reach it.
   */
  const waitForTasks = (deadline: number, checkedAt: number, wakeAt: number | null, signal: AbortSignal): Promise<boolean> => {
    const untilDeadline = wakeAt === null ? Infinity : Math.max(0, wakeAt - checkedAt);
    return ctx.notifier.wait(TASKS_TOPIC, Math.min(deadline - checkedAt, untilDeadline, ctx.options.leaseRecheckMs ?? ctx.options.recheckMs), signal);
  };

  app.openapi(ownLedger, async (c) => {
    const { id } = c.req.valid('param');
    const node = await authenticateNode(c, ctx, id);
    const standing = creditStanding(node, ctx.options.verification.sampleRate > 0, ctx.options.trust);
    return c.json(toNodeLedger(await ctx.jobs.listLedger({ nodeId: node.nodeId }), () => standing), 200);
  });

  app.openapi(listNodes, async (c) => c.json({ nodes: await ctx.nodes.search(c.req.valid('query')) }, 200));

  app.openapi(nearby, async (c) => {
    const query = c.req.valid('query');
    // What earlier clients of the same PoP found best is pinged first.
    const now = ctx.clock.now();
    const asking = ctx.pops.askingPop(c.req.raw, query.pop);
    const learned = await ctx.pops.suggest(asking, now);
    // The client's PoP and its RTT to it, with the PoP's own RTTs to nodes (client → PoP + PoP → node: a
    // bound on the client's RTT to each). The row of the PoP that took the request (or that the client names,
    // on Node): a client naming another PoP only misleads itself.
    const edge = query.pop !== undefined && query.popRttMs !== undefined ? await clientEdge(ctx, c.req.raw, { pop: query.pop, rttMs: query.popRttMs }, now) : undefined;
    const answer = await ctx.nodes.nearby(clientLocation(c.req.raw, query), query.count, now, edge, learned, query.rtts, query.exclude);
    // This PoP (the edge's colo, or the Node API's configured PoP) times a few more nodes, after the answer.
    const measuring = ctx.edgeRtts.measuringPop(c.req.raw, ctx.options.edgePop?.pop);
    if (measuring) {
      // The nodes the client was just told to ping first, then those that claim this PoP (their claims are checked).
      const work = ctx.nodes.healthyNodes(now).then((nodes) => {
        const claiming = nodes.filter((n) => n.edge?.pop.toUpperCase() === measuring).map((n) => n.nodeId);
        return ctx.edgeRtts.measure(measuring, nodes, now, [...answer.candidates.map((x) => x.nodeId), ...claiming]);
      });
      inBackground(c, work, ctx);
    }
    return c.json(answer, 200);
  });
}

/** A session lease as the node gets it: the render settings and a presigned GET of the scene, nothing else. */
async function presignLeasedSession(s: SessionRecord, blobs: BlobStore, urlSeconds: number): Promise<LeasedSession> {
  return {
    kind: 'session',
    sessionId: s.sessionId,
    leaseId: s.leaseId!,
    scene: { id: s.sceneId, url: await blobs.presignGet(sceneKey(s.sceneId), urlSeconds) },
    render: s.render,
    connectBy: s.connectBy,
  };
}
