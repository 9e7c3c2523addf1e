/**
 * Red team, signed node tokens (node-credentials.ts): a node token says whose it is and until when, under the farm's
 * key, and the API checks that before any store call; the store still decides in the call that does the work.
 *   - a forged token (MAC altered), one re-pointed at another node (node id swapped, MAC kept), one of made-up form
 *     and an expired one are refused 401 on every node route, completion included;
 *   - a blocklisted node whose token is still valid gets nowhere: its lease, heartbeat and completion (one store call
 *     now: authenticate, check the output, complete) are refused 403, and its task goes to an honest node, whose
 *     completion is accepted.
 */
import { NODE_PROTOCOL_VERSION } from '../../api/protocol/task.ts';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteJobStore } from '../../api/node/sqlite-job-store.ts';
import { call, fakePng, startHarness, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every node route, called with `token` as `nodeId`. */
async function nodeRoutes(harness: Harness, nodeId: string, taskId: string, leaseId: string, token: string) {
  const bytes = fakePng('x');
  return {
    lease: await call(harness.url, 'POST', `/v1/nodes/${nodeId}/lease`, { json: { waitSeconds: 0, max: 1, protocol: NODE_PROTOCOL_VERSION }, token }),
    heartbeat: await call(harness.url, 'POST', `/v1/nodes/${nodeId}/heartbeat`, { json: { leaseIds: [leaseId], load: 0 }, token }),
    complete: await call(harness.url, 'POST', `/v1/tasks/${taskId}/complete`, { json: { leaseId, checksum: '0'.repeat(64), bytes: bytes.length, next: { max: 1 } }, token }),
    fail: await call(harness.url, 'POST', `/v1/tasks/${taskId}/fail`, { json: { leaseId, reason: 'red team' }, token }),
    ledger: await call(harness.url, 'GET', `/v1/nodes/${nodeId}/ledger`, { token }),
  };
}

async function submit(harness: Harness, frames = '0'): Promise<string> {
  const sceneId = await uploadSceneFile(harness, 'scenes/animated-trs.glb');
  const res = await call(harness.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames } });
  expect(res.status).toBe(201);
  return res.body.jobId;
}

describe('signed node tokens', () => {
  it('refuses forged, re-pointed and made-up tokens on every node route; the real token still works', async () => {
    h = await startHarness();
    const [a, b] = [await TestNode.register(h, 'a'), await TestNode.register(h, 'b')];
    expect(a.reg.nodeToken).toMatch(/^tn1\.node_a_[0-9a-f]+\.[0-9a-z]+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}$/);
    await submit(h);
    const task = (await a.lease(0))!;
    const [prefix, , exp, nonce, mac] = a.reg.nodeToken.split('.');
    const flipped = mac.slice(0, -2) + (mac.at(-2) === 'A' ? 'B' : 'A') + mac.at(-1);
    const forged = [
      // The MAC altered.
      `${prefix}.${a.id}.${exp}.${nonce}.${flipped}`,
      // a's MAC on b's id: whose token it is is signed too.
      `${prefix}.${b.id}.${exp}.${nonce}.${mac}`,
      // A later expiry under the old MAC.
      `${prefix}.${a.id}.${(parseInt(exp, 36) + 1e9).toString(36)}.${nonce}.${mac}`,
      'tn1.' + 'x'.repeat(20),
      'not-a-token',
    ];
    for (const token of forged) {
      for (const nodeId of [a.id, b.id]) {
        const answers = await nodeRoutes(h, nodeId, task.taskId, task.leaseId, token);
        for (const [route, res] of Object.entries(answers)) {
          expect([route, res.status, res.body?.code]).toEqual([route, 401, 'UNAUTHORIZED']);
        }
      }
    }
    // Nothing the forgeries did touched the lease: the holder completes with its real token.
    const done = await a.finish(task, fakePng('honest'));
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ taskId: task.taskId, state: 'done', jobState: 'done' });
  });

  it('refuses an expired token (401); the node registers again and works', async () => {
    h = await startHarness({ api: { nodeCredentials: { ttlMs: 1500 } } });
    const a = await TestNode.register(h, 'short-lived');
    expect((await a.heartbeat([])).status).toBe(200);
    await sleep(1700);
    const expired = await a.heartbeat([]);
    expect(expired.status).toBe(401);
    expect(expired.body).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/expired/) });
    expect((await call(h.url, 'POST', `/v1/nodes/${a.id}/lease`, { json: { waitSeconds: 0 }, token: a.reg.nodeToken })).status).toBe(401);
    const again = await TestNode.register(h, 'short-lived');
    expect((await again.heartbeat([])).status).toBe(200);
  });

  it('a blocklisted node with a valid token is refused on lease, heartbeat and completion; its task goes to an honest node', async () => {
    h = await startHarness();
    const [liar, honest] = [await TestNode.register(h, 'liar'), await TestNode.register(h, 'honest')];
    const jobId = await submit(h, '0-1');
    const [held] = await liar.leaseBatch(1);
    expect(held).toBeDefined();
    // The operator (or a lost vote) blocklists it: its signed token stays valid, the store refuses it.
    const store = createSqliteJobStore(path.join(h.dir, 'api'));
    try {
      await store.blocklistNode(liar.id, 'red team', Date.now());
    } finally {
      await store.close();
    }
    // Its upload token (the lease's, checked without the store) still gets it a URL for the bytes it reports…
    const put = await liar.upload(held, fakePng('lie'));
    expect(put.status).toBe(200);
    const completion = await liar.finishAndLease(held, fakePng('lie'), { max: 1 });
    expect([completion.status, (completion.body as { code?: string }).code]).toEqual([403, 'NODE_BLOCKLISTED']);
    const lease = await call(h.url, 'POST', `/v1/nodes/${liar.id}/lease`, { json: { waitSeconds: 0, max: 1, protocol: NODE_PROTOCOL_VERSION }, token: liar.reg.nodeToken });
    expect([lease.status, lease.body.code]).toEqual([403, 'NODE_BLOCKLISTED']);
    const beat = await liar.heartbeat([held.leaseId]);
    expect([beat.status, (beat.body as { code?: string }).code]).toEqual([403, 'NODE_BLOCKLISTED']);
    // The honest node renders both frames, the one the liar held included, each completion leasing the next.
    let task = (await honest.leaseBatch(1))[0];
    const seen: number[] = [];
    while (task) {
      seen.push(task.frame);
      const ack = await honest.finishAndLease(task, fakePng(`frame ${task.frame}`), { max: 1 });
      expect(ack.status).toBe(200);
      task = ack.body.next?.[0] ?? (await honest.leaseBatch(1))[0];
    }
    expect(seen.sort()).toEqual([0, 1]);
    expect((await call(h.url, 'GET', `/v1/jobs/${jobId}`)).body.state).toBe('done');
  });
});
