/**
 * Red team, render nodes (API level: a real API and s3rver, nodes driven over HTTP). Each attack must fail
 * and honest work must still complete with the honest node's output:
 *   - lying cards (unbounded numbers, data:/file: probe URLs) are refused; within bounds, a claimed speed
 *     is worth nothing until measured, and a slow node claiming 10,000 tiles/s loses to a measured one;
 *   - forged client RTTs (no proof, a forged proof, another node's proof) earn no routing credit;
 *   - hoarding: no more leases than slots, and no lease outlives its lifetime cap, heartbeats or not;
 *   - long-poll flood: one open long-poll per slot, the oldest ends;
 *   - poisoned peers: unassigned peers, unproven RTTs and invented echoes move nothing; a blocklisted node's
 *     heartbeats are refused; a claimed location refuted by a proven RTT is ignored.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import { NodeList, type NodeView } from '../../api/protocol/latency.ts';
import { MAX_TILES_PER_SECOND } from '../../api/protocol/node-card.ts';
import { HeartbeatAck } from '../../api/protocol/node-messages.ts';
import { newProbeNonce } from '../../api/protocol/probe-proof.ts';
import { NODE_PROTOCOL_VERSION } from '../../api/protocol/task.ts';
import { call, fakePng, nodeCard, provenRtt, sha256, startHarness, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GRACE_MS = 300;

let h: Harness;
let sceneId: string;

// A fresh API per test: nodes of one attack must not take part in another.
beforeEach(async () => {
  h = await startHarness({
    leaseMs: 1200,
    api: {
      recheckMs: 50,
      policy: { maxLeaseLifetimeMs: 2500 },
      routing: { seed: 12, graceMinMs: GRACE_MS, graceMaxMs: GRACE_MS, leaseWakeMs: 0, passIntervalMs: 50, probePeers: 1 },
    },
  });
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterEach(async () => h?.close());

const status = async (jobId: string) => (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body;
const submit = async (json: object) => {
  const res = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', ...json } });
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.jobId as string;
};
const nodes = async (): Promise<NodeView[]> => NodeList.parse((await call(h.url, 'GET', '/v1/nodes')).body).nodes;
const view = async (n: TestNode) => (await nodes()).find((v) => v.nodeId === n.id)!;

/** The bytes stored for the job's frame `frame`, as a client downloads them. */
async function frameBytes(jobId: string, frame: number): Promise<Uint8Array> {
  const listed = (await call<JobFrames>(h.url, 'GET', `/v1/jobs/${jobId}/frames`)).body;
  const f = listed.frames.find((x) => x.frame === frame)!;
  return new Uint8Array(await (await fetch(f.url)).arrayBuffer());
}

/** Lease, upload and report every task `node` is given until the job is done. */
async function work(node: TestNode, jobId: string, label = node.id): Promise<void> {
  for (let i = 0; i < 50 && (await status(jobId)).state !== 'done'; i++) {
    const t = await node.lease(1);
    if (t) expect((await node.finish(t, fakePng(`${label}:${t.taskId}`))).status).toBe(200);
  }
  expect((await status(jobId)).state).toBe('done');
}

describe('lying cards', () => {
  it('refuses unbounded numbers and probe URLs that are not http(s) or are too long', async () => {
    const register = (card: object) => call(h.url, 'POST', '/v1/nodes', { json: { ...base(), ...card } });
    const base = () => ({
      name: 'liar',
      region: 'eu',
      version: 'x',
      cpu: { model: 'c', cores: 2 },
      ramBytes: 1 << 30,
      gl: { renderer: 'r', vendor: 'v', version: '1', maxTextureSize: 4096, maxViewport: [4096, 4096] },
      tilesPerSecond: 10,
    });
    for (const [what, card] of [
      ['tilesPerSecond 1e300', { tilesPerSecond: 1e300 }],
      ['tilesPerSecond Infinity-ish', { tilesPerSecond: MAX_TILES_PER_SECOND + 1 }],
      ['a data: probe URL', { probeUrl: 'data:application/json,{}' }],
      ['a file: probe URL', { probeUrl: 'file:///etc/passwd' }],
      ['a 4 KiB probe URL', { probeUrl: `http://127.0.0.1:9/${'x'.repeat(4096)}` }],
      // Peers and clients GET a node's probe URL from their own networks: only /ping may be named.
      ['a probe URL with another path (the metadata service)', { probeUrl: 'http://169.254.169.254/latest/meta-data/iam/' }],
      ['a probe URL with a query', { probeUrl: 'http://203.0.113.7/ping?action=reboot' }],
      ['a probe URL with credentials', { probeUrl: 'http://admin:admin@203.0.113.7/ping' }],
      ['2^60 bytes of RAM', { ramBytes: 2 ** 60 }],
      ['a 2^20 texture size', { gl: { ...base().gl, maxTextureSize: 2 ** 20 } }],
      ['a region with markup', { region: '<script>' }],
      ['concurrency 1000', { concurrency: 1000 }],
      ['a location off the Earth', { location: { lat: 91, lon: 0 } }],
    ] as const) {
      const res = await register(card);
      expect(res.status, what).toBe(400);
      expect(res.body.code, what).toBe('BAD_REQUEST');
    }
  });

  it('routes on measured speed: a slow node claiming the maximum loses to a fast one once both are measured', async () => {
    const boaster = await TestNode.register(h, 'boaster', { tilesPerSecond: MAX_TILES_PER_SECOND });
    const modest = await TestNode.register(h, 'modest', { tilesPerSecond: 1 });
    // Before any result, the boast is worth no more than the prior.
    expect((await view(boaster)).trust).toMatchObject({ tilesPerSecond: 10, measuredTilesPerSecond: null, probation: true });
    // Each delivers three results; the boaster takes 2 s over each, the modest one answers at once.
    const warmup = await submit({ frames: '0-5', size: '64x64' });
    for (let i = 0; i < 3; i++) {
      const slow = (await boaster.lease(0))!;
      await sleep(2000);
      expect((await boaster.finish(slow, fakePng(`b${i}`))).status).toBe(200);
      const quick = (await modest.lease(0))!;
      expect((await modest.finish(quick, fakePng(`m${i}`))).status).toBe(200);
    }
    expect((await status(warmup)).state).toBe('done');
    const b = (await view(boaster)).trust!;
    const m = (await view(modest)).trust!;
    // 64×64 px is 1/16 of a reference tile; however little compute the boaster reports, 2 s of wall time a
    // result charge it at least 200 ms: at most 0.32 tiles/s, far below its claim.
    expect(b.measuredTilesPerSecond).toBeLessThan(0.32);
    expect(m.measuredTilesPerSecond!).toBeGreaterThan(b.measuredTilesPerSecond! * 2);
    // Same proven RTT to both: the measured-faster node gets every task.
    const jobId = await submit({ frames: '0-1', size: '64x64', client: { rtts: [await provenRtt(boaster, 10), await provenRtt(modest, 10)] } });
    const routes = (await status(jobId)).tasks.map((t) => t.route?.nodeId);
    expect(routes).toEqual([modest.id, modest.id]);
    await work(modest, jobId);
  });
});

describe('forged client RTTs', () => {
  it('gives no routing credit to an RTT without the node\'s proof, with a forged one, or with another node\'s', async () => {
    const liar = await TestNode.register(h, 'rtt-liar');
    const honest = await TestNode.register(h, 'rtt-honest');
    // Both ask for work (only nodes that do are routed to): the liar's only weapon is its RTT claim.
    expect(await liar.lease(0)).toBeNull();
    expect(await honest.lease(0)).toBeNull();
    const nonce = newProbeNonce();
    const stolen = await provenRtt(honest, 0.5); // a real answer, but the honest node's
    const jobId = await submit({
      frames: '0',
      size: '64x64',
      tile: 32,
      client: {
        rtts: [
          { nodeId: liar.id, rttMs: 0.1 },
          { nodeId: liar.id, rttMs: 0.2, nonce, proof: 'f'.repeat(64) },
          { nodeId: liar.id, rttMs: 0.3, nonce: stolen.nonce, proof: stolen.proof },
          await provenRtt(honest, 40),
        ],
      },
    });
    const s = await status(jobId);
    const renders = s.tasks.filter((t) => t.kind === 'render');
    expect(renders.map((t) => t.route?.nodeId)).toEqual(Array(4).fill(honest.id));
    expect(renders[0].route).toMatchObject({ rttSource: 'measured', predictedRttMs: 40 });
    expect(await liar.lease(0)).toBeNull();
    await work(honest, jobId, 'honest');
    expect(new Set((await status(jobId)).tasks.map((t) => t.node))).toEqual(new Set([honest.id]));
    expect(new TextDecoder().decode((await frameBytes(jobId, 0)).subarray(8))).toMatch(/^honest:/);
  });
});

describe('hoarding', () => {
  it('leases no more tasks than slots, and takes a task back at its lifetime cap however often the hoarder heartbeats', async () => {
    const hoarder = await TestNode.register(h, 'hoarder', { concurrency: 1 });
    const jobId = await submit({ frames: '0-1' });
    const held = (await hoarder.lease(0))!;
    expect(held.jobId).toBe(jobId);
    // A second lease while it holds its one slot: nothing, at once.
    const started = Date.now();
    expect(await hoarder.lease(0)).toBeNull();
    expect(Date.now() - started).toBeLessThan(1000);
    const honest = await TestNode.register(h, 'patient');
    const other = (await honest.lease(0))!;
    expect(other.taskId).not.toBe(held.taskId);
    expect((await honest.finish(other, fakePng('honest-other'))).status).toBe(200);
    // The hoarder keeps heartbeating, but the lease dies at its 2.5 s lifetime cap and the honest node takes it.
    let revoked: string[] = [];
    for (const end = Date.now() + 6000; Date.now() < end && !revoked.length; ) {
      revoked = (await hoarder.heartbeat([held.leaseId])).body.revoked;
      await sleep(300);
    }
    expect(revoked).toEqual([held.leaseId]);
    const again = (await honest.lease(2))!;
    expect(again.taskId).toBe(held.taskId);
    expect((await honest.finish(again, fakePng('honest-again'))).status).toBe(200);
    expect((await status(jobId)).state).toBe('done');
    expect((await hoarder.finish(held, fakePng('too late'))).status).toBe(409);
    expect(new TextDecoder().decode((await frameBytes(jobId, held.frame)).subarray(8))).toBe('honest-again');
  });
});

describe('hoarding through batched leases', () => {
  it('gives a batch no more than the free slots plus one lease-ahead task, which comes back in half a lease unless extended', async () => {
    const hoarder = await TestNode.register(h, 'batch-hoarder', { concurrency: 2 });
    const jobId = await submit({ frames: '0-5' });
    // More lease-ahead than the protocol allows is refused outright.
    const greedy = await call(h.url, 'POST', `/v1/nodes/${hoarder.id}/lease`, { json: { waitSeconds: 0, max: 8, ahead: 4, protocol: NODE_PROTOCOL_VERSION }, token: hoarder.reg.nodeToken });
    expect(greedy.status).toBe(400);
    expect(greedy.body.code).toBe('BAD_REQUEST');
    const before = Date.now();
    const held = await hoarder.leaseBatch(64, { ahead: 1 });
    // Two slots, one ahead: three tasks, however many it asks for; the third on half a lease.
    expect(held.map((t) => t.frame)).toEqual([0, 1, 2]);
    expect(held[2].leaseExpiresAt - before).toBeLessThanOrEqual(600 + 200);
    expect(held[0].leaseExpiresAt - before).toBeGreaterThan(1000);
    expect(await hoarder.leaseBatch(64, { ahead: 1 })).toEqual([]);
    // A completion's `next` is bounded the same way: one task freed, one task leased.
    const done = await hoarder.finishAndLease(held[0], fakePng('h0'), { max: 64, ahead: 1 });
    expect(done.body.next!.map((t) => t.frame)).toEqual([3]);
    // The hoarder never lists the lease-ahead task it sits on: past half a lease another node gets it.
    await sleep(700);
    const honest = await TestNode.register(h, 'honest-batch');
    const got = await honest.leaseBatch(4);
    expect(got.map((t) => t.taskId)).toContain(held[2].taskId);
    expect((await hoarder.finish(held[2], fakePng('too late'))).status).toBe(409);
    expect((await status(jobId)).state).toBe('running');
  });
});

describe('long-poll flood', () => {
  it('keeps one open long-poll per slot: extra ones end the oldest at once', async () => {
    const flooder = await TestNode.register(h, 'flooder', { concurrency: 1 });
    const started = Date.now();
    const polls = Array.from({ length: 5 }, (_, i) =>
      sleep(i * 50).then(async () => ({ i, res: await call(h.url, 'POST', `/v1/nodes/${flooder.id}/lease`, { json: { waitSeconds: 4, protocol: NODE_PROTOCOL_VERSION }, token: flooder.reg.nodeToken }), at: Date.now() - started })),
    );
    const first4 = await Promise.all(polls.slice(0, 4));
    // Each of the first four was ended by the next one, long before its 4 s wait.
    for (const p of first4) {
      expect(p.res.status).toBe(204);
      expect(p.at).toBeLessThan(2500);
    }
    // The newest is the one still open: it gets the next task.
    const jobId = await submit({ frames: '0' });
    const last = await polls[4];
    expect(last.res.status).toBe(200);
    expect(last.res.body.jobId).toBe(jobId);
  });
  it('counts a node\'s session long-poll apart from its task slots: a 1-slot node with a session slot keeps both open', async () => {
    // A real node long-polls for tasks and, separately, for sessions. Were both counted against its one task slot,
    // each would end the other at once and the node would spin on the lease route (hundreds of calls a second).
    const node = await TestNode.register(h, 'task-and-session-polls', { concurrency: 1, sessionSlots: 1 });
    const started = Date.now();
    const poll = (kinds: string[]) =>
      call(h.url, 'POST', `/v1/nodes/${node.id}/lease`, { json: { waitSeconds: 2, kinds, protocol: NODE_PROTOCOL_VERSION }, token: node.reg.nodeToken }).then((res) => ({ status: res.status, at: Date.now() - started }));
    const [tasks, sessions] = await Promise.all([poll(['task']), sleep(100).then(() => poll(['session']))]);
    expect(tasks.status).toBe(204);
    expect(sessions.status).toBe(204);
    // Both waited out their 2 s: neither displaced the other.
    expect(tasks.at).toBeGreaterThan(1800);
    expect(sessions.at).toBeGreaterThan(1800);
  });
});

describe('poisoned coordinates', () => {
  it('accepts peer RTTs only for assigned peers with their proof, and echoes only of its own acks', async () => {
    const a = await TestNode.register(h, 'poison-a', { probeUrl: 'http://127.0.0.1:9/ping' });
    // One peer it may be asked to ping (probePeers: 1), one it is not.
    await TestNode.register(h, 'poison-b', { probeUrl: 'http://127.0.0.1:10/ping' });
    await TestNode.register(h, 'poison-c');
    const beat = async (body: object) => {
      const res = await call(h.url, 'POST', `/v1/nodes/${a.id}/heartbeat`, { json: { leaseIds: [], load: 0, ...body }, token: a.reg.nodeToken });
      expect(res.status).toBe(200);
      return HeartbeatAck.parse(res.body);
    };
    // An invented echo (a serverTime the API never sent) and a node-claimed RTT are not timed as the API's own.
    const first = await beat({ echo: { serverTime: Date.now() - 5000, heldMs: 4990 } });
    expect(first.rttToApiMs).toBeUndefined();
    expect(first.probePeers).toHaveLength(1);
    const assignedId = first.probePeers[0].nodeId;
    const all = await nodes();
    const assigned = all.find((n) => n.nodeId === assignedId)!;
    const unassigned = all.find((n) => n.nodeId !== assignedId && n.nodeId !== a.id && n.card.probeUrl === undefined)!;
    const before = await nodes();
    const coordOf = (list: NodeView[], id: string) => JSON.stringify(list.find((n) => n.nodeId === id)!.coordinate);
    // Not assigned (whatever it carries), or assigned without a valid proof: refused, nothing moves.
    await beat({ peers: [{ nodeId: unassigned.nodeId, rttMs: 1 }, { nodeId: assignedId, rttMs: 1, nonce: newProbeNonce(), proof: '0'.repeat(64) }] });
    const after = await nodes();
    expect(coordOf(after, unassigned.nodeId)).toBe(coordOf(before, unassigned.nodeId));
    expect(coordOf(after, assignedId)).toBe(coordOf(before, assignedId));
    expect(assigned).toBeDefined();
  });

  it('ignores a claimed location that a proven RTT refutes (Tokyo answering Frankfurt in 1 ms)', async () => {
    const own = await startHarness({ api: { routing: { probePeers: 1 } } });
    try {
      const reg = async (name: string, location: object) => {
        const res = await call(own.url, 'POST', '/v1/nodes', { json: { ...nodeCard(name), probeUrl: 'http://127.0.0.1:9/ping', location } });
        return new TestNode(own, res.body);
      };
      const frankfurt = await reg('fra', { lat: 50.11, lon: 8.68 });
      const tokyo = await reg('tyo', { lat: 35.68, lon: 139.69 });
      const hb = async (n: TestNode, body: object) => HeartbeatAck.parse((await call(own.url, 'POST', `/v1/nodes/${n.id}/heartbeat`, { json: { leaseIds: [], load: 0, ...body }, token: n.reg.nodeToken })).body);
      const ack = await hb(frankfurt, {});
      expect(ack.probePeers.map((p) => p.nodeId)).toEqual([tokyo.id]);
      await hb(frankfurt, { peers: [await provenRtt(tokyo, 1)] });
      const listed = NodeList.parse((await call(own.url, 'GET', '/v1/nodes')).body).nodes;
      // Neither has a record yet, so neither claim is believed any more (with a record, only the newcomer's falls).
      expect(listed.find((n) => n.nodeId === tokyo.id)!.trust!.locationRefuted).toMatch(/faster than light/);

      // A physically possible RTT (Frankfurt – Paris, 479 km, in 12 ms) refutes nothing.
      const paris = await reg('par', { lat: 48.86, lon: 2.35 });
      const frankfurt2 = await reg('fra2', { lat: 50.11, lon: 8.68 });
      const ack2 = await hb(paris, {});
      const peer = ack2.probePeers[0].nodeId === frankfurt2.id ? frankfurt2 : null;
      if (peer) {
        await hb(paris, { peers: [await provenRtt(peer, 12)] });
        const again = NodeList.parse((await call(own.url, 'GET', '/v1/nodes')).body).nodes;
        expect(again.find((n) => n.nodeId === paris.id)!.trust!.locationRefuted).toBeNull();
        expect(again.find((n) => n.nodeId === frankfurt2.id)!.trust!.locationRefuted).toBeNull();
      }
    } finally {
      await own.close();
    }
  });

  it('refuses a blocklisted node\'s heartbeats', async () => {
    const own = await startHarness({ api: { verification: { sampleRate: 1, blocklistAfter: 1, seed: 'poison' } } });
    try {
      const own1 = await uploadSceneFile(own, 'scenes/animated-trs.glb');
      const [liar, x, y] = [await TestNode.register(own, 'bl-liar'), await TestNode.register(own, 'bl-x'), await TestNode.register(own, 'bl-y')];
      for (const n of [liar, x, y]) expect(await n.lease(0)).toBeNull();
      const res = await call(own.url, 'POST', '/v1/jobs', { json: { sceneId: own1, size: '16x16', frames: '0' } });
      const jobId = res.body.jobId as string;
      const t = (await liar.lease(0))!;
      await liar.finish(t, fakePng('wrong'));
      const v1 = (await x.lease(0))!;
      await x.finish(v1, fakePng('right'));
      const v2 = (await y.lease(0))!;
      await y.finish(v2, fakePng('right'));
      const refused = await call(own.url, 'POST', `/v1/nodes/${liar.id}/heartbeat`, { json: { leaseIds: [], load: 0 }, token: liar.reg.nodeToken });
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('NODE_BLOCKLISTED');
      // The honest nodes finish the job.
      for (let i = 0; i < 6 && (await call<JobStatus>(own.url, 'GET', `/v1/jobs/${jobId}`)).body.state !== 'done'; i++) {
        for (const n of [x, y]) {
          const task = await n.lease(0);
          if (task) await n.finish(task, fakePng('right'));
        }
      }
      expect((await call<JobStatus>(own.url, 'GET', `/v1/jobs/${jobId}`)).body.state).toBe('done');
      const listed = (await call<JobFrames>(own.url, 'GET', `/v1/jobs/${jobId}/frames`)).body;
      expect(sha256(new Uint8Array(await (await fetch(listed.frames[0].url)).arrayBuffer()))).toBe(sha256(fakePng('right')));
    } finally {
      await own.close();
    }
  });
});
