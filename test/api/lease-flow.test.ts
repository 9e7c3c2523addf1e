/**
 * The whole task flow over HTTP with two nodes played by plain fetch calls: a 2-frame × 4-tile job of the
 * animated sample scene, presigned URLs that really work, stitch tasks only after their tiles, the job
 * done and its frames downloadable byte for byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3BlobStore } from '../../api/node/s3-blob-store.ts';
import { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import { call, fakePng, sha256, startHarness, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('lease flow', () => {
  it('renders a 2-frame × 4-tile job to done with two nodes', async () => {
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    // Each holds four leases at once below: its card says it has four slots (no node may hold more leases than slots).
    const [a, b] = await Promise.all([TestNode.register(h, 'a', { concurrency: 4 }), TestNode.register(h, 'b', { concurrency: 4 })]);
    expect(a.reg.leaseMs).toBe(30_000);
    expect(a.reg.heartbeatIntervalMs).toBeLessThan(a.reg.leaseMs);

    const submitted = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '64x48', tile: 32, frames: [0, 24] } });
    expect(submitted.status).toBe(201);
    const jobId: string = submitted.body.jobId;

    const queued = await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`);
    JobStatus.parse(queued.body);
    expect(queued.body).toMatchObject({ state: 'queued', frames: { done: 0, total: 2 }, tiles: { done: 0, total: 8 }, etaSeconds: null });
    expect(queued.body.tasks).toHaveLength(10);

    // Lease every render task, alternating nodes; no stitch task may come out while its tiles are open.
    const leased: { node: TestNode; task: LeasedTask }[] = [];
    for (let i = 0; i < 8; i++) {
      const node = i % 2 ? b : a;
      const task = await node.lease(0);
      expect(task, `lease ${i}`).not.toBeNull();
      expect(task!.kind).toBe('render');
      expect(task!.final).toBe(false);
      expect(task!.attempt).toBe(1);
      leased.push({ node, task: task! });
    }
    expect(leased.map((l) => l.task.frame)).toEqual([0, 0, 0, 0, 24, 24, 24, 24]);
    expect(leased.map((l) => `${l.task.tile!.x}_${l.task.tile!.y}`)).toEqual(['0_0', '32_0', '0_32', '32_32', '0_0', '32_0', '0_32', '32_32']);
    expect(leased[0].task.tile).toEqual({ x: 0, y: 0, width: 32, height: 32 });
    expect(leased[3].task.tile).toEqual({ x: 32, y: 32, width: 32, height: 16 });
    expect(leased[5].task.output.key).toMatch(new RegExp(`^jobs/${jobId}/tiles/24/32_0\\.[0-9a-f]{16}\\.a1\\.png$`));
    expect(await a.lease(0)).toBeNull();

    // The scene URL serves the stored GLB.
    const glb = await fetch(leased[0].task.scene.url);
    expect(glb.status).toBe(200);
    expect(sha256(new Uint8Array(await glb.arrayBuffer()))).toBe(sceneId);

    const running = await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`);
    expect(running.body.state).toBe('running');
    expect(running.body.tasks.filter((t) => t.state === 'leased').map((t) => t.node).sort()).toEqual([a.id, a.id, a.id, a.id, b.id, b.id, b.id, b.id].sort());

    // Finish three tiles of frame 0: still no stitch task.
    const tiles = new Map<string, Uint8Array<ArrayBuffer>>();
    for (const { node, task } of leased.slice(0, 3)) {
      const png = fakePng(task.output.key);
      tiles.set(task.output.key, png);
      expect((await node.finish(task, png)).status).toBe(200);
    }
    expect(await b.lease(0)).toBeNull();

    // The fourth tile unlocks frame 0's stitch task.
    const png3 = fakePng(leased[3].task.output.key);
    tiles.set(leased[3].task.output.key, png3);
    expect((await leased[3].node.finish(leased[3].task, png3)).body).toMatchObject({ state: 'done', jobState: 'running' });
    const stitch0 = await b.lease(0);
    expect(stitch0).toMatchObject({ kind: 'stitch', frame: 0, jobId });
    expect(stitch0!.output.key).toMatch(new RegExp(`^jobs/${jobId}/frames/000000\\.[0-9a-f]{16}\\.a1\\.png$`));
    expect(stitch0!.tiles).toHaveLength(4);
    for (const t of stitch0!.tiles!) {
      const got = new Uint8Array(await (await fetch(t.url)).arrayBuffer());
      expect(got).toEqual([...tiles].find(([key]) => key.startsWith(`jobs/${jobId}/tiles/0/${t.x}_${t.y}.`))?.[1]);
      // The stitching node can check each tile against the sha256 the API verified at completion.
      expect(t.checksum).toBe(sha256(got));
    }
    expect(await a.lease(0)).toBeNull();

    const frames = new Map<number, Uint8Array<ArrayBuffer>>();
    frames.set(0, fakePng('frame 0'));
    expect((await b.finish(stitch0!, frames.get(0)!)).status).toBe(200);
    for (const { node, task } of leased.slice(4)) expect((await node.finish(task, fakePng(task.output.key))).status).toBe(200);

    const stitch24 = await a.lease(0);
    expect(stitch24).toMatchObject({ kind: 'stitch', frame: 24 });
    frames.set(24, fakePng('frame 24'));
    expect((await a.finish(stitch24!, frames.get(24)!)).body).toMatchObject({ state: 'done', jobState: 'done' });

    const done = await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`);
    expect(done.body).toMatchObject({ state: 'done', frames: { done: 2, total: 2 }, tiles: { done: 8, total: 8 }, etaSeconds: 0, error: null });

    const listed = await call<JobFrames>(h.url, 'GET', `/v1/jobs/${jobId}/frames`);
    expect(listed.status).toBe(200);
    JobFrames.parse(listed.body);
    expect(listed.body.frames.map((f) => f.frame)).toEqual([0, 24]);
    for (const f of listed.body.frames) {
      const got = new Uint8Array(await (await fetch(f.url)).arrayBuffer());
      expect(got).toEqual(frames.get(f.frame));
      expect(f.checksum).toBe(sha256(got));
      expect(f.bytes).toBe(got.length);
    }
  });

  it('gives a single-tile frame one final render task and no stitch', async () => {
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    const node = await TestNode.register(h, 'solo');
    const { body } = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', frames: '3', format: 'webp' } });
    const task = await node.lease(0);
    expect(task).toMatchObject({ kind: 'render', final: true, frame: 3, tile: { x: 0, y: 0, width: 32, height: 32 } });
    expect(task!.output.key).toMatch(new RegExp(`^jobs/${body.jobId}/frames/000003\\.[0-9a-f]{16}\\.a1\\.webp$`));
    expect(task!.encode.format).toBe('webp');
    expect((await node.finish(task!, fakePng('f3'))).body.jobState).toBe('done');
    expect(await node.lease(0)).toBeNull();
  });

  it('hands out higher-priority jobs first, then older jobs', async () => {
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    const node = await TestNode.register(h, 'prio');
    const submit = async (priority: number) =>
      (await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0', priority } })).body.jobId as string;
    const low = await submit(10);
    const oldMid = await submit(50);
    const newMid = await submit(50);
    const high = await submit(90);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const t = await node.lease(0);
      order.push(t!.jobId);
      await node.finish(t!, fakePng(t!.taskId));
    }
    expect(order).toEqual([high, oldMid, newMid, low]);
  });

  it('refuses a completion whose output is missing; fails the attempt when the stored bytes differ in size or sha256', async () => {
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    const liar = await TestNode.register(h, 'liar');
    const honest = await TestNode.register(h, 'honest');
    const { jobId } = (await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0-1' } })).body;
    const status = async () => (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body;

    // Nothing uploaded yet: refused, but the lease stands (the node may still upload and report again).
    const first = (await liar.lease(0))!;
    const missing = await liar.complete(first, fakePng('never uploaded'));
    expect(missing.status).toBe(422);
    expect(missing.body.code).toBe('OUTPUT_MISSING');

    // Same size, other bytes, through the URL signed for the reported ones: storage refuses the body (BadDigest).
    const store = await createS3BlobStore(h.s3);
    const claimed = await liar.uploadTicket(first, fakePng('BBBB'));
    const refused = await fetch(claimed.url, { method: 'PUT', body: fakePng('AAAA'), headers: claimed.headers });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/<Code>BadDigest<\/Code>/);
    expect(await store.head(claimed.key)).toBeNull();
    // A store that checks nothing (no checksum kept) lets such bytes in: the API then reads them back and hashes
    // them. Only the sha256 tells; the attempt fails at once and counts against the node.
    await store.put(claimed.key, fakePng('AAAA'));
    const corrupt = await liar.complete(first, fakePng('BBBB'));
    expect(corrupt.status).toBe(422);
    expect(corrupt.body.code).toBe('OUTPUT_CORRUPT');
    expect(corrupt.body.message).toMatch(/sha256/);
    let task = (await status()).tasks.find((t) => t.taskId === first.taskId)!;
    expect(task).toMatchObject({ state: 'queued', attempts: 1, node: liar.id });
    expect(task.error).toMatch(/^OUTPUT_CORRUPT: .*sha256/);
    // Its lease is gone: it cannot report the task done after all.
    expect((await liar.complete(first, fakePng('AAAA'))).status).toBe(409);

    // A truncated upload reported at full size is refused the same way (by storage; and by the API where storage
    // let it in).
    const second = (await liar.lease(0))!;
    expect(second.taskId).not.toBe(first.taskId);
    const full = fakePng('the whole tile');
    const ticket2 = await liar.uploadTicket(second, full);
    const cut = await fetch(ticket2.url, { method: 'PUT', body: full.slice(0, 10), headers: ticket2.headers });
    expect(cut.status).toBe(400);
    await cut.arrayBuffer();
    await store.put(ticket2.key, full.slice(0, 10));
    const truncated = await liar.complete(second, full);
    expect(truncated.body.code).toBe('OUTPUT_CORRUPT');
    expect(truncated.body.message).toMatch(/10 bytes/);

    // Both tasks are retried (after their backoff) and the job finishes with what the honest node stored.
    const redone = new Set<string>();
    for (const deadline = Date.now() + 15_000; redone.size < 2 && Date.now() < deadline; ) {
      const again = await honest.lease(2);
      if (!again) continue;
      expect(again.attempt).toBe(2);
      expect((await honest.finish(again, fakePng(`good ${again.taskId}`))).status).toBe(200);
      redone.add(again.taskId);
    }
    expect([...redone].sort()).toEqual([first.taskId, second.taskId].sort());
    const done = await status();
    expect(done.state).toBe('done');
    const frames = (await call<JobFrames>(h.url, 'GET', `/v1/jobs/${jobId}/frames`)).body.frames;
    for (const f of frames) {
      const t = done.tasks.find((x) => x.frame === f.frame)!;
      expect(f.checksum).toBe(sha256(fakePng(`good ${t.taskId}`)));
      expect(sha256(new Uint8Array(await (await fetch(f.url)).arrayBuffer()))).toBe(f.checksum);
    }
    // The refused uploads were the first attempts' own objects; once the job is done they are deleted, so
    // storage holds exactly what was accepted.
    try {
      for (const key of [claimed.key, ticket2.key]) expect(await store.head(key), key).toBeNull();
      for (const f of frames) expect(await store.head(f.key), f.key).not.toBeNull();
      expect((await store.list(`jobs/${jobId}/`)).sort()).toEqual(frames.map((f) => f.key).sort());
    } finally {
      store.close();
    }
  });

  it('leases with only the protocol in the body (the default wait); an empty body (a protocol 1 node) is told to upgrade', async () => {
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    const node = await TestNode.register(h, 'Quiet Node #1');
    expect(node.id).toMatch(/^node_quiet-node-1_[0-9a-f]{32}$/);
    await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '2' } });
    // A node from before report-then-upload sends no protocol: it gets no task it could not upload, and says why.
    for (const json of [undefined, { waitSeconds: 0 }, { waitSeconds: 0, max: 2, ahead: 1 }]) {
      const old = await call(h.url, 'POST', `/v1/nodes/${node.id}/lease`, { json, token: node.reg.nodeToken });
      expect(old.status, JSON.stringify(json)).toBe(426);
      expect(old.body.code).toBe('NODE_OUTDATED');
      expect(old.body.message).toMatch(/protocol 2 .*this node speaks protocol 1\. Upgrade tessera on the node/);
    }
    const res = await call(h.url, 'POST', `/v1/nodes/${node.id}/lease`, { json: { protocol: 2 }, token: node.reg.nodeToken });
    expect(res.status).toBe(200);
    expect(res.body.frame).toBe(2);
    expect(res.body.output).toMatchObject({ maxBytes: 16 * 16 * 4 + 16 + 1024 * 1024 });
    expect(res.body.output.url).toBeUndefined();
  });

  it('wakes a waiting long-poll as soon as a job arrives', async () => {
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    const node = await TestNode.register(h, 'waiter');
    const started = Date.now();
    const waiting = node.lease(10);
    await new Promise((r) => setTimeout(r, 300));
    await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '1' } });
    const task = await waiting;
    expect(task?.frame).toBe(1);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('leases several tasks per call up to the free slots, and the next ones with a completion', async () => {
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    const node = await TestNode.register(h, 'batch', { concurrency: 3 });
    const submitted = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0-5' } });
    const jobId: string = submitted.body.jobId;
    // Asking for more than its slots gets its slots' worth, in frame order.
    const first = await node.leaseBatch(8);
    expect(first.map((t) => t.frame)).toEqual([0, 1, 2]);
    expect(new Set(first.map((t) => t.leaseId)).size).toBe(3);
    expect(await node.leaseBatch(1)).toEqual([]);
    // A completion that asks for its next task gets it in the same answer: the slot it freed, no more.
    const done = await node.finishAndLease(first[0], fakePng('f0'), { max: 4 });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ taskId: first[0].taskId, state: 'done', jobState: 'running' });
    expect(done.body.next!.map((t) => t.frame)).toEqual([3]);
    // The batched tasks are real leases: their presigned URLs work and they complete like any other.
    const rest = [...first.slice(1), ...done.body.next!];
    for (const [i, t] of rest.entries()) expect((await node.finish(t, fakePng(`r${i}`))).status).toBe(200);
    const last = await node.leaseBatch(8);
    expect(last.map((t) => t.frame)).toEqual([4, 5]);
    const end = await node.finishAndLease(last[0], fakePng('f4'), { max: 1 });
    expect(end.body.next).toEqual([]);
    expect((await node.finish(last[1], fakePng('f5'))).status).toBe(200);
    const status = await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`);
    expect(status.body.state).toBe('done');
    // An old-style lease (no max) still gets one bare task.
    await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0-1' } });
    expect((await node.lease(0))?.frame).toBe(0);
  });
});
