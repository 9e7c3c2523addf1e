/**
 * createApi: the edge API as a runtime-free Hono app. The Node adapter serves it with @hono/node-server;
 * a Workers adapter can export it as is. Everything outside (job store, blob store, scene inspector, clock,
 * logger) comes in through `deps`, so no runtime-specific module is imported here.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { createInspectionSlots } from './inspection-slots.ts';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { MAX_SAMPLE_IMAGE_BYTES } from '../protocol/session-sample.ts';
import { base64Length } from '../protocol/task.ts';
import { cors } from 'hono/cors';
import { TesseraError } from '../protocol/errors.ts';
import { RecentFrames } from './recent-frames.ts';
import { createApiContext } from './api-context.ts';
import { resolveApiOptions, type ApiDeps, type ApiOptions, type ResolvedApiOptions } from './api-options.ts';
import { ClientKeys } from './client-keys.ts';
import { systemClock } from './clock.ts';
import { createErrorHandler, notFound, validationError } from './error-handler.ts';
import { silentLogger } from './logger.ts';
import { NodeDirectory } from './node-directory.ts';
import { NodePolls } from './node-polls.ts';
import { NodeNetwork } from './node-network.ts';
import { PopLearner } from './pop-learner.ts';
import { convictNode } from './convict-node.ts';
import { EdgeRttMeter } from './edge-rtt-meter.ts';
import { createNotifier } from './notifier.ts';
import { RateLimiter } from './rate-limiter.ts';
import { StreamSlots } from './stream-slots.ts';
import { createRandom } from './routing/seeded-random.ts';
import { heartbeatIntervalMs } from './task-policy.ts';
import { TaskRouter } from './task-router.ts';
import { Verifier } from './verifier.ts';
import { SessionTickets } from './session-tickets.ts';
import { NodeCredentials } from './node-credentials.ts';
import { registerSessionRoutes } from './routes/session-routes.ts';
import { registerMeteringRoutes } from './routes/metering-routes.ts';
import { CLIENT_AUTH, clientAuth } from './routes/client-auth.ts';
import { registerEdgeRoutes } from './routes/edge-routes.ts';
import { registerHealthRoutes } from './routes/health-routes.ts';
import { registerJobRoutes } from './routes/job-routes.ts';
import { registerKeyRoutes } from './routes/key-routes.ts';
import { NODE_AUTH } from './routes/node-auth.ts';
import { registerNodeRoutes } from './routes/node-routes.ts';
import { registerReachabilityRoutes } from './routes/reachability-routes.ts';
import { registerSceneRoutes } from './routes/scene-routes.ts';
import { registerTaskRoutes } from './routes/task-routes.ts';

const TARGETS: Record<string, string> = { json: 'request body', param: 'path', query: 'query', header: 'headers', form: 'form' };

/** Scene uploads may be large; a completion may carry its output inline (base64); every other body is JSON and small. */
function limitBodies(opts: ResolvedApiOptions): MiddlewareHandler {
  const tooLarge = (max: number, hint = '') => (): never => {
    throw new TesseraError('PAYLOAD_TOO_LARGE', `The request body is larger than the ${max} bytes allowed here${hint}.`);
  };
  const scene = bodyLimit({ maxSize: opts.maxSceneBytes, onError: tooLarge(opts.maxSceneBytes) });
  const json = bodyLimit({ maxSize: opts.maxJsonBytes, onError: tooLarge(opts.maxJsonBytes) });
  const completeMax = opts.maxJsonBytes + base64Length(opts.inlineOutputBytes);
  const complete = bodyLimit({
    maxSize: completeMax,
    onError: tooLarge(completeMax, ` (an inline output may have at most ${opts.inlineOutputBytes} bytes; upload a larger one through POST /v1/tasks/:id/upload)`),
  });
  const sampleMax = opts.maxJsonBytes + base64Length(MAX_SAMPLE_IMAGE_BYTES);
  const sample = bodyLimit({ maxSize: sampleMax, onError: tooLarge(sampleMax, ` (a sampled frame may have at most ${MAX_SAMPLE_IMAGE_BYTES} bytes)`) });
  return function limitBody(c, next) {
    if (c.req.method !== 'POST') return json(c, next);
    if (c.req.path === '/v1/scenes') return scene(c, next);
    if (SAMPLE_PATH.test(c.req.path)) return sample(c, next);
    return (COMPLETE_PATH.test(c.req.path) ? complete : json)(c, next);
  };
}
const COMPLETE_PATH = /^\/v1\/tasks\/[^/]+\/complete$/;
const SAMPLE_PATH = /^\/v1\/sessions\/[^/]+\/samples$/;

/** The edge API; see the module comment. Serves its OpenAPI document at `/v1/openapi.json`. */
export function createApi(deps: ApiDeps, options?: ApiOptions): OpenAPIHono {
  const opts = resolveApiOptions(options);
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? systemClock;
  const rng = opts.routing.seed === undefined ? Math.random : createRandom(opts.routing.seed);
  const nodes = new NodeDirectory(deps.jobs, clock, opts.routing, heartbeatIntervalMs(opts.policy), opts.trust);
  // A probe URL that forges the meter's challenge convicts its node (called once ctx exists).
  const meterOptions = { allowPrivateAddresses: opts.probeCheck.allowPrivateAddresses, ...opts.routing.edgeRtts };
  const meterFetch = meterOptions.allowPrivateAddresses ? undefined : deps.publicFetch;
  const edgeRtts = new EdgeRttMeter(deps.jobs, logger, meterOptions, meterFetch, (nodeId, reason) => convictNode(ctx, nodeId, reason));
  const ctx = createApiContext({
    jobs: deps.jobs,
    blobs: deps.blobs,
    inspector: deps.inspector,
    inspections: createInspectionSlots(opts.sceneInspections),
    clock,
    logger,
    notifier: deps.notifier ?? createNotifier(),
    options: opts,
    nodes,
    network: new NodeNetwork(deps.jobs, nodes, opts.routing, rng, logger),
    pops: new PopLearner(deps.jobs, logger, opts.routing.popLearning),
    edgeRtts,
    router: new TaskRouter(deps.jobs, nodes, clock, opts.routing, rng, logger, (pop, now) => edgeRtts.rtts(pop, now)),
    verifier: new Verifier(deps.jobs, nodes, deps.comparer, opts.verification, clock, logger, opts.trust),
    comparer: deps.comparer,
    keys: new ClientKeys(deps.jobs, clock, opts.apiKeys, opts.keyLimits),
    limiter: new RateLimiter(),
    sessions: deps.sessions,
    tickets: new SessionTickets(deps.jobs, opts.sessions.ticketKey),
    credentials: new NodeCredentials(deps.jobs, opts.nodeCredentials),
    rng,
    streams: new StreamSlots(),
    recentFrames: new RecentFrames(64 * opts.eventInlineBytes, opts.eventInlineBytes),
    hmacSha256Sync: deps.hmacSha256Sync,
    publicFetch: deps.publicFetch,
    polls: new NodePolls(),
  });

  const app = new OpenAPIHono({
    defaultHook(result) {
      if (!result.success) throw validationError(result.error.issues, TARGETS[result.target] ?? result.target);
    },
  });
  app.onError(createErrorHandler(logger));
  app.notFound(notFound);
  app.use(
    '*',
    cors({
      origin: opts.corsOrigin,
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Authorization'],
      maxAge: 600,
    }),
  );
  // Keys first: an unauthenticated upload is refused before its body is read.
  app.use('*', clientAuth(ctx));
  app.use('*', limitBodies(opts));
  app.use('*', async function logRequest(c, next) {
    const started = Date.now();
    await next();
    logger.debug({ method: c.req.method, path: c.req.path, status: c.res.status, ms: Date.now() - started }, 'request');
  });

  registerHealthRoutes(app, ctx);
  registerEdgeRoutes(app, ctx);
  registerSceneRoutes(app, ctx);
  registerJobRoutes(app, ctx);
  registerNodeRoutes(app, ctx);
  registerReachabilityRoutes(app, ctx);
  registerTaskRoutes(app, ctx);
  registerMeteringRoutes(app, ctx);
  registerKeyRoutes(app, ctx);
  registerSessionRoutes(app, ctx);

  app.openAPIRegistry.registerComponent('securitySchemes', NODE_AUTH, {
    type: 'http',
    scheme: 'bearer',
    description: 'The nodeToken from POST /v1/nodes.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', CLIENT_AUTH, {
    type: 'http',
    scheme: 'bearer',
    description: 'A client API key (tsk_…): TESSERA_API_KEY, printed by `tessera farm up`, or created with POST /v1/keys.',
  });
  app.doc31('/v1/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Tessera render farm API', version: opts.version, description: 'Submit glTF render jobs; render nodes lease their tasks.' },
    ...(opts.publicUrl ? { servers: [{ url: opts.publicUrl }] } : {}),
  });
  return app;
}
