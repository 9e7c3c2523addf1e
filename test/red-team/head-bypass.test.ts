/**
 * Red team: reaching a protected route without credentials by another method. Hono answers HEAD with the
 * GET handler, so an auth check keyed on `method === 'GET'` is skipped by HEAD. Every route the OpenAPI
 * document marks as secured is tried without a token by HEAD and by every other method, and must never
 * answer 2xx; honest callers still get their answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startHarness, TEST_AUTH, TestNode, type Harness } from '../api/support/api-harness.ts';

let h: Harness;
let node: TestNode;
beforeAll(async () => {
  h = await startHarness();
  node = await TestNode.register(h, 'honest-node');
});
afterAll(async () => {
  await h?.close();
});

const FAKE_PARAMS: Record<string, string> = {
  id: 'job_' + '0'.repeat(32),
  jobId: 'job_' + '0'.repeat(32),
  nodeId: 'node_' + '0'.repeat(32),
  taskId: 'task_' + '0'.repeat(32),
  frame: '0',
};

async function securedRoutes(): Promise<{ method: string; path: string }[]> {
  const doc = (await call(h.url, 'GET', '/v1/openapi.json', { token: null })).body;
  const out: { method: string; path: string }[] = [];
  for (const [path, ops] of Object.entries<Record<string, { security?: unknown[] }>>(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!op.security?.length) continue;
      out.push({ method: method.toUpperCase(), path: path.replace(/\{(\w+)\}/g, (_, p: string) => FAKE_PARAMS[p] ?? 'x') });
    }
  }
  return out;
}

describe('no method reaches a secured route without a token', () => {
  it('HEAD /v1/nodes and HEAD /v1/nodes/nearby → 401 (they were served by the GET handler, unauthenticated)', async () => {
    for (const path of ['/v1/nodes', '/v1/nodes/nearby']) {
      const res = await fetch(h.url + path, { method: 'HEAD' });
      expect(res.status, `HEAD ${path}`).toBe(401);
    }
  });

  it('every secured route, by HEAD, GET, POST, PUT, PATCH and DELETE without a token, never answers 2xx', async () => {
    const routes = await securedRoutes();
    expect(routes.length).toBeGreaterThan(15);
    const paths = [...new Set(routes.map((r) => r.path))];
    const seen: string[] = [];
    for (const path of paths) {
      for (const method of ['HEAD', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
        const res = await fetch(h.url + path, { method, headers: method === 'POST' || method === 'PUT' ? { 'content-type': 'application/json' } : {}, body: method === 'POST' || method === 'PUT' ? '{}' : undefined });
        await res.arrayBuffer();
        if (res.status < 300) seen.push(`${method} ${path} → ${res.status}`);
      }
    }
    expect(seen).toEqual([]);
  });

  it('a node token on a client route (HEAD included) → 401', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(h.url + '/v1/nodes', { method, headers: { authorization: `Bearer ${node.reg.nodeToken}` } });
      expect(res.status).toBe(401);
    }
  });

  it('honest callers still get answers: a client key lists nodes (GET and HEAD), anyone may register a node', async () => {
    const list = await call(h.url, 'GET', '/v1/nodes');
    expect(list.status).toBe(200);
    expect(list.body.nodes.map((n: { nodeId: string }) => n.nodeId)).toContain(node.id);
    const head = await fetch(h.url + '/v1/nodes', { method: 'HEAD', headers: TEST_AUTH });
    expect(head.status).toBe(200);
    const another = await TestNode.register(h, 'second-node');
    expect(another.id).toMatch(/^node_/);
    expect(await another.lease(0)).toBeNull();
  });
});
