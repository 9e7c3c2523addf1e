/**
 * Requests through the edge Worker's fetch handler inside workerd, for the workerd tests. It sits here, not in
 * test/support, because it imports `cloudflare:test`, which only the Workers type-check and pool resolve.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../../api/edge/worker.ts';

/** A status and its JSON body (null for 204). */
export interface WorkerAnswer {
  status: number;
  body: Record<string, any> | null;
}

/**
 * A caller of the Worker on `farmEnv` (give each test a farm of its own through `FARM`): `body` goes as JSON,
 * `token` as the bearer key (default the operator's; null sends none).
 */
export function workerCaller(farmEnv: typeof env) {
  return async (method: string, path: string, body?: unknown, token: string | null = env.TESSERA_API_KEY): Promise<WorkerAnswer> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetchWorker(new Request(`https://api.example${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), farmEnv);
    return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, any>) };
  };
}

/**
 * A caller for what the edge does per colo: `cf` (e.g. `{ colo: 'FRA' }`) becomes the request's `request.cf`.
 * Registration is public, so `POST /v1/nodes` goes without a key; every other route with the operator's.
 * Every answer is JSON.
 */
export function coloCaller(farmEnv: typeof env) {
  return async (method: string, path: string, body: unknown, cf?: object): Promise<{ status: number; body: Record<string, any> }> => {
    const res = await fetchWorker(
      new Request(`https://api.example${path}`, {
        method,
        headers: { ...(path === '/v1/nodes' ? {} : { authorization: `Bearer ${env.TESSERA_API_KEY}` }), 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        ...(cf ? { cf } : {}),
      }) as Request<unknown, IncomingRequestCfProperties>,
      farmEnv,
    );
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
}

/** `request` through the Worker on `farmEnv`, answered once the work it left in waitUntil is done too. */
export async function fetchWorker(request: Request<unknown, IncomingRequestCfProperties>, farmEnv: typeof env): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, farmEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** A render node's card for the edge tests: enough for the API to register it. */
export const EDGE_NODE_CARD = {
  name: 'edge-node',
  version: 'test',
  cpu: { model: 'test', cores: 4 },
  ramBytes: 8e9,
  gl: { renderer: 'r', vendor: 'v', version: 'x', maxTextureSize: 8192, maxViewport: [8192, 8192] },
  tilesPerSecond: 50,
};
