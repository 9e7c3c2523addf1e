/**
 * The SDK's probe against the real API: nodes registered with probe URLs (real GET /ping servers, two of
 * them behind delay proxies, one gone), `client.probe()` pings the API's candidates and a job submitted with
 * the result is routed by it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient, type TesseraClient } from '../../api/client/index.ts';
import { call, startHarness, TEST_API_KEY, uploadSceneFile, type Harness } from '../support/api-harness.ts';
import { PingOnlyNodes } from '../support/ping-only-nodes.ts';
import { NODE_PROTOCOL_VERSION } from '../../api/protocol/task.ts';

let h: Harness;
let client: TesseraClient;
const nodes = new PingOnlyNodes();
const ids = nodes.ids;

/** A node that only answers pings, `delayMs` each way from here (or not at all when `gone`). */
async function pingOnlyNode(name: string, delayMs: number, gone = false): Promise<void> {
  const node = await nodes.add(h.url, name, delayMs);
  node.server.setNodeId(node.nodeId, node.probeKey);
  // It asks for work once, as a running node does (routing places tasks only on nodes that ask).
  await call(h.url, 'POST', `/v1/nodes/${node.nodeId}/lease`, { json: { waitSeconds: 0, protocol: NODE_PROTOCOL_VERSION }, token: node.nodeToken });
  if (gone) await node.proxy.kill();
}

beforeAll(async () => {
  h = await startHarness();
  client = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY });
  await pingOnlyNode('close', 2);
  await pingOnlyNode('distant', 30);
  await pingOnlyNode('vanished', 0, true);
});

afterAll(async () => {
  await nodes.close();
  await h?.close();
});

describe('client.probe()', () => {
  it('pings the suggested nodes and returns their RTTs nearest first, and the ones that did not answer', async () => {
    const p = await client.probe({ count: 3, timeoutMs: 1000 });
    expect(p.candidates.map((c) => c.nodeId).sort()).toEqual(Object.values(ids).sort());
    expect(p.rtts.map((r) => r.nodeId)).toEqual([ids.close, ids.distant]);
    expect(p.rtts[0].rttMs).toBeGreaterThan(2 * 2 - 2);
    expect(p.rtts[1].rttMs).toBeGreaterThan(2 * 30 - 2);
    expect(p.failed.map((f) => f.nodeId)).toEqual([ids.vanished]);
    expect(p.location).toBeUndefined();
  });

  it('passes a location on, and a job submitted with the probe result is routed by it', async () => {
    const p = await client.probe({ count: 2, location: { lat: 10, lon: 20 } });
    expect(p.location).toEqual({ lat: 10, lon: 20 });
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    const { jobId } = await client.submitJob({ sceneId, size: '16x16', frames: '0', client: p });
    const status = await client.getJob(jobId);
    expect(status.tasks[0].route).toMatchObject({ nodeId: ids.close, rttSource: 'measured' });
  });

  it('probes one node at a time: each GET /v1/nodes/nearby carries the RTTs and failures before it, and never suggests a node already tried', async () => {
    const asked: URL[] = [];
    const watching = createTesseraClient({
      baseUrl: h.url,
      apiKey: TEST_API_KEY,
      probeHistory: false,
      fetch: (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        if (url.pathname === '/v1/nodes/nearby') asked.push(url);
        return fetch(input, init);
      },
    });
    const p = await watching.probe({ count: 3, timeoutMs: 1000 });
    expect(asked).toHaveLength(3);
    expect(asked.map((u) => u.searchParams.get('count'))).toEqual(['1', '1', '1']);
    // The first asks knowing nothing; each later one names every node tried before it (measured or failed).
    expect(asked[0].searchParams.get('rtts')).toBeNull();
    const tried = p.candidates.map((c) => c.nodeId);
    expect(new Set(tried).size).toBe(3);
    for (let i = 1; i < 3; i++) {
      const rtts = asked[i].searchParams.get('rtts')?.split(',').map((x) => x.slice(0, x.lastIndexOf(':'))) ?? [];
      const excluded = asked[i].searchParams.get('exclude')?.split(',') ?? [];
      expect(new Set([...rtts, ...excluded])).toEqual(new Set(tried.slice(0, i)));
      for (const x of asked[i].searchParams.get('rtts')?.split(',') ?? []) {
        const id = x.slice(0, x.lastIndexOf(':'));
        expect(Number(x.slice(x.lastIndexOf(':') + 1))).toBeCloseTo(p.rtts.find((r) => r.nodeId === id)!.rttMs, 1);
      }
    }
    expect(p.rtts.map((r) => r.nodeId)).toEqual([ids.close, ids.distant]);
    expect(p.failed.map((f) => f.nodeId)).toEqual([ids.vanished]);
  });

  it('GET /v1/nodes/nearby leaves out measured and excluded nodes, and refuses malformed RTTs', async () => {
    const res = await call(h.url, 'GET', `/v1/nodes/nearby?count=3&rtts=${ids.close}:4.5&exclude=${ids.vanished}`);
    expect(res.status).toBe(200);
    expect(res.body.candidates.map((c: { nodeId: string }) => c.nodeId)).toEqual([ids.distant]);
    for (const bad of ['rtts=abc', `rtts=${ids.close}:-1`, `rtts=${ids.close}:70000`, `rtts=${Array.from({ length: 17 }, (_, i) => `n${i}:5`).join(',')}`, `exclude=${'x'.repeat(129)}`]) {
      const r = await call(h.url, 'GET', `/v1/nodes/nearby?${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.code).toBe('BAD_REQUEST');
    }
  });

  it('lists nodes, with search', async () => {
    const { nodes } = await client.nodes({ healthy: true });
    expect(nodes.map((n) => n.nodeId).sort()).toEqual(Object.values(ids).sort());
    expect((await client.nodes({ region: 'nowhere' })).nodes).toEqual([]);
  });
});
