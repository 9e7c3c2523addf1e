/**
 * Red team, node admission (issue 12, holes 5 and 6): who may register a render node, and how fast.
 *   - an operator who requires join tokens refuses a node with none, with a client key, with a revoked or
 *     unknown token; a join token (`node` key) admits it, and does nothing else (client routes refuse it);
 *   - a real render node (`tessera node start --join-token`) joins such a farm; without the token it stops
 *     with a clear error instead of retrying forever;
 *   - registrations are rate limited per address and per join token, and each node's calls per node, with
 *     429 RATE_LIMITED and Retry-After; a flood under a wrong token cannot spend an honest node's budget.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiKeyCreated } from '../../api/protocol/api-keys.ts';
import { NodeList } from '../../api/protocol/latency.ts';
import { call, nodeCard, startHarness, TestNode, type Harness, type HarnessOptions } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { spawnNode, type NodeProcess } from '../support/farm.ts';

let h: Harness | undefined;
let spawned: NodeProcess[] = [];
afterEach(async () => {
  for (const n of spawned) n.child.kill('SIGKILL');
  await Promise.all(spawned.map((n) => n.exited));
  spawned = [];
  await h?.close();
  h = undefined;
});

async function start(api: HarnessOptions['api']): Promise<Harness> {
  h = await startHarness({ api });
  return h;
}

const register = (harness: Harness, name: string, token: string | null) => call(harness.url, 'POST', '/v1/nodes', { json: nodeCard(name), token });
const createKey = async (harness: Harness, name: string, role: string, limits?: object) => {
  const res = await call<ApiKeyCreated>(harness.url, 'POST', '/v1/keys', { json: { name, role, ...(limits ? { limits } : {}) } });
  expect(res.status).toBe(201);
  return res.body;
};
const names = async (harness: Harness) => NodeList.parse((await call(harness.url, 'GET', '/v1/nodes')).body).nodes.map((n) => n.card.name);

describe('join tokens', () => {
  it('an API that requires them refuses nodes without a valid one, admits nodes with one, and the token opens nothing else', async () => {
    const harness = await start({ requireJoinToken: true });
    const none = await register(harness, 'no-token', null);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/join token/) });
    expect((await register(harness, 'made-up', 'tsk_' + 'ab'.repeat(32))).body).toMatchObject({ code: 'UNAUTHORIZED' });
    const client = await createKey(harness, 'a client', 'client');
    const asClient = await register(harness, 'client-key', client.key);
    expect(asClient.status).toBe(403);
    expect(asClient.body).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/client key/) });

    const join = await createKey(harness, 'rack 7', 'node');
    expect(join).toMatchObject({ role: 'node', key: expect.stringMatching(/^tsk_/) });
    const admitted = await register(harness, 'with-token', join.key);
    expect(admitted.status).toBe(201);
    // The node works with its own token from then on.
    const node = new TestNode(harness, admitted.body);
    expect((await node.heartbeat([])).status).toBe(200);
    // A join token is no client key: it lists, submits and reads nothing.
    for (const [method, path] of [['GET', '/v1/nodes'], ['GET', '/v1/keys/me'], ['POST', '/v1/jobs']] as const) {
      const res = await call(harness.url, method, path, { token: join.key, ...(method === 'POST' ? { json: {} } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/join token/) });
    }

    // Revoked: no more nodes with it; the node it admitted keeps working.
    expect((await call(harness.url, 'DELETE', `/v1/keys/${join.keyId}`)).status).toBe(200);
    const revoked = await register(harness, 'after-revoke', join.key);
    expect(revoked.status).toBe(401);
    expect(revoked.body).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/revoked/) });
    expect((await node.heartbeat([])).status).toBe(200);
    expect((await names(harness)).sort()).toEqual(['with-token']);
  });

  it('is off by default: open registration, a join token or none', async () => {
    const harness = await start({});
    expect((await register(harness, 'open', null)).status).toBe(201);
    const join = await createKey(harness, 'spare', 'node');
    expect((await register(harness, 'with-token', join.key)).status).toBe(201);
  });

  it('a real render node joins with --join-token; without it, it stops with the reason', async () => {
    const harness = await start({ requireJoinToken: true });
    const join = await createKey(harness, 'farm', 'node');
    const refused = spawnNode(harness.url, 'tokenless', { concurrency: 1 });
    spawned.push(refused);
    const admitted = spawnNode(harness.url, 'joined', { concurrency: 1, args: ['--join-token', join.key] });
    spawned.push(admitted);
    // Refused for good (no retry loop): the process ends, naming the join token.
    expect(await refused.exited).not.toBe(0);
    expect(refused.log.join('\n')).toMatch(/join token/);
    await waitFor('the node with the token to register', async () => ((await names(harness)).includes('joined') ? true : undefined), 60_000);
    expect(await names(harness)).toEqual(['joined']);
  }, 120_000);
});

describe('rate limits on node admission and node routes', () => {
  it('limits registrations per address: 429 with Retry-After past the burst', async () => {
    const harness = await start({ nodeRateLimits: { registration: { requestsPerMinute: 1, burst: 3 } } });
    for (let i = 0; i < 3; i++) expect((await register(harness, `n${i}`, null)).status).toBe(201);
    const over = await register(harness, 'n3', null);
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/registrations from/) });
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await names(harness)).toHaveLength(3);
  });

  it('limits registrations per join token, by the token\'s own limits', async () => {
    const harness = await start({ requireJoinToken: true });
    const join = await createKey(harness, 'small', 'node', { requestsPerMinute: 1, burst: 2 });
    const other = await createKey(harness, 'other', 'node');
    expect((await register(harness, 'a', join.key)).status).toBe(201);
    expect((await register(harness, 'b', join.key)).status).toBe(201);
    const over = await register(harness, 'c', join.key);
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/Join token "small"/) });
    // Another token is not affected.
    expect((await register(harness, 'd', other.key)).status).toBe(201);
  });

  it('limits each node\'s calls; a flood under a wrong token spends nobody\'s budget', async () => {
    const harness = await start({ nodeRateLimits: { perNode: { requestsPerMinute: 1, burst: 5 } } });
    const [flooder, honest] = [await TestNode.register(harness, 'flooder'), await TestNode.register(harness, 'honest')];
    // Someone who knows the honest node's id but not its token: refused, and its budget untouched.
    for (let i = 0; i < 20; i++) {
      const res = await call(harness.url, 'POST', `/v1/nodes/${honest.id}/heartbeat`, { json: { leaseIds: [], load: 0 }, token: 'not-its-token' });
      expect(res.status).toBe(401);
    }
    for (let i = 0; i < 5; i++) expect((await flooder.heartbeat([])).status).toBe(200);
    const over = await flooder.heartbeat([]);
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/calls a minute/) });
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Every node route counts: its lease calls are refused too; the honest node is served.
    expect((await call(harness.url, 'POST', `/v1/nodes/${flooder.id}/lease`, { json: { waitSeconds: 0 }, token: flooder.reg.nodeToken })).status).toBe(429);
    expect((await honest.heartbeat([])).status).toBe(200);
    expect(await honest.lease(0)).toBeNull();
  });
});
