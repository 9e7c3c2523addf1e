/**
 * Join tokens on Workers, through the Worker's fetch handler in workerd: with the REQUIRE_JOIN_TOKEN var set,
 * `POST /v1/nodes` needs a `node` key (created through the API, kept hashed in the coordinator); without one,
 * with a revoked one, it is refused; the token opens no client route. With the var at "0" (wrangler.jsonc's
 * default) registration stays open.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../api/edge/worker.ts';

const card = {
  name: 'edge-node',
  version: 'test',
  cpu: { model: 'test', cores: 4 },
  ramBytes: 8e9,
  gl: { renderer: 'r', vendor: 'v', version: 'x', maxTextureSize: 8192, maxViewport: [8192, 8192] },
  tilesPerSecond: 50,
};

function caller(farmEnv: typeof env) {
  return async (method: string, path: string, body: unknown, token: string | null) => {
    const ctx = createExecutionContext();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await worker.fetch(
      new Request(`https://api.example${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }) as Request<unknown, IncomingRequestCfProperties>,
      farmEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
}

describe('join tokens on Workers', () => {
  it('REQUIRE_JOIN_TOKEN=1: no token, a client key or a revoked token is refused; a node key admits a node and opens nothing else', async () => {
    const call = caller({ ...env, FARM: `join-${Date.now()}`, REQUIRE_JOIN_TOKEN: '1' });
    expect(await call('POST', '/v1/nodes', card, null)).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED', message: expect.stringMatching(/join token/) } });
    const client = await call('POST', '/v1/keys', { name: 'c', role: 'client' }, env.TESSERA_API_KEY);
    expect((await call('POST', '/v1/nodes', card, client.body.key)).status).toBe(403);
    const join = await call('POST', '/v1/keys', { name: 'rack', role: 'node' }, env.TESSERA_API_KEY);
    expect(join).toMatchObject({ status: 201, body: { role: 'node' } });
    const admitted = await call('POST', '/v1/nodes', card, join.body.key);
    expect(admitted).toMatchObject({ status: 201, body: { nodeId: expect.stringMatching(/^node_edge-node/) } });
    expect(await call('GET', '/v1/nodes', undefined, join.body.key)).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect((await call('DELETE', `/v1/keys/${join.body.keyId}`, undefined, env.TESSERA_API_KEY)).status).toBe(200);
    expect(await call('POST', '/v1/nodes', card, join.body.key)).toMatchObject({ status: 401, body: { message: expect.stringMatching(/revoked/) } });
  });

  it('REQUIRE_JOIN_TOKEN=0: registration is open', async () => {
    const call = caller({ ...env, FARM: `open-${Date.now()}`, REQUIRE_JOIN_TOKEN: '0' });
    expect((await call('POST', '/v1/nodes', card, null)).status).toBe(201);
  });
});
