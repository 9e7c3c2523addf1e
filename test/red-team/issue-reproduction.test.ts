/**
 * Issue 12's own reproduction, on a real farm (s3rver, the API, one real render node process): two liars
 * register beside the honest node — one with a `data:` probe URL, then (refused) with a ping server of its
 * own that answers without a proof; the other with a ping server that forges proofs — both claiming the
 * most tiles per second a card may, heartbeating every second and never leasing. A probing client's
 * one-frame tiled job must still finish promptly on the honest node, every tile routed to it, and the frame
 * must equal the local render pixel for pixel.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient } from '../../api/client/index.ts';
import type { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import type { NodeList } from '../../api/protocol/latency.ts';
import { MAX_TILES_PER_SECOND } from '../../api/protocol/node-card.ts';
import { NodeRegistered } from '../../api/protocol/node-messages.ts';
import { call, nodeCard, TEST_API_KEY } from '../api/support/api-harness.ts';
import { checkJobFrames, waitFor } from '../support/farm-checks.ts';
import { startTestFarm } from '../support/farm.ts';
import { createTestRenderer, scenePath } from '../support/renderer.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
let local: Awaited<ReturnType<typeof createTestRenderer>>;
let sceneId: string;
const servers: Server[] = [];
const timers: NodeJS.Timeout[] = [];
const liars: NodeRegistered[] = [];

/** A fake GET /ping that answers at once: with the liar's id, and for `forge`, the nonce and a made-up proof. */
async function fakePingServer(forge: boolean): Promise<{ url: string; setNodeId(id: string): void }> {
  let nodeId: string | null = null;
  const server = createServer((req, res) => {
    const nonce = new URL(req.url ?? '/', 'http://x').searchParams.get('nonce');
    const body = forge && nonce ? { nodeId, nonce, proof: 'ab'.repeat(32) } : { nodeId };
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(JSON.stringify(body));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`, setNodeId: (id) => (nodeId = id) };
}

/** Register a liar with the biggest card allowed; it heartbeats every second and never leases. */
async function registerLiar(name: string, probeUrl: string): Promise<NodeRegistered> {
  const card = { ...nodeCard(name), tilesPerSecond: MAX_TILES_PER_SECOND, concurrency: 64, ramBytes: 2 ** 40, probeUrl };
  const res = await call(farm.url, 'POST', '/v1/nodes', { json: card, token: null });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const reg = NodeRegistered.parse(res.body);
  timers.push(setInterval(() => void call(farm.url, 'POST', `/v1/nodes/${reg.nodeId}/heartbeat`, { json: { leaseIds: [], load: 0 }, token: reg.nodeToken }).catch(() => {}), 1000));
  liars.push(reg);
  return reg;
}

beforeAll(async () => {
  farm = await startTestFarm();
  farm.spawnNode('honest', { concurrency: 2 });
  local = await createTestRenderer();
  const up = await call(farm.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('animated-trs'))), type: 'model/gltf-binary' });
  expect(up.status).toBe(201);
  sceneId = up.body.sceneId;
}, 120_000);

afterAll(async () => {
  for (const t of timers) clearInterval(t);
  for (const s of servers) await new Promise((r) => s.close(r));
  local?.dispose();
  await farm?.close();
});

describe('issue 12: liars with fake probes and inflated cards', () => {
  it('refuses the data: probe URL and the 1e300 card outright', async () => {
    const data = await call(farm.url, 'POST', '/v1/nodes', { json: { ...nodeCard('liar-data'), probeUrl: 'data:application/json,{}' }, token: null });
    expect(data.status).toBe(400);
    expect(data.body.message).toMatch(/http or https/);
    const huge = await call(farm.url, 'POST', '/v1/nodes', { json: { ...nodeCard('liar-huge'), tilesPerSecond: 1e300 }, token: null });
    expect(huge.status).toBe(400);
  });

  it('routes a probing client\'s tiled job to the honest node, which finishes it promptly with the right pixels', async () => {
    const silent = await fakePingServer(false);
    const forger = await fakePingServer(true);
    silent.setNodeId((await registerLiar('liar-silent', silent.url)).nodeId);
    forger.setNodeId((await registerLiar('liar-forger', forger.url)).nodeId);
    await waitFor('the honest node and both liars', async () => {
      const { nodes } = (await call<NodeList>(farm.url, 'GET', '/v1/nodes?healthy=true')).body;
      return nodes.length === 3 ? nodes : undefined;
    });
    const honestId = (await call<NodeList>(farm.url, 'GET', '/v1/nodes')).body.nodes.find((n) => n.card.name === 'honest')!.nodeId;

    const client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
    const probed = await client.probe({ count: 3 });
    // The liars' ping servers answer as fast as the honest node: the RTTs alone would not tell them apart.
    expect(probed.rtts.map((r) => r.nodeId).sort()).toEqual([honestId, ...liars.map((l) => l.nodeId)].sort());
    expect(probed.rtts.find((r) => r.nodeId === honestId)!.proof).toMatch(/^[0-9a-f]{64}$/);

    const started = Date.now();
    const { jobId } = await client.submitJob({ sceneId, frames: '0', size: '160x120', tile: 40, client: probed });
    let last: JobStatus | undefined;
    const status = await waitFor(
      `job ${jobId}`,
      async () => {
        const s = (await call<JobStatus>(farm.url, 'GET', `/v1/jobs/${jobId}`)).body;
        last = s;
        if (s.state === 'failed' || s.state === 'cancelled') throw Object.assign(new Error(`job ${s.state}: ${s.error}`), { fatal: true });
        return s.state === 'done' ? s : undefined;
      },
      60_000,
    ).catch((err) => {
      // What was left, for the failure message: each task's state, node and route.
      const left = last?.tasks.filter((t) => t.state !== 'done').map((t) => `${t.kind} ${t.state} node=${t.node} route=${t.route?.nodeId}/${t.route?.leasedAs}`);
      throw new Error(`${(err as Error).message}; unfinished: ${JSON.stringify(left)}; node log: ${farm.nodes[0].log.slice(-8).join(' | ')}`);
    });
    const elapsed = Date.now() - started;
    // Every tile was routed to the honest node (the liars' RTTs carried no valid proof), and it did all the work.
    const renders = status.tasks.filter((t) => t.kind === 'render');
    expect(renders).toHaveLength(12);
    for (const t of renders) expect(t.route?.nodeId, t.taskId).toBe(honestId);
    expect(new Set(status.tasks.map((t) => t.node))).toEqual(new Set([honestId]));
    expect(elapsed).toBeLessThan(60_000);

    const frames = (await call<JobFrames>(farm.url, 'GET', `/v1/jobs/${jobId}/frames`)).body;
    expect((await checkJobFrames(frames, [0], (frame) => local.render('animated-trs', { width: 160, height: 120 }, frame))).problems).toEqual([]);

    // What the API believes of the liars' cards: the prior, not 10,000 tiles/s.
    const listed = (await call<NodeList>(farm.url, 'GET', '/v1/nodes')).body.nodes;
    for (const l of liars) expect(listed.find((n) => n.nodeId === l.nodeId)!.trust).toMatchObject({ measuredTilesPerSecond: null, probation: true, tilesPerSecond: expect.any(Number) });
    for (const l of liars) expect(listed.find((n) => n.nodeId === l.nodeId)!.trust!.tilesPerSecond).toBeLessThanOrEqual(10);
    console.log(`issue-12 reproduction: tiled job done in ${elapsed} ms on the honest node alone`);
  }, 120_000);
});
