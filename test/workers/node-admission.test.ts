/**
 * Join tokens on Workers, through the Worker's fetch handler in workerd: with the REQUIRE_JOIN_TOKEN var set,
 * `POST /v1/nodes` needs a `node` key (created through the API, kept hashed in the coordinator); without one,
 * with a revoked one, it is refused; the token opens no client route. With the var at "0" (wrangler.jsonc's
 * default) registration stays open.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { EDGE_NODE_CARD as card, workerCaller } from './support/worker-caller.ts';

describe('join tokens on Workers', () => {
  it('REQUIRE_JOIN_TOKEN=1: no token, a client key or a revoked token is refused; a node key admits a node and opens nothing else', async () => {
    const call = workerCaller({ ...env, FARM: `join-${Date.now()}`, REQUIRE_JOIN_TOKEN: '1' });
    expect(await call('POST', '/v1/nodes', card, null)).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED', message: expect.stringMatching(/join token/) } });
    const client = await call('POST', '/v1/keys', { name: 'c', role: 'client' }, env.TESSERA_API_KEY);
    expect((await call('POST', '/v1/nodes', card, client.body!.key)).status).toBe(403);
    const join = await call('POST', '/v1/keys', { name: 'rack', role: 'node' }, env.TESSERA_API_KEY);
    expect(join).toMatchObject({ status: 201, body: { role: 'node' } });
    const admitted = await call('POST', '/v1/nodes', card, join.body!.key);
    expect(admitted).toMatchObject({ status: 201, body: { nodeId: expect.stringMatching(/^node_edge-node/) } });
    expect(await call('GET', '/v1/nodes', undefined, join.body!.key)).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect((await call('DELETE', `/v1/keys/${join.body!.keyId}`, undefined, env.TESSERA_API_KEY)).status).toBe(200);
    expect(await call('POST', '/v1/nodes', card, join.body!.key)).toMatchObject({ status: 401, body: { message: expect.stringMatching(/revoked/) } });
  });

  it('REQUIRE_JOIN_TOKEN=0: registration is open', async () => {
    const call = workerCaller({ ...env, FARM: `open-${Date.now()}`, REQUIRE_JOIN_TOKEN: '0' });
    expect((await call('POST', '/v1/nodes', card, null)).status).toBe(201);
  });
});
