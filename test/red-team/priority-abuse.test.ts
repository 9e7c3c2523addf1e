/**
 * Red team: a client key that tries to jump the queue (priority 100), to take more than its share of pixels
 * (a megapixel budget per key), to overrun its active-job quota by racing submissions, or to make the API
 * build huge status and frame lists. Each is refused with a clear {code, message}; honest jobs of the same
 * key still run to the end with the right objects, and the SDK follows the pages it is given.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient } from '../../api/client/index.ts';
import { call, fakePng, ROOT, sha256, startHarness, TestNode, type Harness } from '../api/support/api-harness.ts';

let h: Harness;
let node: TestNode;
const PAGE = 50;

beforeAll(async () => {
  h = await startHarness({ api: { maxPageSize: PAGE } });
  node = await TestNode.register(h, 'honest-node');
});
afterAll(async () => {
  await h?.close();
});

async function clientKey(name: string, limits: object = {}): Promise<string> {
  const res = await call(h.url, 'POST', '/v1/keys', { json: { name, role: 'client', limits } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.key;
}

async function upload(token: string): Promise<string> {
  const bytes = await readFile(path.join(ROOT, 'scenes/animated-trs.glb'));
  const res = await call(h.url, 'POST', '/v1/scenes', { body: bytes, type: 'model/gltf-binary', token });
  expect(res.status).toBe(201);
  return res.body.sceneId;
}

/** Lease and finish every task there is; returns the bytes delivered per accepted key (the attempt key less `.a<n>`). */
async function drain(): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (let task = await node.lease(0); task; task = await node.lease(0)) {
    const bytes = fakePng(task.taskId);
    const res = await node.finish(task, bytes);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    out.set(task.output.key.replace(/\.a\d+(\.\w+)$/, '$1'), bytes);
  }
  return out;
}

describe('priority is not the client’s to choose', () => {
  it('a client key asking for priority 100 → 403 FORBIDDEN; the default and the admin’s 100 are fine', async () => {
    const key = await clientKey('jumper');
    const sceneId = await upload(key);
    const jump = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', frames: '0', priority: 100 }, token: key });
    expect(jump.status).toBe(403);
    expect(jump.body.code).toBe('FORBIDDEN');
    expect(jump.body.message).toMatch(/priority up to 50, not 100/);
    const honest = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', frames: '0' }, token: key });
    expect(honest.status).toBe(201);
    const admin = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', frames: '0', priority: 100 } });
    expect(admin.status).toBe(201);
    // The admin's urgent job runs first, then the client's; both finish.
    const first = await node.lease(0);
    expect(first!.jobId).toBe(admin.body.jobId);
    await node.finish(first!, fakePng('a'));
    await drain();
    for (const id of [honest.body.jobId, admin.body.jobId]) {
      const status = await call(h.url, 'GET', `/v1/jobs/${id}`);
      expect(status.body.state).toBe('done');
    }
  });

  it('an operator may give one key a higher ceiling', async () => {
    const key = await clientKey('trusted', { maxPriority: 80 });
    const sceneId = await upload(key);
    expect((await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', frames: '0', priority: 80 }, token: key })).status).toBe(201);
    expect((await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', frames: '0', priority: 81 }, token: key })).status).toBe(403);
    await drain();
  });
});

describe('megapixel budget per key', () => {
  it('submissions past the key’s megapixels a day → 429 QUOTA_EXCEEDED naming the budget; within it they run', async () => {
    const key = await clientKey('pixel-hog', { megapixelsPerDay: 1 });
    const sceneId = await upload(key);
    // 640×360 = 0.23 MP a frame: two frames fit (0.46), two more (0.92 in all) do not.
    const ok = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '640x360', frames: '0-1' }, token: key });
    expect(ok.status).toBe(201);
    const over = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '640x360', frames: '2-4' }, token: key });
    expect(over.status).toBe(429);
    expect(over.body.code).toBe('QUOTA_EXCEEDED');
    expect(over.body.message).toMatch(/1\.00 megapixels a day and has submitted 0\.46 in the last 24 hours; this job needs 0\.69/);
    expect(over.headers.get('retry-after')).toBeTruthy();
    // Supersampling counts: 1 frame at ssaa 2 is 0.92 MP.
    const ssaa = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '640x360', frames: '0', ssaa: 2 }, token: key });
    expect(ssaa.status).toBe(429);
    const delivered = await drain();
    const frames = await call(h.url, 'GET', `/v1/jobs/${ok.body.jobId}/frames`, { token: key });
    expect(frames.body.frames).toHaveLength(2);
    for (const f of frames.body.frames) expect(f.checksum).toBe(sha256(delivered.get(f.key)!));
  });

  it('racing submissions cannot overrun maxActiveJobs: count and insert are one step', async () => {
    const key = await clientKey('racer', { maxActiveJobs: 2 });
    const sceneId = await upload(key);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', frames: '0', client: { rttMs: { [node.id]: 5 } } }, token: key })),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(2);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    await drain();
  });
});

describe('paginated lists', () => {
  it('status tasks and frame lists come in pages no larger than the API’s; the SDK follows them', async () => {
    const key = await clientKey('big-lister');
    const sceneId = await upload(key);
    // 30 frames × (4 tiles + 1 stitch) = 150 tasks, 30 frames: three pages of 50 tasks, one page of frames… at 50.
    const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', tile: 16, frames: '0-29' }, token: key });
    expect(job.status).toBe(201);
    const delivered = await drain();
    const jobId = job.body.jobId;
    const too = await call(h.url, 'GET', `/v1/jobs/${jobId}?tasksLimit=${PAGE + 1}`, { token: key });
    expect(too.status).toBe(400);
    const first = await call(h.url, 'GET', `/v1/jobs/${jobId}`, { token: key });
    expect(first.status).toBe(200);
    expect(first.body.state).toBe('done');
    expect(first.body.tasks).toHaveLength(PAGE);
    expect(first.body.tasksNext).toBe(PAGE);
    expect(first.body.tiles).toEqual({ done: 120, total: 120 });
    const framesPage = await call(h.url, 'GET', `/v1/jobs/${jobId}/frames?limit=10`, { token: key });
    expect(framesPage.body.frames.map((f: { frame: number }) => f.frame)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(framesPage.body.next).toBe(9);

    const sdk = createTesseraClient({ baseUrl: h.url, apiKey: key });
    const status = await sdk.getJob(jobId);
    expect(status.tasks).toHaveLength(150);
    expect(new Set(status.tasks.map((t) => t.taskId)).size).toBe(150);
    const frames = await sdk.frames(jobId);
    expect(frames.frames.map((f) => f.frame)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (const f of frames.frames) {
      const bytes = await sdk.downloadFrame(f.url, { sha256: f.checksum });
      expect(sha256(bytes)).toBe(sha256(delivered.get(f.key)!));
    }
  });
});
