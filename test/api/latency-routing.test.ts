/**
 * Latency routing through the HTTP API with render nodes played by plain fetch calls, so every decision
 * can be predicted exactly: cards with known speeds, clients with known RTTs. Covers the routing decision
 * (earliest expected finish, busy nodes, requirements), how a routed task moves (fallback after the grace
 * period, re-routing when its node goes silent), what heartbeats measure, and the node search routes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteJobStore, JOB_DB_FILE } from '../../api/node/sqlite-job-store.ts';
import { JOB_STORE_SCHEMA } from '../../api/core/job-store-schema.ts';
import type { JobStatus } from '../../api/protocol/job-status.ts';
import { NearbyNodes, NodeList } from '../../api/protocol/latency.ts';
import type { NodeCardInput } from '../../api/protocol/node-card.ts';
import { HeartbeatAck, NodeRegistered } from '../../api/protocol/node-messages.ts';
import { TASK_POLICY_DEFAULTS } from '../../api/core/task-policy.ts';
import { call, fakePng, nodeCard, provenRtt, startHarness, TestNode, uploadSceneFile, type Harness, type HarnessOptions } from '../support/api-harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GRACE_MS = 300;

/** Register a node with a card of our choosing. */
async function register(h: Harness, name: string, card: Partial<NodeCardInput> = {}): Promise<TestNode> {
  const res = await call<NodeRegistered>(h.url, 'POST', '/v1/nodes', { json: { ...nodeCard(name), ...card } });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
  const node = new TestNode(h, NodeRegistered.parse(res.body));
  // A running node asks for work (real ones long-poll all the time): only such nodes are routed to.
  expect(await node.lease(0)).toBeNull();
  return node;
}

async function harness(options: HarnessOptions = {}) {
  const h = await startHarness({
    ...options,
    api: { recheckMs: 50, ...options.api, routing: { seed: 7, graceMinMs: GRACE_MS, graceMaxMs: GRACE_MS, leaseWakeMs: 0, passIntervalMs: 50, ...options.api?.routing } },
  });
  return { h, sceneId: await uploadSceneFile(h, 'scenes/animated-trs.glb') };
}

const status = async (h: Harness, jobId: string) => (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body;
const submit = async (h: Harness, json: object) => {
  const res = await call(h.url, 'POST', '/v1/jobs', { json });
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.jobId as string;
};
/** The client's RTTs, each with the node's answer to its challenge (the API ignores unproven RTTs). */
const rtts = (entries: [TestNode, number][]) => Promise.all(entries.map(([n, rttMs]) => provenRtt(n, rttMs)));

describe('routing decisions', () => {
  // A farm per test: a node the client did not measure still counts (at an assumed RTT), so nodes of
  // earlier tests would take part.
  let h: Harness;
  let sceneId: string;
  beforeEach(async () => ({ h, sceneId } = await harness()));
  afterEach(async () => h?.close());

  it('routes every task of a job to the node nearest its client, by measurement alone', async () => {
    const [near, mid, far] = [await register(h, 'near'), await register(h, 'mid'), await register(h, 'far')];
    const jobId = await submit(h, { sceneId, size: '64x64', tile: 32, frames: '0', client: { rtts: await rtts([[far, 120], [near, 5], [mid, 40]]) } });
    const s = await status(h, jobId);
    const renders = s.tasks.filter((t) => t.kind === 'render');
    expect(renders.map((t) => t.route?.nodeId)).toEqual([near.id, near.id, near.id, near.id]);
    expect(renders[0].route).toMatchObject({ rttSource: 'measured', predictedRttMs: 5, queueMs: 0, leasedAs: null, fallbackId: mid.id });
    expect(renders[0].route!.reason).toMatch(/earliest expected finish .* RTT 5\.0 ms \(measured\)/);
    // The stitch is routed once its tiles are done, not before.
    expect(s.tasks.find((t) => t.kind === 'stitch')!.route).toBeNull();

    // Other nodes get nothing while the chosen node is in time.
    expect(await mid.lease(0)).toBeNull();
    expect(await far.lease(0)).toBeNull();
    for (let i = 0; i < 4; i++) {
      const task = (await near.lease(0))!;
      expect(task.kind).toBe('render');
      await near.finish(task, fakePng(task.taskId));
    }
    const stitch = (await near.lease(0))!;
    expect(stitch.kind).toBe('stitch');
    await near.finish(stitch, fakePng('frame'));
    const done = await status(h, jobId);
    expect(done.state).toBe('done');
    expect(new Set(done.tasks.map((t) => t.node))).toEqual(new Set([near.id]));
    expect(done.tasks.every((t) => t.route?.leasedAs === 'chosen')).toBe(true);
  });

  it('weighs queue wait and render time against RTT: the earliest expected finish wins', async () => {
    // 1 tile/s on the reference 256×256 tile: a 64×64 tile takes 62.5 ms; one task at a time.
    const card = { tilesPerSecond: 1, concurrency: 1 };
    const [a, b] = [await register(h, 'quick-a', card), await register(h, 'quick-b', card)];
    const client = { rtts: await rtts([[a, 5], [b, 40]]) };
    const jobId = await submit(h, { sceneId, size: '128x128', tile: 64, frames: '0', client });
    const routes = (await status(h, jobId)).tasks.filter((t) => t.kind === 'render').map((t) => t.route!);
    // a: 5 + 0 + 62.5 = 67.5 · then a: 5 + 62.5 + 62.5 = 130 > b: 40 + 62.5 = 102.5 · a: 130 < b: 165 · b: 165 < a: 192.5
    expect(routes.map((r) => r.nodeId)).toEqual([a.id, b.id, a.id, b.id]);
    expect(routes.map((r) => r.score)).toEqual([67.5, 102.5, 130, 165]);
    expect(routes.map((r) => r.queueMs)).toEqual([0, 0, 62.5, 62.5]);
    expect(routes[0].renderMs).toBe(62.5);
    await call(h.url, 'DELETE', `/v1/jobs/${jobId}`);
  });

  it('prefers the node whose heartbeats report the scene cached when RTTs tie, for sessions and tasks; the report is bounded and checked', async () => {
    const card = { tilesPerSecond: 1, concurrency: 1, sessionSlots: 2, sessionUrl: 'ws://127.0.0.1:9/', probeUrl: 'http://127.0.0.1:9/ping' };
    const [a, b] = [await register(h, 'liar', card), await register(h, 'cached', card)];
    const report = (n: TestNode, scenes: unknown) => call(h.url, 'POST', `/v1/nodes/${n.id}/heartbeat`, { json: { leaseIds: [], load: 0, scenes }, token: n.reg.nodeToken });
    // b really got the scene: it rendered a task of a job on it (the lease carried the scene's URL). a never did.
    await submit(h, { sceneId, size: '16x16', frames: '0' });
    const warm = (await b.lease(0))!;
    await b.finish(warm, fakePng(warm.taskId));
    const other = 'c'.repeat(64);
    // a claims the scene too, but this API never handed it to a: the claim does not count.
    expect((await report(a, [other, sceneId])).status).toBe(200);
    expect((await report(b, [other, sceneId])).status).toBe(200);
    await sleep(300); // the API reuses its node list for 250 ms (nodeCacheMs)
    const client = { rtts: await rtts([[a, 20], [b, 20]]) };
    const placed: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', client } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      placed.push(res.body.nodeId);
      if (i === 0) {
        expect(res.body.route).toMatchObject({ nodeId: b.id, sceneCached: true, sceneLoadMs: 0, predictedRttMs: 20 });
        expect(res.body.route.reason).toMatch(/scene load 0\.0 ms \(cached\)/);
      }
      await call(h.url, 'DELETE', `/v1/sessions/${res.body.sessionId}`);
    }
    expect(placed).toEqual(Array(8).fill(b.id));
    // Tasks: b saves the scene load (150 ms + bytes at 20 MB/s), so it takes tasks until its queue outweighs that.
    const jobId = await submit(h, { sceneId, size: '128x128', tile: 64, frames: '0', client });
    const routes = (await status(h, jobId)).tasks.filter((t) => t.kind === 'render').map((t) => t.route!);
    expect(routes[0]).toMatchObject({ nodeId: b.id, score: 82.5 });
    expect(routes[0].reason).toMatch(/scene load 0\.0 ms \(cached\)/);
    expect(routes.filter((r) => r.nodeId === b.id).length).toBeGreaterThan(routes.filter((r) => r.nodeId === a.id).length);
    await call(h.url, 'DELETE', `/v1/jobs/${jobId}`);

    // Once b no longer reports it (evicted), the tie is broken at random again: a gets some of the sessions.
    expect((await report(b, [])).status).toBe(200);
    await sleep(300);
    const after: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', client } });
      after.push(res.body.nodeId);
      expect(res.body.route.sceneCached).toBe(false);
      await call(h.url, 'DELETE', `/v1/sessions/${res.body.sessionId}`);
    }
    expect(after).toContain(a.id);

    // The claim is bounded: at most 64 ids, each a sha256 in hex.
    expect((await report(b, Array.from({ length: 65 }, (_, i) => i.toString(16).padStart(64, '0')))).status).toBe(400);
    expect((await report(b, ['../../etc/passwd'])).status).toBe(400);
    expect((await report(b, [sceneId.toUpperCase()])).status).toBe(400);

    // A depth session goes only to a node whose card lists the depth feature (an older node would send none).
    const noDepth = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', depth: true, client } });
    expect(noDepth.status).toBe(503);
    expect(noDepth.body.message).toMatch(/2 unable to serve this session/);
    const c = await register(h, 'depth', { ...card, sessionFeatures: ['depth'] });
    await sleep(300);
    const depth = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', depth: true, client } });
    expect(depth.status, JSON.stringify(depth.body)).toBe(201);
    expect(depth.body.nodeId).toBe(c.id);

    // Likewise a fast-look session: only a node listing `fast` (an older node would refuse the lease's field).
    const noFast = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', fidelity: 'fast', client } });
    expect(noFast.status).toBe(503);
    expect(noFast.body.message).toMatch(/3 unable to serve this session/);
    const f = await register(h, 'fast', { ...card, sessionFeatures: ['depth', 'fast'] });
    await sleep(300);
    const fast = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', fidelity: 'fast', client } });
    expect(fast.status, JSON.stringify(fast.body)).toBe(201);
    expect(fast.body.nodeId).toBe(f.id);
    expect((await call(h.url, 'GET', `/v1/sessions/${fast.body.sessionId}`)).body.fidelity).toBe('fast');
    expect((await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', fidelity: 'pretty', client } })).status).toBe(400);
  });

  it('places a session of a WebGL 2 scene only on a node whose sessions render on WebGL 2 (its card lists the webgl2 session feature)', async () => {
    const dispersion = await uploadSceneFile(h, 'scenes/dispersion.glb');
    const card = { tilesPerSecond: 10, concurrency: 1, sessionSlots: 2, sessionUrl: 'ws://127.0.0.1:9/', probeUrl: 'http://127.0.0.1:9/ping' };
    // A WebGL 1 node, and a node with a WebGL 2 batch backend whose sessions (an older node) render on headless-gl.
    const gl1 = await register(h, 'gl1', { ...card, sessionFeatures: ['depth', 'fast'] });
    const older = await register(h, 'older', { ...card, sessionFeatures: ['depth', 'fast'], backends: [{ id: 'headless-gl', webgl2: false, version: 'a' }, { id: 'chromium', webgl2: true, version: 'b' }] });
    await sleep(300);
    const client = { rtts: await rtts([[gl1, 5], [older, 5]]) };
    const refused = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId: dispersion, eye: '64x64', client } });
    // Neither renders sessions on WebGL 2, so no retry can help: 422 NO_CAPABLE_NODE, in a batch job's words.
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('NO_CAPABLE_NODE');
    expect(refused.body.message).toMatch(/the scene uses [^)]*KHR_materials_dispersion, which render only on WebGL 2, and none of the 2 registered nodes renders sessions on it \(start one with `tessera node start --backend auto` or `--backend chromium`\)/);
    // A scene without WebGL 2 features still goes to either.
    const plain = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', client } });
    expect(plain.status, JSON.stringify(plain.body)).toBe(201);
    await call(h.url, 'DELETE', `/v1/sessions/${plain.body.sessionId}`);
    const webgl2 = await register(h, 'webgl2', { ...card, sessionFeatures: ['depth', 'fast', 'webgl2'], backends: [{ id: 'chromium', webgl2: true, version: 'b' }] });
    await sleep(300);
    const client2 = { rtts: await rtts([[gl1, 5], [older, 5], [webgl2, 80]]) };
    for (const extra of [{}, { depth: true }, { fidelity: 'fast' }]) {
      const placed = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId: dispersion, eye: '64x64', client: client2, ...extra } });
      expect(placed.status, JSON.stringify(placed.body)).toBe(201);
      // The farther node: the nearer two cannot render the scene's glass in a session.
      expect(placed.body.nodeId).toBe(webgl2.id);
      expect(placed.body.route.reason).toMatch(/passed over 2 without WebGL 2 sessions/);
      // Its session starts a Chromium of its own: that start is part of the expected first frame.
      expect(placed.body.route.sceneLoadMs).toBeGreaterThanOrEqual(2000);
      expect(placed.body.route.reason).toMatch(/with Chromium's start, 2000\.0 ms/);
      await call(h.url, 'DELETE', `/v1/sessions/${placed.body.sessionId}`);
    }
    // Its two slots taken, the next session has a node that will serve it once a slot is free: 503, retry.
    const held = [];
    for (let i = 0; i < 2; i++) held.push(await call(h.url, 'POST', '/v1/sessions', { json: { sceneId: dispersion, eye: '64x64', client: client2 } }));
    expect(held.map((r) => [r.status, r.body.nodeId])).toEqual([[201, webgl2.id], [201, webgl2.id]]);
    const full = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId: dispersion, eye: '64x64', client: client2 } });
    expect(full.status, JSON.stringify(full.body)).toBe(503);
    expect(full.body.code).toBe('UNAVAILABLE');
    expect(full.body.message).toMatch(/1 with no free session slot.*retry shortly/);
    for (const r of held) await call(h.url, 'DELETE', `/v1/sessions/${r.body.sessionId}`);
    // A client may ask for WebGL 2 for any scene: the same check.
    const asked = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', client: client2, requirements: { webgl2: true } } });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    expect(asked.body.nodeId).toBe(webgl2.id);
    expect(asked.body.route.reason).toMatch(/the session requires WebGL 2/);
    await call(h.url, 'DELETE', `/v1/sessions/${asked.body.sessionId}`);
    // A plain scene: the WebGL 1 nodes pay no Chromium start (so at equal RTT they come first).
    const client3 = { rtts: await rtts([[gl1, 5], [older, 5], [webgl2, 5]]) };
    for (let i = 0; i < 6; i++) {
      const p = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', client: client3 } });
      expect(p.status, JSON.stringify(p.body)).toBe(201);
      expect(p.body.nodeId).not.toBe(webgl2.id);
      await call(h.url, 'DELETE', `/v1/sessions/${p.body.sessionId}`);
    }
  });

  it('never fills a busy node: the rest waits and is routed as queues drain', async () => {
    const card = { tilesPerSecond: 1000, concurrency: 1 };
    const [a, b] = [await register(h, 'busy-a', card), await register(h, 'busy-b', card)];
    const jobId = await submit(h, { sceneId, size: '16x16', frames: '0-11', client: { rtts: await rtts([[a, 1], [b, 900]]) } });
    const routed = (await status(h, jobId)).tasks.map((t) => t.route?.nodeId ?? null);
    // Four queued tasks per slot make a node busy.
    expect(routed.filter((id) => id === a.id)).toHaveLength(4);
    expect(routed.filter((id) => id === b.id)).toHaveLength(4);
    expect(routed.filter((id) => id === null)).toHaveLength(4);
    const first = (await a.lease(0))!;
    await a.finish(first, fakePng(first.taskId));
    // a's queue has room again: its next lease call routes one more task to it first.
    await a.lease(0);
    const after = (await status(h, jobId)).tasks.map((t) => t.route?.nodeId ?? null);
    expect(after.filter((id) => id === a.id)).toHaveLength(5);
    expect(after.filter((id) => id === null)).toHaveLength(3);
    await call(h.url, 'DELETE', `/v1/jobs/${jobId}`);
  });

  it('never gives a task to a node that does not meet its job\'s requirements', async () => {
    const small = await register(h, 'small', { region: 'eu', ramBytes: 1 << 30 });
    // Three slots: it holds three leases at once below (no node may hold more leases than slots).
    const big = await register(h, 'big', { region: 'us', ramBytes: 64 * 2 ** 30, concurrency: 3 });
    const jobId = await submit(h, {
      sceneId,
      size: '16x16',
      frames: '0-1',
      requirements: { minRamBytes: 32 * 2 ** 30 },
      client: { rtts: await rtts([[small, 1], [big, 200]]) },
    });
    expect((await status(h, jobId)).tasks.map((t) => t.route?.nodeId)).toEqual([big.id, big.id]);
    // Past every grace period the tasks are open to any capable node — which the small one is not.
    await sleep(3 * GRACE_MS);
    expect(await small.lease(0)).toBeNull();
    expect((await big.lease(0))?.jobId).toBe(jobId);
    expect((await big.lease(0))?.jobId).toBe(jobId);

    // A first-come job with requirements: the same rule at lease time.
    const regional = await submit(h, { sceneId, size: '16x16', frames: '5', requirements: { allowedRegions: ['us'] }, priority: 99 });
    expect(await small.lease(0)).toBeNull();
    const t = (await big.lease(0))!;
    expect(t.jobId).toBe(regional);
    expect((await status(h, regional)).tasks[0].route).toMatchObject({ nodeId: big.id, leasedAs: 'first-free', predictedRttMs: null });
    await call(h.url, 'DELETE', `/v1/jobs/${jobId}`);
    await call(h.url, 'DELETE', `/v1/jobs/${regional}`);
  });

  it('keeps maxRttMs: nodes beyond it are skipped, and the limit needs measured RTTs', async () => {
    const [x, y] = [await register(h, 'rtt-x', { tilesPerSecond: 1, concurrency: 1 }), await register(h, 'rtt-y', { tilesPerSecond: 1, concurrency: 1 })];
    const jobId = await submit(h, { sceneId, size: '128x128', tile: 64, frames: '0', requirements: { maxRttMs: 50 }, client: { rtts: await rtts([[x, 10], [y, 80]]) } });
    const routes = (await status(h, jobId)).tasks.filter((t) => t.kind === 'render').map((t) => t.route!);
    // y would finish sooner for the later tiles, but it is 80 ms from the client.
    expect(routes.map((r) => r.nodeId)).toEqual([x.id, x.id, x.id, x.id]);
    const refused = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0', requirements: { maxRttMs: 50 } } });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/maxRttMs needs the client's RTTs/);
    await call(h.url, 'DELETE', `/v1/jobs/${jobId}`);
  });
});

describe('how routed work moves', () => {
  let h: Harness;
  let sceneId: string;
  // Short leases: a node is unhealthy after 3 heartbeat intervals = one lease (900 ms) of silence.
  beforeEach(async () => ({ h, sceneId } = await harness({ leaseMs: 900 })));
  afterEach(async () => h?.close());

  it('lets the fallback take a task its chosen node did not lease within the grace period', async () => {
    const [slow, spare] = [await register(h, 'sleepy'), await register(h, 'spare')];
    const jobId = await submit(h, { sceneId, size: '16x16', frames: '0', client: { rtts: await rtts([[slow, 5], [spare, 30]]) } });
    expect((await status(h, jobId)).tasks[0].route).toMatchObject({ nodeId: slow.id, fallbackId: spare.id });
    expect(await spare.lease(0)).toBeNull();
    await sleep(GRACE_MS + 100);
    const task = (await spare.lease(0))!;
    expect(task.jobId).toBe(jobId);
    await spare.finish(task, fakePng('taken over'));
    expect((await status(h, jobId)).tasks[0]).toMatchObject({ node: spare.id, route: { nodeId: slow.id, leasedAs: 'fallback' } });
  });

  it('routes again the tasks of a node that went silent', async () => {
    const card = { tilesPerSecond: 1000, concurrency: 1 };
    const [dead, alive, other] = [await register(h, 'doomed', card), await register(h, 'alive', card), await register(h, 'other', card)];
    const jobId = await submit(h, { sceneId, size: '16x16', frames: '0-2', client: { rtts: await rtts([[dead, 2], [alive, 50], [other, 60]]) } });
    expect((await status(h, jobId)).tasks.map((t) => t.route?.nodeId)).toEqual([dead.id, dead.id, dead.id]);
    // `dead` says nothing more; `alive` keeps heartbeating (and `other` stays quiet too, so it dies as well).
    const beat = setInterval(() => void alive.heartbeat([]), 200);
    try {
      await sleep(1200);
      const task = (await alive.lease(0))!;
      expect(task.jobId).toBe(jobId);
      const routes = (await status(h, jobId)).tasks.map((t) => t.route);
      expect(routes.map((r) => r?.nodeId)).toEqual([alive.id, alive.id, alive.id]);
      expect(routes[0]).toMatchObject({ leasedAs: 'chosen', predictedRttMs: 50 });
      const healthy = NodeList.parse((await call(h.url, 'GET', '/v1/nodes?healthy=true')).body).nodes.map((n) => n.nodeId);
      expect(healthy).toContain(alive.id);
      expect(healthy).not.toContain(dead.id);
    } finally {
      clearInterval(beat);
    }
  });
});

describe('measurements and the node directory', () => {
  let h: Harness;
  beforeAll(async () => ({ h } = await harness()));
  afterAll(async () => h?.close());

  it('times heartbeats on both sides, keeps coordinates and answers with peers to ping', async () => {
    const a = await register(h, 'meas-a', { probeUrl: 'http://127.0.0.1:9/ping', region: 'eu' });
    const b = await register(h, 'meas-b', { probeUrl: 'http://127.0.0.1:10/ping', region: 'us' });
    const beat = async (node: TestNode, body: object) => {
      const res = await call(h.url, 'POST', `/v1/nodes/${node.id}/heartbeat`, { json: { leaseIds: [], load: 0, ...body }, token: node.reg.nodeToken });
      expect(res.status).toBe(200);
      return HeartbeatAck.parse(res.body);
    };
    const first = await beat(a, {});
    const ackAt = Date.now();
    expect(first.probePeers).toEqual([{ nodeId: b.id, probeUrl: 'http://127.0.0.1:10/ping', region: 'us' }]);
    expect(first.rttToApiMs).toBeUndefined();
    // The node holds the ack 300 ms before echoing it: the API subtracts the hold from ack → heartbeat,
    // which leaves about one loopback round trip.
    await sleep(300);
    // The node's own (pretended) figure is far higher: the filter keeps the minimum, the API's timing.
    const second = await beat(a, { echo: { serverTime: first.serverTime, heldMs: Date.now() - ackAt }, rttToApiMs: 900, peers: [await provenRtt(b, 30)] });
    expect(second.rttToApiMs).toBeGreaterThan(0);
    expect(second.rttToApiMs).toBeLessThan(250);
    expect(second.coordinate!.vec.some((v) => v !== 0)).toBe(true);

    const listed = NodeList.parse((await call(h.url, 'GET', '/v1/nodes')).body).nodes;
    const viewA = listed.find((n) => n.nodeId === a.id)!;
    const viewB = listed.find((n) => n.nodeId === b.id)!;
    expect(viewA).toMatchObject({ healthy: true, rttToApiMs: second.rttToApiMs, coordinate: second.coordinate });
    // The peer measurement moved b's coordinate too.
    expect(viewB.coordinate?.vec.some((v) => v !== 0)).toBe(true);
    expect(viewA.lastSeen).toBeGreaterThan(0);
    expect(viewA.load).toEqual({ queued: 0, running: 0, concurrency: 1, reported: 0 });
  });

  it('searches nodes by card fields and health', async () => {
    await register(h, 'big-gpu', { region: 'ap', ramBytes: 2 ** 36, gl: { ...nodeCard('x').gl, maxTextureSize: 32768 } });
    const search = async (q: string) => NodeList.parse((await call(h.url, 'GET', `/v1/nodes${q}`)).body).nodes.map((n) => n.card.name);
    expect(await search('?region=ap')).toEqual(['big-gpu']);
    expect(await search('?minRamBytes=68719476736')).toEqual(['big-gpu']);
    expect(await search('?minTextureSize=20000&healthy=true')).toEqual(['big-gpu']);
    expect(await search('?healthy=false')).toEqual([]);
    expect((await call(h.url, 'GET', '/v1/nodes?healthy=maybe')).status).toBe(400);
  });

  it('suggests nodes to probe: nearest to the client\'s location, else spread landmarks', async () => {
    const amsterdam = await register(h, 'ams', { probeUrl: 'http://127.0.0.1:11/ping', region: 'eu', location: { lat: 52.37, lon: 4.9 } });
    const tokyo = await register(h, 'tyo', { probeUrl: 'http://127.0.0.1:12/ping', region: 'ap', location: { lat: 35.68, lon: 139.69 } });
    const nearParis = NearbyNodes.parse((await call(h.url, 'GET', '/v1/nodes/nearby?lat=48.85&lon=2.35&count=1')).body);
    expect(nearParis).toEqual({ candidates: [{ nodeId: amsterdam.id, probeUrl: 'http://127.0.0.1:11/ping', region: 'eu' }], location: { lat: 48.85, lon: 2.35, source: 'query' } });
    const nearOsaka = NearbyNodes.parse((await call(h.url, 'GET', '/v1/nodes/nearby?lat=34.69&lon=135.5&count=1')).body);
    expect(nearOsaka.candidates[0].nodeId).toBe(tokyo.id);
    const anywhere = NearbyNodes.parse((await call(h.url, 'GET', '/v1/nodes/nearby?count=16')).body);
    expect(anywhere.location).toBeNull();
    // Only nodes with a probe URL are suggested.
    expect(anywhere.candidates.every((c) => c.probeUrl.startsWith('http://127.0.0.1:'))).toBe(true);
    expect(anywhere.candidates.map((c) => c.nodeId)).toEqual(expect.arrayContaining([amsterdam.id, tokyo.id]));
  });
});

describe('schema', () => {
  it('upgrades a database made before latency routing, keeping its jobs leasable', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-migrate-'));
    try {
      const db = new Database(path.join(dir, JOB_DB_FILE));
      db.exec(JOB_STORE_SCHEMA);
      db.prepare(`INSERT INTO jobs (job_id, scene_id, state, priority, view, encode, frames, tile, created_at, updated_at) VALUES ('old', 's', 'queued', 50, ?, '{"format":"png","quality":90,"lossless":true}', '[0]', NULL, 1, 1)`).run(
        JSON.stringify({ width: 16, height: 16, camera: { kind: 'auto', yaw: 30, pitch: 15, fov: 40 }, fps: 24, ssaa: 1, toneMapping: 'neutral', exposure: 1, background: 'transparent', environmentIntensity: 1, keyLight: 'auto' }),
      );
      db.prepare(`INSERT INTO tasks (task_id, job_id, kind, frame, idx, tile, final, output_key, state, updated_at) VALUES ('old.0.0', 'old', 'render', 0, 0, '{"x":0,"y":0,"width":16,"height":16}', 1, 'k', 'queued', 1)`).run();
      db.close();
      const store = createSqliteJobStore(dir);
      const job = (await store.getJob('old'))!;
      expect(job).toMatchObject({ routed: false, requirements: null, client: null });
      const leased = await store.leaseNext({ nodeId: 'n', leaseId: 'l', now: 10, policy: TASK_POLICY_DEFAULTS });
      expect(leased?.task).toMatchObject({ taskId: 'old.0.0', route: { nodeId: 'n', leasedAs: 'first-free' } });
      await store.close();
      // And again: the upgrade is idempotent.
      await createSqliteJobStore(dir).close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
