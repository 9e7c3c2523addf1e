/**
 * What happens when nodes vanish, fail or are told to stop: expired leases are requeued with the attempt
 * counted, heartbeats keep leases alive and report revoked ones, a task failing on three different nodes
 * fails its job with the reason, and a cancelled job hands out nothing more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../../api/protocol/job-status.ts';
import { call, fakePng, startHarness, TestNode, uploadSceneFile, type Harness } from './support/api-harness.ts';

const LEASE_MS = 400;
const RETRY_BASE_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let h: Harness;
let sceneId: string;
beforeAll(async () => {
  h = await startHarness({ leaseMs: LEASE_MS, api: { policy: { retryBaseMs: RETRY_BASE_MS }, recheckMs: 100 } });
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterAll(async () => {
  await h?.close();
});

async function submit(json: object = {}): Promise<string> {
  const res = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0', ...json } });
  expect(res.status).toBe(201);
  return res.body.jobId;
}

const status = async (jobId: string) => (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body;

describe('lease expiry', () => {
  it('requeues an expired lease with attempt 2 and refuses the old holder', async () => {
    const [a, b] = [await TestNode.register(h, 'a'), await TestNode.register(h, 'b')];
    expect(a.reg.leaseMs).toBe(LEASE_MS);
    const jobId = await submit();
    const first = (await a.lease(0))!;
    expect(first.attempt).toBe(1);
    expect(first.leaseExpiresAt - Date.now()).toBeLessThanOrEqual(LEASE_MS);
    expect(await b.lease(0)).toBeNull();

    await sleep(LEASE_MS + 100);
    const second = (await b.lease(0))!;
    expect(second.taskId).toBe(first.taskId);
    expect(second.attempt).toBe(2);
    expect(second.leaseId).not.toBe(first.leaseId);

    const late = await a.finish(first, fakePng('late'));
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('LEASE_LOST');
    expect((await a.heartbeat([first.leaseId])).body.revoked).toEqual([first.leaseId]);

    const task = (await status(jobId)).tasks[0];
    expect(task).toMatchObject({ state: 'leased', attempts: 2, node: b.id });
    expect(task.error).toMatch(/lease expired/);
    expect((await b.finish(second, fakePng('on time'))).body.jobState).toBe('done');
  });

  it('keeps a lease alive while the node heartbeats', async () => {
    const [a, b] = [await TestNode.register(h, 'a'), await TestNode.register(h, 'b')];
    await submit();
    const task = (await a.lease(0))!;
    for (let i = 0; i < 5; i++) {
      await sleep(LEASE_MS / 3);
      const ack = await a.heartbeat([task.leaseId]);
      expect(ack.status).toBe(200);
      expect(ack.body.revoked).toEqual([]);
    }
    expect(await b.lease(0)).toBeNull();
    expect((await a.finish(task, fakePng('kept'))).status).toBe(200);
  });
});

describe('failures', () => {
  it('retries after a backoff and fails the job once the task failed on 3 different nodes', async () => {
    const nodes = [await TestNode.register(h, 'f1'), await TestNode.register(h, 'f2'), await TestNode.register(h, 'f3')];
    const jobId = await submit();

    // Node 1 fails twice: still one node.
    let task = (await nodes[0].lease(0))!;
    expect((await nodes[0].fail(task, 'GL context lost')).body).toMatchObject({ state: 'queued', jobState: 'running' });
    expect(await nodes[1].lease(0)).toBeNull(); // backing off (2 × 100 ms)
    task = (await nodes[0].lease(2))!;
    expect(task.attempt).toBe(2);
    expect((await nodes[0].fail(task, 'GL context lost again')).body.state).toBe('queued');

    task = (await nodes[1].lease(2))!;
    expect(task.attempt).toBe(3);
    expect((await nodes[1].fail(task, 'texture decode failed', true)).body.state).toBe('queued');

    task = (await nodes[2].lease(2))!;
    expect(task.attempt).toBe(4);
    const last = await nodes[2].fail(task, 'out of memory');
    expect(last.body).toMatchObject({ state: 'failed', jobState: 'failed' });

    const failed = await status(jobId);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/failed on 3 different nodes/);
    expect(failed.error).toMatch(/out of memory/);
    expect(failed.tasks[0]).toMatchObject({ state: 'failed', attempts: 4 });
    expect(await nodes[0].lease(0)).toBeNull();
  });

  it('cancels the rest of a job that failed', async () => {
    // g1 holds two leases at once: two slots on its card (no node may hold more leases than slots).
    const nodes = [await TestNode.register(h, 'g1', { concurrency: 2 }), await TestNode.register(h, 'g2'), await TestNode.register(h, 'g3')];
    const jobId = await submit({ frames: '0-1' });
    const other = (await nodes[0].lease(0))!; // frame 0, kept leased by heartbeats
    const keepAlive = setInterval(() => void nodes[0].heartbeat([other.leaseId]), LEASE_MS / 4);
    let task = (await nodes[0].lease(0))!; // frame 1
    try {
      for (let i = 0; i < 3; i++) {
        await nodes[i].fail(task, `boom ${i}`);
        if (i < 2) task = (await nodes[i + 1].lease(2))!;
        expect(task.frame).toBe(1);
      }
    } finally {
      clearInterval(keepAlive);
    }
    const s = await status(jobId);
    expect(s.state).toBe('failed');
    expect(s.tasks.map((t) => t.state)).toEqual(['cancelled', 'failed']);
    expect((await nodes[0].heartbeat([other.leaseId])).body.revoked).toEqual([other.leaseId]);
    expect((await nodes[0].finish(other, fakePng('too late'))).status).toBe(409);
  });
});

describe('cancel', () => {
  it('stops handing out tasks, revokes leases at the next heartbeat and ignores their completions', async () => {
    const node = await TestNode.register(h, 'c');
    const jobId = await submit({ frames: '0-3' });
    const held = (await node.lease(0))!;
    const cancelled = await call<JobStatus>(h.url, 'DELETE', `/v1/jobs/${jobId}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    expect(cancelled.body.tasks.every((t) => t.state === 'cancelled')).toBe(true);

    expect(await node.lease(0)).toBeNull();
    expect((await node.heartbeat([held.leaseId])).body.revoked).toEqual([held.leaseId]);
    const late = await node.finish(held, fakePng('ignored'));
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('LEASE_LOST');
    expect((await status(jobId)).state).toBe('cancelled');

    const again = await call(h.url, 'DELETE', `/v1/jobs/${jobId}`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('JOB_FINISHED');
  });
});
