/**
 * Red team, issue 12's credit: "liars earn 0 credited render-seconds", including liars whose every render is
 * honest, so verification by re-issue never catches them. Each lie is proven by the API itself, the liar is
 * blocklisted, and everything it had earned is forfeited (finished jobs included), while honest nodes keep every
 * credit and honest work completes with the honest nodes' output (API level: a real API and s3rver, nodes
 * driven over HTTP, outputs compared byte for byte):
 *   - a fake probe: its ping server answers the API's edge RTT challenge as the node with a wrong HMAC;
 *   - an inflated card: it claims 10,000 tiles/s and renders no faster than its honest peers;
 *   - pending credit: with `holdCreditOnProbation`, a new identity's accepted work is held until it has a
 *     verified record, so a liar caught later never had any credit to keep.
 * (A node caught on a doctored stitch forfeiting earlier credit: test/red-team/doctored-stitch.test.ts, real nodes.)
 */
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import { NodeList } from '../../api/protocol/latency.ts';
import { JobLedger, NodeLedger } from '../../api/protocol/metering.ts';
import { MAX_TILES_PER_SECOND } from '../../api/protocol/node-card.ts';
import { LeasedTask, NODE_PROTOCOL_VERSION } from '../../api/protocol/task.ts';
import { startProbeServer, type ProbeServer } from '../../render-node/agent/probe-server.ts';
import { call, fakePng, sha256, startHarness, TEST_API_KEY, TestNode, uploadSceneFile, type Harness, type HarnessOptions } from '../support/api-harness.ts';
import { tessera } from '../support/tessera-cli.ts';
import { waitFor } from '../support/farm-checks.ts';

let h: Harness | undefined;
const servers: ProbeServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await h?.close();
  h = undefined;
});

async function start(api: HarnessOptions['api'] = {}): Promise<{ h: Harness; sceneId: string }> {
  h = await startHarness({ leaseMs: 5000, api });
  return { h, sceneId: await uploadSceneFile(h, 'scenes/animated-trs.glb') };
}

const status = async (jobId: string) => (await call<JobStatus>(h!.url, 'GET', `/v1/jobs/${jobId}`)).body;
const submit = async (sceneId: string, json: object) => {
  const res = await call(h!.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', ...json } });
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.jobId as string;
};
const nodeLedger = async (n: TestNode) => NodeLedger.parse((await call(h!.url, 'GET', `/v1/ledger?node=${n.id}`)).body).nodes[0];
const reputation = async (n: TestNode) => NodeList.parse((await call(h!.url, 'GET', '/v1/nodes')).body).nodes.find((v) => v.nodeId === n.id)!.reputation!;

/** The PNG bytes `node` uploads for a task: a label of its own, so who made each output shows. */
const output = (node: TestNode, taskId: string) => fakePng(`${node.reg.nodeId}:${taskId}`);

/** The nodes take turns leasing and delivering until the job is done; returns each task's output by task id. */
async function work(jobId: string, nodes: TestNode[], timeoutMs = 60_000): Promise<Map<string, Uint8Array>> {
  const outputs = new Map<string, Uint8Array>();
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && (await status(jobId)).state !== 'done') {
    const got = outputs.size;
    for (const n of nodes) {
      const res = await call(h!.url, 'POST', `/v1/nodes/${n.id}/lease`, { json: { waitSeconds: 0, protocol: NODE_PROTOCOL_VERSION }, token: n.reg.nodeToken });
      if (res.status !== 200) continue; // 204: nothing for it; 403: blocklisted
      const task = LeasedTask.parse(res.body);
      const bytes = output(n, task.taskId);
      const done = await n.finish(task, bytes);
      if (done.status === 200) outputs.set(task.taskId, bytes);
    }
    // Nothing to lease (a task waits out its retry backoff): ask again shortly.
    if (outputs.size === got) await new Promise((r) => setTimeout(r, 100));
  }
  expect((await status(jobId)).state).toBe('done');
  return outputs;
}

/** Each finished frame's bytes, as a client downloads them, checked against the output its node delivered. */
async function expectFramesFrom(jobId: string, honest: TestNode[]): Promise<void> {
  const s = await status(jobId);
  const listed = (await call<JobFrames>(h!.url, 'GET', `/v1/jobs/${jobId}/frames`)).body;
  expect(listed.frames.length).toBe(new Set(s.tasks.filter((t) => t.kind === 'render').map((t) => t.frame)).size);
  for (const f of listed.frames) {
    const task = s.tasks.find((t) => t.kind === 'render' && t.frame === f.frame)!;
    const by = honest.find((n) => n.id === task.node);
    expect(by, `frame ${f.frame} was made by ${task.node}`).toBeDefined();
    const bytes = new Uint8Array(await (await fetch(f.url)).arrayBuffer());
    expect(sha256(bytes)).toBe(sha256(output(by!, task.taskId)));
  }
}

/** Two nodes with real probe servers: the honest one answers with its probe key, the liar's with a key that is not its own. */
async function honestAndFakeProbe(): Promise<{ honest: TestNode; liar: TestNode }> {
  const honestPing = await startProbeServer({ host: '127.0.0.1' });
  const liarPing = await startProbeServer({ host: '127.0.0.1' });
  servers.push(honestPing, liarPing);
  const honest = await TestNode.register(h!, 'honest', { probeUrl: honestPing.url });
  const liar = await TestNode.register(h!, 'fake-probe', { probeUrl: liarPing.url });
  honestPing.setNodeId(honest.id, honest.reg.probeKey!);
  liarPing.setNodeId(liar.id, `not-${liar.reg.probeKey}`);
  return { honest, liar };
}

describe('a fake probe, proven by a wrong HMAC', () => {
  it('is timed from its first heartbeats (a new identity), so it is proven though no client asks about nearby nodes', async () => {
    await start({ edgePop: { pop: 'TST' }, probeCheck: { allowPrivateAddresses: true } });
    const { honest, liar } = await honestAndFakeProbe();
    // Heartbeats only: no nearby call, no job. (Repeated: a busy machine may time a ping out, which proves nothing.)
    await waitFor('the fake probe proven', async () => {
      await honest.heartbeat([]);
      if ((await reputation(liar)).blocklisted) return true;
      await liar.heartbeat([]);
      return undefined;
    }, 60_000);
    expect((await reputation(liar)).blocklisted!.reason).toMatch(/^forged probe: .* edge RTT meter/);
    expect((await reputation(honest)).blocklisted).toBeNull();
    // The honest node's proof was recorded by the PoP.
    await waitFor('the honest node measured', async () => {
      const nodes = ((await call(h!.url, 'GET', '/v1/edge/rtts')).body as { nodes: { nodeId: string }[] }).nodes.map((n) => n.nodeId);
      return nodes.includes(honest.id) ? true : void (await honest.heartbeat([]));
    }, 60_000);
  });

  it('is blocklisted by the edge RTT meter, earns 0, and forfeits what it earned before; the honest node keeps its credit', async () => {
    const { sceneId } = await start({ edgePop: { pop: 'TST' }, probeCheck: { allowPrivateAddresses: true }, routing: { edgeRtts: { refreshMs: 0, measureBudget: 8 } } });
    const { honest, liar } = await honestAndFakeProbe();

    // Both render honestly for a while before anyone pings: the liar is credited for its work like anyone.
    const before = await submit(sceneId, { frames: '0-5' });
    await work(before, [liar, honest]);
    expect((await nodeLedger(liar)).renderSeconds).toBeGreaterThan(0);
    const honestBefore = await nodeLedger(honest);
    expect(honestBefore.renderSeconds).toBeGreaterThan(0);

    // A job in progress, half delivered by the liar, when a client asks for nearby nodes and the PoP pings them.
    const during = await submit(sceneId, { frames: '0-3' });
    const mid = (await liar.lease(0))!;
    expect((await liar.finish(mid, output(liar, mid.taskId))).status).toBe(200);
    // (Asked again until the meter has pinged it: a busy machine may time a ping out, which proves nothing.)
    const nearby = async () => expect((await call(h!.url, 'GET', '/v1/nodes/nearby?count=2&pop=TST&popRttMs=0.5')).status).toBe(200);
    await waitFor('the fake probe proven', async () => ((await reputation(liar)).blocklisted ? true : void (await nearby())), 60_000);
    expect((await reputation(liar)).blocklisted!.reason).toMatch(/^forged probe: .* edge RTT meter/);
    expect((await reputation(honest)).blocklisted).toBeNull();

    // It gets nothing more, and its credit is gone: the finished job's forfeited, the running job's redone.
    expect((await call(h!.url, 'POST', `/v1/nodes/${liar.id}/lease`, { json: { waitSeconds: 0 }, token: liar.reg.nodeToken })).body).toMatchObject({ code: 'NODE_BLOCKLISTED' });
    await work(during, [honest]);
    await expectFramesFrom(during, [honest]);
    const forfeited = await nodeLedger(liar);
    expect(forfeited).toMatchObject({ standing: 'forfeited', renderSeconds: 0, tiles: 0 });
    expect(forfeited.forfeited!.tiles).toBeGreaterThan(0);
    const beforeLedger = JobLedger.parse((await call(h!.url, 'GET', `/v1/jobs/${before}/ledger`)).body);
    expect(beforeLedger.entries.filter((e) => e.nodeId === liar.id).every((e) => e.state === 'forfeited')).toBe(true);
    expect(Object.keys(beforeLedger.byNode)).toEqual([honest.id]);
    const duringLedger = JobLedger.parse((await call(h!.url, 'GET', `/v1/jobs/${during}/ledger`)).body);
    expect(duringLedger.entries.find((e) => e.taskId === mid.taskId && e.nodeId === liar.id)!.state).toBe('voided');
    // The honest node keeps all it had, and earns the redone work on top.
    const honestAfter = await nodeLedger(honest);
    expect(honestAfter).toMatchObject({ standing: 'good' });
    expect(honestAfter.tiles).toBe(honestBefore.tiles + 4);
    // `tessera ledger` shows it: the liar forfeited, the honest node in good standing.
    const cli = await tessera('ledger', '--api', h!.url, '--api-key', TEST_API_KEY);
    expect(cli.code, cli.stderr).toBe(0);
    const line = (id: string) => cli.stdout.split('\n').find((l) => l.startsWith(id))!.split(/\s{2,}/);
    expect(line(liar.id).slice(0, 3)).toEqual([liar.id, 'forfeited', '0.000 s']);
    expect(line(liar.id)[6]).not.toBe('0.000 s');
    expect(line(honest.id).slice(0, 2)).toEqual([honest.id, 'good']);
    // The honest node's own proof was recorded by the PoP (the meter measured it, and believed it).
    const measured = async () => ((await call(h!.url, 'GET', '/v1/edge/rtts')).body as { nodes: { nodeId: string }[] }).nodes.map((n) => n.nodeId);
    await waitFor('the honest node measured', async () => ((await measured()).includes(honest.id) ? true : void (await nearby())), 60_000);
    expect(await measured()).toEqual([honest.id]);
  });

  it('is blocklisted by its own reachability check when its ping answers as it without the proof', async () => {
    const { sceneId } = await start({ probeCheck: { allowPrivateAddresses: true, timeoutMs: 500 } });
    const liarPing = await startProbeServer({ host: '127.0.0.1' });
    servers.push(liarPing);
    const liar = await TestNode.register(h!, 'fake-probe', { probeUrl: liarPing.url });
    const honest = await TestNode.register(h!, 'honest');
    liarPing.setNodeId(liar.id, createHmac('sha256', 'x').update('not the key').digest('hex'));
    const jobId = await submit(sceneId, { frames: '0-3' });
    const t = (await liar.lease(0))!;
    expect((await liar.finish(t, output(liar, t.taskId))).status).toBe(200);
    const res = await call(h!.url, 'POST', `/v1/nodes/${liar.id}/reachability`, { json: {}, token: liar.reg.nodeToken });
    expect(res.body).toMatchObject({ reachable: false, message: expect.stringMatching(/not this node/) });
    expect((await reputation(liar)).blocklisted!.reason).toMatch(/^forged probe: .* reachability check/);
    await work(jobId, [liar, honest]);
    await expectFramesFrom(jobId, [honest]);
    expect(await nodeLedger(liar)).toBeUndefined(); // its only result was in this job: redone, voided
    expect((await nodeLedger(honest)).tiles).toBe(4);
  });
});

describe('an inflated card', () => {
  it('claiming 10,000 tiles/s while rendering like its peers is proven, blocklisted and earns 0; honest nodes keep every credit', async () => {
    const { sceneId } = await start();
    const honest = [await TestNode.register(h!, 'honest-1'), await TestNode.register(h!, 'honest-2')];
    const liar = await TestNode.register(h!, 'inflated', { tilesPerSecond: MAX_TILES_PER_SECOND });
    // Everyone renders the same work, reports the same compute time and is charged its wall time alike.
    const jobId = await submit(sceneId, { frames: '0-23' });
    await work(jobId, [liar, ...honest]);
    const rep = await reputation(liar);
    expect(rep.blocklisted?.reason).toMatch(/^inflated card: it claims 10000 tiles\/s/);
    for (const n of honest) expect((await reputation(n)).blocklisted).toBeNull();
    // Its results were redone by the honest nodes: every frame is theirs.
    await expectFramesFrom(jobId, honest);
    expect(await nodeLedger(liar)).toBeUndefined();
    const ledger = JobLedger.parse((await call(h!.url, 'GET', `/v1/jobs/${jobId}/ledger`)).body);
    expect(ledger.entries.filter((e) => e.nodeId === liar.id).every((e) => e.state === 'voided')).toBe(true);
    expect(Object.keys(ledger.byNode).sort()).toEqual(honest.map((n) => n.id).sort());
    expect(ledger.total.tiles).toBe(24);
    // A later job: the liar may not lease, the honest nodes finish it.
    const next = await submit(sceneId, { frames: '0-1' });
    await work(next, [liar, ...honest]);
    await expectFramesFrom(next, honest);
  });
});

describe('pending credit for new identities', () => {
  it('holds a node\'s credit until it has a verified record, then counts it; a liar caught before that never had any', async () => {
    const { sceneId } = await start({ verification: { sampleRate: 1, blocklistAfter: 1, seed: 'liar-credit' }, trust: { probationResults: 2, holdCreditOnProbation: true } });
    const [a, b, liar] = [await TestNode.register(h!, 'a'), await TestNode.register(h!, 'b'), await TestNode.register(h!, 'liar')];
    for (const n of [a, b, liar]) expect(await n.lease(0)).toBeNull(); // all ask for work: all may verify
    // Every result is verified by another node (a verification is handed out before new work); fakePng of the
    // frame's label stands for the one right picture of a frame.
    const same = (taskFrame: number) => fakePng(`frame ${taskFrame}`);
    const jobId = await submit(sceneId, { frames: '0-1' });
    const deliver = async (n: TestNode, kind?: string) => {
      const t = await n.lease(0);
      if (kind) expect(t?.kind).toBe(kind);
      if (t) expect((await n.finish(t, same(t.frame))).status).toBe(200);
      return t;
    };
    await deliver(a, 'render');
    // Before its vote the result awaits verification (pending): nobody is credited.
    expect(JobLedger.parse((await call(h!.url, 'GET', `/v1/jobs/${jobId}/ledger`)).body).total.tiles).toBe(0);
    await deliver(b, 'render'); // b's verification of a's frame (a verify task looks like any render)
    // They agree: each has 1 verified result of the 2 probation asks for, so their accepted work is held.
    for (const n of [a, b]) expect(await nodeLedger(n)).toMatchObject({ standing: 'probation', tiles: 0, renderSeconds: 0, held: { tiles: 1 } });
    expect(JobLedger.parse((await call(h!.url, 'GET', `/v1/jobs/${jobId}/ledger`)).body)).toMatchObject({ total: { tiles: 0 }, held: { tiles: 2 } });
    await deliver(a, 'render'); // frame 1
    await deliver(b, 'render'); // its verification
    await waitFor(`job ${jobId}`, async () => ((await status(jobId)).state === 'done' ? true : undefined), 10_000);
    // 2 verified results each: in good standing, and everything they did counts.
    for (const n of [a, b]) expect(await nodeLedger(n)).toMatchObject({ standing: 'good', tiles: 2, held: { tiles: 0 } });
    expect(JobLedger.parse((await call(h!.url, 'GET', `/v1/jobs/${jobId}/ledger`)).body)).toMatchObject({ total: { tiles: 4 }, held: { tiles: 0 } });

    // The liar renders honestly once (credit held: it is new), then lies and is outvoted: it never had credit.
    const second = await submit(sceneId, { frames: '2-3' });
    const honestTask = (await liar.lease(0))!;
    expect((await liar.finish(honestTask, same(honestTask.frame))).status).toBe(200);
    const v = (await a.lease(0))!;
    expect((await a.finish(v, same(v.frame))).status).toBe(200);
    expect(await nodeLedger(liar)).toMatchObject({ standing: 'probation', renderSeconds: 0, held: { tiles: 1 } });
    const lie = (await liar.lease(0))!;
    expect((await liar.finish(lie, fakePng('a lie'))).status).toBe(200);
    for (let i = 0; i < 10 && !(await reputation(liar)).blocklisted; i++) await deliver(i % 2 ? a : b);
    expect((await reputation(liar)).blocklisted).not.toBeNull();
    // Both its results were in the running job: discarded and redone by others (voided), nothing to forfeit.
    expect(await nodeLedger(liar)).toBeUndefined();
    expect(JobLedger.parse((await call(h!.url, 'GET', `/v1/jobs/${second}/ledger`)).body).entries.filter((e) => e.nodeId === liar.id).map((e) => e.state)).toEqual(['voided', 'voided']);
    for (let i = 0; i < 20 && (await status(second)).state !== 'done'; i++) await deliver(i % 2 ? a : b);
    expect((await status(second)).state).toBe('done');
    const frames = (await call<JobFrames>(h!.url, 'GET', `/v1/jobs/${second}/frames`)).body.frames;
    for (const f of frames) expect(f.checksum).toBe(sha256(same(f.frame)));
  });
});
