/**
 * The edge records its own RTTs to nodes, in workerd through the Worker's fetch handler: after answering
 * `GET /v1/nodes/nearby`, the Worker (waitUntil) times the nodes' challenge pings with its own `fetch` and keeps
 * the proven RTTs under the colo that took the request (request.cf.colo), never under the PoP the client
 * names; a node whose answer is not its HMAC of the edge's nonce is not recorded; the next client of that colo
 * is sent to the measured nearest node first. Nodes' probe servers are Cloudflare's outbound fetch mock (no
 * render node runs inside workerd), answering like the real probe server (render-node/agent/probe-server.ts).
 */
import { createHmac } from 'node:crypto';
import { env, fetchMock } from 'cloudflare:test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeRtts } from '../../api/protocol/edge.ts';
import { coloCaller, EDGE_NODE_CARD } from './support/worker-caller.ts';

const card = (i: number) => ({ ...EDGE_NODE_CARD, name: `edge-rtt-node-${i}`, probeUrl: `https://edge-rtt-node-${i}.example/ping` });

beforeAll(() => {
  fetchMock.activate();
  fetchMock.disableNetConnect();
});
afterAll(() => fetchMock.deactivate());

/** Answer GET /ping on node i's host like a probe server: its id, and the HMAC of the nonce under `key`, after `delayMs`. */
function probeServer(i: number, nodeId: string, key: string, delayMs: number) {
  fetchMock
    .get(`https://edge-rtt-node-${i}.example`)
    .intercept({ path: (p) => p.startsWith('/ping'), method: 'GET' })
    .reply(200, (opts) => {
      const nonce = new URL(opts.path, 'https://x').searchParams.get('nonce') ?? '';
      return JSON.stringify({ nodeId, nonce, proof: createHmac('sha256', key).update(nonce).digest('hex') });
    }, { headers: { 'content-type': 'application/json' } })
    .delay(delayMs)
    .persist();
}

describe('the edge’s own RTTs to nodes on Workers', () => {
  it('times nodes’ challenge pings after a nearby answer, keeps the proven ones under request.cf.colo, and routes the colo’s next client by them', async () => {
    const farmEnv = { ...env, FARM: `edge-rtts-${Date.now()}`, REQUIRE_JOIN_TOKEN: '0' };
    // Each call returns once the Worker's waitUntil work (the measurement) is done too.
    const call = coloCaller(farmEnv);
    const nodes: { nodeId: string; probeKey: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const reg = await call('POST', '/v1/nodes', card(i), undefined);
      expect(reg.status).toBe(201);
      nodes.push(reg.body as { nodeId: string; probeKey: string });
    }
    // Node 0 is far (150 ms), node 1 near (20 ms); node 2 answers at once (1 ms), but not with its probe key.
    probeServer(0, nodes[0].nodeId, nodes[0].probeKey, 150);
    probeServer(1, nodes[1].nodeId, nodes[1].probeKey, 20);
    probeServer(2, nodes[2].nodeId, 'not-its-probe-key', 1);

    // Nothing measured yet at FRA.
    expect(EdgeRtts.parse((await call('GET', '/v1/edge/rtts', undefined, { colo: 'FRA' })).body)).toEqual({ pop: 'FRA', nodes: [] });
    // A client at FRA (which names NRT) asks whom to ping; the FRA edge then times the nodes itself.
    const first = await call('GET', '/v1/nodes/nearby?count=3&pop=NRT&popRttMs=4', undefined, { colo: 'FRA' });
    expect(first.status).toBe(200);
    const fra = EdgeRtts.parse((await call('GET', '/v1/edge/rtts', undefined, { colo: 'FRA' })).body);
    expect(fra.pop).toBe('FRA');
    // The forger is not recorded; the honest nodes are, nearest first, at (at least) their answer delay.
    expect(fra.nodes.map((n) => n.nodeId)).toEqual([nodes[1].nodeId, nodes[0].nodeId]);
    expect(fra.nodes[0].rttMs).toBeGreaterThanOrEqual(20);
    expect(fra.nodes[1].rttMs).toBeGreaterThanOrEqual(150);
    // Never under the PoP the client named.
    expect(EdgeRtts.parse((await call('GET', '/v1/edge/rtts?pop=NRT', undefined, { colo: 'FRA' })).body).nodes).toEqual([]);
    // The colo's next client is told to ping the measured nearest node first.
    const next = await call('GET', '/v1/nodes/nearby?count=1&pop=FRA&popRttMs=4', undefined, { colo: 'FRA' });
    expect(next.body.candidates[0].nodeId).toBe(nodes[1].nodeId);
  });
});
