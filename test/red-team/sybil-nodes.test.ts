/**
 * Red team, Sybil attacks on verification (API level: a real API and s3rver, nodes driven over HTTP):
 *   - a blocklisted node that registers again under a new id is on probation: its results are verified
 *     (probationSampleRate) where an established node's would almost never be, so its first lie is caught;
 *   - two fresh ids that collude (return the same wrong tile) cannot outvote an established honest node:
 *     its result stands, the frame is the honest one;
 *   - fresh ids that each fail a task (more of them than a task may fail on) cannot fail the job while a
 *     trusted node is around: the job runs on and the trusted node finishes it.
 * Each asserts the honest bytes are what the client downloads.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import { NodeList, type NodeView } from '../../api/protocol/latency.ts';
import { call, fakePng, sha256, startHarness, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const RIGHT = fakePng('the right pixels');
const WRONG = fakePng('tinted pixels');

async function setup(trust: object, verification: object, policy: object = {}) {
  h = await startHarness({ api: { verification: { blocklistAfter: 1, seed: 'sybil', ...verification }, trust, policy } });
  const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
  const harness = h;
  const submit = async (frame: number) => (await call(harness.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: String(frame) } })).body.jobId as string;
  const status = async (jobId: string) => (await call<JobStatus>(harness.url, 'GET', `/v1/jobs/${jobId}`)).body;
  const view = async (id: string): Promise<NodeView> => NodeList.parse((await call(harness.url, 'GET', '/v1/nodes')).body).nodes.find((n) => n.nodeId === id)!;
  const frameSha = async (jobId: string) => {
    const listed = (await call<JobFrames>(harness.url, 'GET', `/v1/jobs/${jobId}/frames`)).body;
    return sha256(new Uint8Array(await (await fetch(listed.frames[0].url)).arrayBuffer()));
  };
  const node = async (name: string) => {
    const n = await TestNode.register(harness, name);
    expect(await n.lease(0)).toBeNull(); // running nodes ask for work
    return n;
  };
  /** `n` leases its next task and delivers `bytes`; returns the task (or fails the test when none came). */
  const deliver = async (n: TestNode, bytes: Uint8Array<ArrayBuffer>) => {
    const t = await n.lease(0);
    expect(t, `${n.id} got no task`).not.toBeNull();
    expect((await n.finish(t!, bytes)).status).toBe(200);
    return t!;
  };
  return { submit, status, view, frameSha, node, deliver, harness };
}

describe('Sybil attacks', () => {
  it('a blocklisted node back under a new id is on probation: its first lie is verified and caught', async () => {
    // Established nodes are almost never checked (1e-6); a node on probation always is.
    const s = await setup({ probationResults: 5, probationSampleRate: 1 }, { sampleRate: 1e-6 });
    const [liar, a, b] = [await s.node('liar'), await s.node('a'), await s.node('b')];
    const first = await s.submit(0);
    await s.deliver(liar, WRONG);
    await s.deliver(a, RIGHT);
    await s.deliver(b, RIGHT);
    expect((await s.view(liar.id)).reputation!.blocklisted).not.toBeNull();
    for (let i = 0; i < 4 && (await s.status(first)).state !== 'done'; i++) for (const n of [a, b]) if ((await s.status(first)).state !== 'done') await s.deliver(n, RIGHT).catch(() => {});
    expect((await s.status(first)).state).toBe('done');
    expect(await s.frameSha(first)).toBe(sha256(RIGHT));

    // Back under a new id: clean reputation, but on probation, and its card's speed is only the prior.
    const again = await s.node('liar');
    expect((await s.view(again.id)).trust).toMatchObject({ probation: true, measuredTilesPerSecond: null });
    const second = await s.submit(1);
    const lie = await s.deliver(again, WRONG);
    expect((await s.status(second)).tasks.find((t) => t.taskId === lie.taskId)!.verification?.state).toBe('pending');
    await s.deliver(a, RIGHT);
    await s.deliver(b, RIGHT);
    expect((await s.view(again.id)).reputation!.blocklisted).toMatchObject({ reason: expect.stringMatching(/outvoted/) });
    for (let i = 0; i < 4 && (await s.status(second)).state !== 'done'; i++) for (const n of [a, b]) if ((await s.status(second)).state !== 'done') await s.deliver(n, RIGHT).catch(() => {});
    expect((await s.status(second)).state).toBe('done');
    expect(await s.frameSha(second)).toBe(sha256(RIGHT));
  });

  it('two colluding fresh ids cannot outvote an established honest node', async () => {
    const s = await setup({ probationResults: 1, probationSampleRate: 1 }, { sampleRate: 1 });
    const [honest, witness] = [await s.node('honest'), await s.node('witness')];
    // The honest node earns a record: its result verified by another node.
    const warmup = await s.submit(0);
    await s.deliver(honest, RIGHT);
    await s.deliver(witness, RIGHT);
    expect((await s.status(warmup)).state).toBe('done');
    expect((await s.view(honest.id)).trust!.probation).toBe(false);

    // Two fresh ids join and return the same wrong tile for the honest node's result.
    const [s1, s2] = [await s.node('sybil-1'), await s.node('sybil-2')];
    const jobId = await s.submit(1);
    await s.deliver(honest, RIGHT);
    await s.deliver(s1, WRONG);
    await s.deliver(s2, WRONG);
    const done = await s.status(jobId);
    expect(done.state).toBe('done');
    expect(done.tasks[0].verification).toMatchObject({ state: 'verified', disproven: [] });
    expect(await s.frameSha(jobId)).toBe(sha256(RIGHT));
    expect((await s.view(honest.id)).reputation).toMatchObject({ disproven: 0, blocklisted: null });
    // Their work is not credited.
    const ledger = (await call(s.harness.url, 'GET', `/v1/jobs/${jobId}/ledger`)).body;
    expect(Object.keys(ledger.byNode)).toEqual([honest.id]);
  });
  it('fresh ids cannot fail an honest job by failing its task, however many of them', async () => {
    // Short retry backoffs, so the test need not wait out each failure's.
    const s = await setup({ probationResults: 1, probationSampleRate: 1 }, { sampleRate: 1 }, { retryBaseMs: 10, retryMaxMs: 50 });
    const [honest, witness] = [await s.node('honest'), await s.node('witness')];
    await s.submit(0);
    await s.deliver(honest, RIGHT);
    await s.deliver(witness, RIGHT);
    expect((await s.view(honest.id)).trust!.probation).toBe(false);

    const jobId = await s.submit(1);
    // Five fresh ids, each failing the task (3 nodes or 8 attempts fail a job otherwise).
    for (let i = 1; i <= 5; i++) {
      const sybil = await TestNode.register(s.harness, `sybil-${i}`);
      await new Promise((r) => setTimeout(r, 60)); // past the last failure's backoff
      const t = (await sybil.lease(0))!;
      expect(t, `sybil-${i} got no task`).not.toBeNull();
      expect((await sybil.fail(t, 'scene cannot be decoded', true)).status).toBe(200);
      const now = await s.status(jobId);
      expect(now.state, `after sybil-${i}`).toBe('running');
      // Closed to the id that failed it.
      expect(await sybil.lease(0)).toBeNull();
      await call(s.harness.url, 'POST', `/v1/nodes/${honest.id}/heartbeat`, { json: { leaseIds: [], load: 0 }, token: honest.reg.nodeToken });
    }
    // The trusted node gets it (after the retry backoff) and finishes the job with the right frame.
    let delivered = false;
    for (let i = 0; i < 80 && !delivered; i++) {
      const t = await honest.lease(0);
      if (t) {
        expect((await honest.finish(t, RIGHT)).status).toBe(200);
        delivered = true;
      } else await new Promise((r) => setTimeout(r, 250));
    }
    // (Its result is sampled: the witness checks it.)
    for (let i = 0; i < 20 && (await s.status(jobId)).state !== 'done'; i++) {
      const t = await witness.lease(0);
      if (t) await witness.finish(t, RIGHT);
      else await new Promise((r) => setTimeout(r, 250));
    }
    expect((await s.status(jobId)).state).toBe('done');
    expect(await s.frameSha(jobId)).toBe(sha256(RIGHT));
  }, 60_000);
});
