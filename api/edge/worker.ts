/**
 * The edge API on Cloudflare Workers: the same `createApi` as the Node API, in every location, with
 * Workers adapters for its ports: the job store is the farm's coordinator Durable Object (SQLite storage,
 * the shared SqlJobStore), blobs go to any S3 API (R2's in production) through signed fetches, scenes
 * are checked by the runtime-free part of readScene, and wake-ups cross isolates through the coordinator.
 * One app is built per isolate and per configuration, and reused across requests.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { createApi } from '../core/create-api.ts';
import { createConsoleLogger } from './console-logger.ts';
import { coordinatorFor } from './coordinator-for.ts';
import { createDurableJobStore } from './durable-job-store.ts';
import { createDurableSessionStore } from './durable-session-store.ts';
import { EDGE_LEASE_RECHECK_MS, EDGE_MAX_SCENE_BYTES, EDGE_RECHECK_MS } from './edge-limits.ts';
import { createEdgeNotifier, type EdgeNotifier } from './edge-notifier.ts';
import { createEdgeImageComparer } from './edge-image-comparer.ts';
import { createEdgeSceneInspector } from './edge-scene-inspector.ts';
import { createEdgeBlobStore } from './edge-blob-store.ts';
import { answerEdgePing } from '../core/routes/edge-routes.ts';
import { RateLimiter } from '../core/rate-limiter.ts';
import { sha256Hex } from '../core/crypto-utils.ts';

export { JobCoordinator } from './job-coordinator.ts';

/**
 * `GET /v1/admin/coordinator-requests` with the operator key: `{ requests }`, the calls, waits and notifies the
 * farm's coordinator object served since it started (reading it is not counted).
 */
async function coordinatorRequests(request: Request, env: Env): Promise<Response> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
  // Compared as hashes: the time taken says nothing about the key.
  if (!env.TESSERA_API_KEY || !m || (await sha256Hex(m[1])) !== (await sha256Hex(env.TESSERA_API_KEY))) {
    return Response.json({ code: 'UNAUTHORIZED', message: "Send the operator's key as \"Authorization: Bearer <key>\"." }, { status: 401 });
  }
  return Response.json({ requests: await coordinatorFor(env).requestCount() });
}



interface EdgeApp {
  app: OpenAPIHono;
  notifier: EdgeNotifier;
}

let built: { key: string; edge: EdgeApp } | undefined;

/** Edge pings per client address, per isolate. */
const pingLimiter = new RateLimiter();

function build(env: Env): EdgeApp {
  const coordinator = () => coordinatorFor(env);
  const notifier = createEdgeNotifier(coordinator);
  const blobs = createEdgeBlobStore(env);
  const app = createApi(
    {
      jobs: createDurableJobStore({ call: (method, args) => coordinator().call(method, args) }),
      sessions: createDurableSessionStore({ call: (method, args) => coordinator().call(method, args) }),
      blobs,
      inspector: createEdgeSceneInspector(),
      // Renders of different renderer identities (a browser tab's and a headless node's) are compared by pixels.
      comparer: createEdgeImageComparer(blobs),
      logger: createConsoleLogger(env.LOG_LEVEL, { farm: env.FARM }),
      notifier,
    },
    {
      recheckMs: EDGE_RECHECK_MS,
      leaseRecheckMs: EDGE_LEASE_RECHECK_MS,
      maxSceneBytes: EDGE_MAX_SCENE_BYTES,
      maxUnpackedBytes: EDGE_MAX_SCENE_BYTES,
      // The operator's admin key is a secret (`wrangler secret put TESSERA_API_KEY`); more keys are
      // made with POST /v1/keys and kept (hashed) in the coordinator.
      apiKeys: env.TESSERA_API_KEY ? [{ key: env.TESSERA_API_KEY, name: 'operator', role: 'admin' }] : [],
      requireJoinToken: env.REQUIRE_JOIN_TOKEN === '1' || env.REQUIRE_JOIN_TOKEN === 'true',
      // Node tokens are signed (node-credentials.ts; the key is kept in the coordinator): a forged or expired one is
      // refused here without a Durable Object request. Unsigned tokens (nodes registered before) would each cost one,
      // so they are refused too, and such nodes register again.
      nodeCredentials: { acceptUnsigned: false },
    },
  );
  return { app, notifier };
}

export default {
  async fetch(request, env, ctx) {
    // The edge as a landmark: answered here, before the app, touching neither the coordinator nor storage.
    if (request.method === 'GET' && new URL(request.url).pathname === '/v1/edge/ping') return answerEdgePing(request, pingLimiter, undefined, Date.now());
    // The coordinator's request counter, for the operator (load tests count Durable Object requests with it).
    if (request.method === 'GET' && new URL(request.url).pathname === '/v1/admin/coordinator-requests') return coordinatorRequests(request, env);
    // One app per isolate, rebuilt only if the settings change (a new deployment).
    const key = JSON.stringify([env.FARM, env.S3_ENDPOINT, env.S3_PUBLIC_ENDPOINT, env.S3_REGION, env.S3_BUCKET, env.S3_ACCESS_KEY_ID, env.S3_SECRET_ACCESS_KEY, env.TESSERA_API_KEY, env.LOG_LEVEL, env.REQUIRE_JOIN_TOKEN]);
    if (built?.key !== key) built = { key, edge: build(env) };
    const { app, notifier } = built.edge;
    const response = await app.fetch(request, env, ctx);
    ctx.waitUntil(notifier.flush());
    return response;
  },
} satisfies ExportedHandler<Env>;
