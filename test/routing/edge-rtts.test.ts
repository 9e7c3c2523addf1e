/**
 * The edge's own RTTs to nodes: the pure per-PoP row (caps, expiry, which nodes are due), how probe candidates
 * use it (client → PoP + PoP → node bounds; measured beats claimed), and the Node API as one PoP timing real
 * nodes' challenge pings through delay proxies: honest nodes are recorded at their RTT, a node that fakes its
 * ping (a wrong proof, a fast front answering for another node) is not recorded, a node that delays its
 * answer only looks farther, and nothing a node sends (a heartbeat's sighting) enters the row.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pickProbeCandidates } from '../../api/core/routing/candidates.ts';
import { EDGE_RTT_DEFAULTS, edgeRttView, nodesToMeasure, parseEdgeRttRow, recordEdgeRtt, type EdgeRttRow } from '../../api/core/routing/edge-rtts.ts';
import { createRouterNode, freezeRouterNodes } from '../../api/core/routing/router.ts';
import { EdgeRtts } from '../../api/protocol/edge.ts';
import { NearbyNodes } from '../../api/protocol/latency.ts';
import { startProbeServer, type ProbeServer } from '../../render-node/agent/probe-server.ts';
import { call, startHarness, TestNode, type Harness } from '../support/api-harness.ts';
import { startDelayProxy, type DelayProxy } from '../support/delay-proxy.ts';
import { at, card } from './routing-fixtures.ts';

const HOUR = 3600 * 1000;

describe('the per-PoP row (routing/edge-rtts.ts)', () => {
  it('keeps the latest RTT per node, the nearest maxNodesPerPop nodes, and forgets entries past maxAgeMs', () => {
    const o = { maxNodesPerPop: 3, maxAgeMs: HOUR };
    let row: EdgeRttRow | undefined;
    row = recordEdgeRtt(row, 'a', 50, 0, o);
    row = recordEdgeRtt(row, 'b', 10, 0, o);
    row = recordEdgeRtt(row, 'a', 30, 1, o); // re-measured: the latest counts
    row = recordEdgeRtt(row, 'c', 90, 2, o);
    expect(edgeRttView(row, 2, o)).toEqual({ a: 30, b: 10, c: 90 });
    row = recordEdgeRtt(row, 'd', 20, 3, o); // full: the farthest (c) goes
    expect(edgeRttView(row, 3, o)).toEqual({ a: 30, b: 10, d: 20 });
    row = recordEdgeRtt(row, 'e', 200, 4, o); // the newcomer is the farthest: it is the one dropped
    expect(Object.keys(row).sort()).toEqual(['a', 'b', 'd']);
    // b and d measured at 0 and 3 ms; an hour and a bit later only a later entry survives.
    row = recordEdgeRtt(row, 'f', 40, HOUR + 2, o);
    expect(edgeRttView(row, HOUR + 2, o)).toEqual({ d: 20, f: 40 });
    expect(edgeRttView(row, 2 * HOUR + 4, o)).toEqual({});
  });

  it('ignores implausible RTTs and hostile ids, and parses junk as nothing', () => {
    const row = recordEdgeRtt(undefined, 'a', 12, 0);
    for (const bad of [0, -5, NaN, Infinity, 120_000]) expect(recordEdgeRtt(row, 'b', bad, 0)).toBe(row);
    expect(recordEdgeRtt(row, '__proto__', 5, 0)).toBe(row);
    expect(recordEdgeRtt(row, 'x'.repeat(200), 5, 0)).toBe(row);
    expect(parseEdgeRttRow('not json')).toEqual({});
    expect(parseEdgeRttRow('[1,2]')).toEqual({});
    expect(parseEdgeRttRow(JSON.stringify({ a: { rttMs: 12, at: 5 }, b: { rttMs: -1, at: 5 }, c: { rttMs: 'x', at: 5 }, d: null, ['__proto__']: { rttMs: 1, at: 1 } }))).toEqual({ a: { rttMs: 12, at: 5 } });
    const many = Object.fromEntries(Array.from({ length: EDGE_RTT_DEFAULTS.maxNodesPerPop + 50 }, (_, i) => [`n${i}`, { rttMs: 10, at: 0 }]));
    expect(Object.keys(parseEdgeRttRow(JSON.stringify(many)))).toHaveLength(EDGE_RTT_DEFAULTS.maxNodesPerPop);
  });

  it('measures never-measured nodes first (the preferred ones first among them), then the oldest due, within the budget', () => {
    const o = { refreshMs: 100, maxAgeMs: HOUR };
    let row: EdgeRttRow = {};
    row = recordEdgeRtt(row, 'old', 10, 0, o);
    row = recordEdgeRtt(row, 'older', 10, -50, o);
    row = recordEdgeRtt(row, 'recent', 10, 150, o);
    const nodes = ['old', 'recent', 'older', 'n1', 'n2', 'n3'];
    expect(nodesToMeasure(row, nodes, 200, 10, o)).toEqual(['n1', 'n2', 'n3', 'older', 'old']);
    expect(nodesToMeasure(row, nodes, 200, 2, o, ['n3', 'old'])).toEqual(['n3', 'n1']);
    expect(nodesToMeasure(row, nodes, 200, 0, o)).toEqual([]);
  });
});

describe('probe candidates with the edge’s row', () => {
  const node = (id: string, x: number, edge?: { pop: string; rttMs: number }) => createRouterNode({ id, card: card(), healthy: true, load: { queued: 0, running: 0, concurrency: 1 }, coord: at(x), location: undefined, geoLine: undefined, peerRttMs: undefined, edge });

  it('ranks by client → PoP + PoP → node, and a node’s claimed sighting counts for nothing once the PoP measured', () => {
    // liar claims to sit at the client's PoP (0.2 ms); the PoP timed it at 80 ms. near: 6 ms from the PoP.
    const nodes = freezeRouterNodes([node('liar', 0, { pop: 'FRA', rttMs: 0.2 }), node('far', 0), node('near', 0)]);
    const client = { measuredRttMs: {}, edge: { pop: 'FRA', rttMs: 2 } };
    // Claims alone: the liar leads.
    expect(pickProbeCandidates(nodes, client, 1)).toEqual(['liar']);
    const measured = { ...client, edge: { ...client.edge, nodeRttMs: { liar: 80, far: 140, near: 6 } } };
    expect(pickProbeCandidates(nodes, measured, 3)).toEqual(['near', 'liar', 'far']);
    // A liar the PoP could not measure (no valid proof) gets no bound from its claim either.
    const unproven = { ...client, edge: { ...client.edge, nodeRttMs: { far: 140, near: 6 } } };
    expect(pickProbeCandidates(nodes, unproven, 1)).toEqual(['near']);
  });
});

describe('the Node API as one PoP, timing real nodes', () => {
  let h: Harness | undefined;
  const servers: ProbeServer[] = [];
  const proxies: DelayProxy[] = [];
  afterEach(async () => {
    await h?.close();
    h = undefined;
    for (const p of proxies.splice(0)) await p.close();
    for (const s of servers.splice(0)) await s.close();
  });

  /** A node whose probe server sits behind a delay proxy (`delayMs` each way); `key` overrides the probe key it answers with. */
  async function node(name: string, delayMs: number, opts: { key?: string; answerFor?: ProbeServer } = {}) {
    const server = opts.answerFor ?? (await startProbeServer({ host: '127.0.0.1' }));
    if (!opts.answerFor) servers.push(server);
    const proxy = await startDelayProxy({ target: { port: server.port }, delayMs });
    proxies.push(proxy);
    const n = await TestNode.register(h!, name, { probeUrl: `${proxy.url}/ping` });
    if (!opts.answerFor) server.setNodeId(n.id, opts.key ?? n.reg.probeKey!);
    return { n, proxy };
  }

  const nearby = async (query = 'count=2&pop=TST&popRttMs=0.5') => {
    const res = await call(h!.url, 'GET', `/v1/nodes/nearby?${query}`);
    expect(res.status).toBe(200);
    return NearbyNodes.parse(res.body).candidates.map((c) => c.nodeId);
  };
  const row = async () => {
    const res = await call(h!.url, 'GET', '/v1/edge/rtts');
    expect(res.status).toBe(200);
    return EdgeRtts.parse(res.body);
  };
  /** Ask nearby (which has the PoP measure in the background) until the row has `count` nodes. */
  async function measuredRow(count: number) {
    for (let i = 0; i < 100; i++) {
      await nearby();
      const r = await row();
      if (r.nodes.length >= count) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`the row never reached ${count} nodes: ${JSON.stringify(await row())}`);
  }

  it('records honest nodes at their RTT; a wrong proof, a front answering for another node and a heartbeat’s claim record nothing; delaying only looks farther', async () => {
    h = await startHarness({ api: { edgePop: { pop: 'TST' }, probeCheck: { allowPrivateAddresses: true }, routing: { edgeRtts: { refreshMs: 0, measureBudget: 8 } } } });
    const near = await node('near', 5);
    const far = await node('far', 40);
    // Answers at once, but with a proof under a key that is not its probe key.
    const forger = await node('forger', 0, { key: 'not-the-probe-key' });
    // Its probe URL reaches the near node's server (a fast front for someone else): the answer names near.
    const front = await node('front', 0, { answerFor: servers[0] });
    // Heartbeats claim to sit at the PoP and try to hand the edge RTTs; neither is a measurement.
    for (const liar of [forger.n, front.n]) {
      const hb = await call(h.url, 'POST', `/v1/nodes/${liar.id}/heartbeat`, { json: { leaseIds: [], edge: { pop: 'TST', rttMs: 0.1, nodeRttMs: { [liar.id]: 0.1 } } }, token: liar.reg.nodeToken });
      expect(hb.status).toBe(200);
    }
    const r = await measuredRow(2);
    expect(r.pop).toBe('TST');
    await new Promise((res) => setTimeout(res, 500));
    const settled = await row();
    expect(settled.nodes.map((x) => x.nodeId)).toEqual([near.n.id, far.n.id]);
    const rtt = Object.fromEntries(settled.nodes.map((x) => [x.nodeId, x.rttMs]));
    // 2 × the proxy's delay, less a timer's early firing.
    expect(rtt[near.n.id]).toBeGreaterThan(8);
    expect(rtt[near.n.id]).toBeLessThan(40);
    expect(rtt[far.n.id]).toBeGreaterThan(72);
    // The client at the PoP is sent to the truly nearest node first; the liars' claims count for nothing.
    expect((await nearby('count=1&pop=TST&popRttMs=0.5'))[0]).toBe(near.n.id);
    // The forger answered the edge's challenge as itself with a wrong proof: proven a liar and blocklisted. The
    // front answered for another node (no lie of its own) and the honest nodes stay in good standing.
    const reputation = async (id: string) => (await call(h!.url, 'GET', '/v1/nodes')).body.nodes.find((x: { nodeId: string }) => x.nodeId === id).reputation;
    expect((await reputation(forger.n.id)).blocklisted.reason).toMatch(/^forged probe: .* edge RTT meter/);
    for (const n of [near.n, far.n, front.n]) expect((await reputation(n.id)).blocklisted).toBeNull();
    // The near node now delays its answers (60 ms each way): it is measured farther, and loses its place.
    near.proxy.setDelay(60);
    for (let i = 0; i < 100; i++) {
      await nearby();
      const now = Object.fromEntries((await row()).nodes.map((x) => [x.nodeId, x.rttMs]));
      if (now[near.n.id] > 110) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const after = await row();
    expect(after.nodes.map((x) => x.nodeId)).toEqual([far.n.id, near.n.id]);
    expect((await nearby('count=1&pop=TST&popRttMs=0.5'))[0]).toBe(far.n.id);
  });

  it('measures nothing without a PoP of its own, and never for a PoP a client names', async () => {
    h = await startHarness({ api: { probeCheck: { allowPrivateAddresses: true } } });
    await node('n', 1);
    for (let i = 0; i < 5; i++) await nearby('count=1&pop=FRA&popRttMs=3');
    await new Promise((res) => setTimeout(res, 300));
    expect(await row()).toEqual({ pop: null, nodes: [] });
    const fra = await call(h.url, 'GET', '/v1/edge/rtts?pop=FRA');
    expect(fra.body).toEqual({ pop: 'FRA', nodes: [] });
    // A client key may not read the row.
    const key = await call(h.url, 'POST', '/v1/keys', { json: { name: 'client', role: 'client' } });
    expect((await call(h.url, 'GET', '/v1/edge/rtts', { token: key.body.key })).status).toBe(403);
  });
});
