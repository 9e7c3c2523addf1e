/**
 * `GET /v1/edge/ping` on the Node API: no key needed; the configured PoP (TESSERA_EDGE_POP) placed by the
 * colo table or by its own coordinates; unknown when none is configured; rate-limited per address.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { JOB_DB_FILE } from '../../api/node/sqlite-job-store.ts';
import { EdgePing } from '../../api/protocol/edge.ts';
import { readApiConfig } from '../../api/node/api-config.ts';
import { NearbyNodes } from '../../api/protocol/latency.ts';
import { HeartbeatAck } from '../../api/protocol/node-messages.ts';
import { call, provenRtt, startHarness, TestNode, type Harness } from '../support/api-harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('GET /v1/edge/ping on Node', () => {
  it('answers the configured PoP without a key, placed by the colo table', async () => {
    h = await startHarness({ api: { edgePop: readApiConfig({ TESSERA_EDGE_POP: 'fra' }).edgePop } });
    const res = await call(h.url, 'GET', '/v1/edge/ping', { token: null });
    expect(res.status).toBe(200);
    expect(EdgePing.parse(res.body)).toMatchObject({ pop: 'fra', source: 'config', location: { lat: 50.03, lon: 8.54 } });
  });

  it('takes CODE@lat,lon, refuses a bad TESSERA_EDGE_POP, and says unknown when none is set', async () => {
    expect(readApiConfig({ TESSERA_EDGE_POP: 'lab-1@48.85,2.35' }).edgePop).toEqual({ pop: 'lab-1', lat: 48.85, lon: 2.35 });
    // A Node API is one PoP unless told otherwise (a landmark for clients' first contact); `off` for none.
    expect(readApiConfig({}).edgePop).toEqual({ pop: 'API' });
    expect(readApiConfig({ TESSERA_EDGE_POP: 'OFF' }).edgePop).toBeUndefined();
    expect(() => readApiConfig({ TESSERA_EDGE_POP: 'no spaces' })).toThrow(/TESSERA_EDGE_POP/);
    expect(() => readApiConfig({ TESSERA_EDGE_POP: 'x@91,0' })).toThrow(/TESSERA_EDGE_POP/);
    h = await startHarness();
    const res = await call(h.url, 'GET', '/v1/edge/ping', { token: null });
    expect(res.status).toBe(200);
    expect(EdgePing.parse(res.body)).toMatchObject({ pop: null, location: null, source: 'unknown' });
  });

  it('refuses an address that pings too often with 429 RATE_LIMITED and Retry-After', async () => {
    h = await startHarness();
    let last = 200;
    let retryAfter: string | null = null;
    for (let i = 0; i < 40 && last !== 429; i++) {
      const res = await fetch(`${h.url}/v1/edge/ping`, { headers: { 'x-forwarded-for': '192.0.2.44' } });
      last = res.status;
      retryAfter = res.headers.get('retry-after');
      if (last === 429) expect(await res.json()).toMatchObject({ code: 'RATE_LIMITED' });
    }
    expect(last).toBe(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${h.url}/v1/edge/ping`, { headers: { 'x-forwarded-for': '192.0.2.45' } })).status).toBe(200);
  });

  it('keeps the PoPs nodes report in heartbeats and the RTTs they measured to peers; nearby starts from the client\'s PoP', async () => {
    // Every other node is a peer each node may be asked to ping (peer RTTs count only for assigned peers).
    h = await startHarness({ api: { routing: { probePeers: 3 } } });
    const nodes: TestNode[] = [];
    for (const name of ['tokyo', 'frankfurt-a', 'frankfurt-b', 'paris']) nodes.push(await TestNode.register(h, name, { probeUrl: `http://${name}.example/ping` }));
    const beat = async (n: TestNode, json: object) => {
      const res = await call(h!.url, 'POST', `/v1/nodes/${n.id}/heartbeat`, { json, token: n.reg.nodeToken });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return HeartbeatAck.parse(res.body);
    };
    await beat(nodes[0], { edge: { pop: 'NRT', rttMs: 2 } });
    const assigned = await beat(nodes[1], { edge: { pop: 'FRA', rttMs: 9 } });
    expect(assigned.probePeers.map((p) => p.nodeId)).toContain(nodes[2].id);
    // A peer RTT as a node reports it: with the peer's answer to its challenge.
    await beat(nodes[1], { edge: { pop: 'FRA', rttMs: 9 }, peers: [await provenRtt(nodes[2], 6)] });
    await beat(nodes[2], { edge: { pop: 'FRA', rttMs: 1.5 } });
    await beat(nodes[3], { edge: { pop: 'CDG', rttMs: 1 } });
    // A bad PoP code is refused like any bad field.
    const bad = await call(h.url, 'POST', `/v1/nodes/${nodes[0].id}/heartbeat`, { json: { edge: { pop: 'N R T', rttMs: 2 } }, token: nodes[0].reg.nodeToken });
    expect(bad.status).toBe(400);
    const db = new Database(path.join(h.dir, 'api', JOB_DB_FILE), { readonly: true });
    const row = (id: string) => db.prepare('SELECT edge, peer_rtts FROM nodes WHERE node_id = ?').get(id) as { edge: string | null; peer_rtts: string | null };
    expect(JSON.parse(row(nodes[1].id).edge!)).toEqual({ pop: 'FRA', rttMs: 9 });
    expect(JSON.parse(row(nodes[1].id).peer_rtts!)).toEqual({ [nodes[2].id]: 6 });
    // Both ends keep the measurement.
    expect(JSON.parse(row(nodes[2].id).peer_rtts!)).toEqual({ [nodes[1].id]: 6 });
    db.close();
    // The node list is cached for nodeCacheMs (250 ms): let it refresh.
    await new Promise((r) => setTimeout(r, 300));
    // A client 2 ms from FRA: the FRA node nearest its PoP first, without any location.
    const res = await call(h.url, 'GET', '/v1/nodes/nearby?count=2&pop=FRA&popRttMs=2');
    expect(res.status).toBe(200);
    const nearby = NearbyNodes.parse(res.body);
    expect(nearby.candidates.map((c) => c.nodeId), JSON.stringify(nodes.map((n) => n.id))).toEqual([nodes[2].id, nodes[1].id]);
    expect((await call(h.url, 'GET', '/v1/nodes/nearby?pop=FRA')).status).toBe(200);
    expect((await call(h.url, 'GET', '/v1/nodes/nearby?pop=F!A&popRttMs=2')).status).toBe(400);
  });
});
