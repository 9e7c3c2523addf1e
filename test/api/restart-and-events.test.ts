import { createHash } from 'node:crypto';
/**
 * The API as a process that stops and starts: a restart on the same data dir mid-job loses nothing (jobs,
 * tasks, node tokens, leases), close() answers waiting long-polls at once, and the event stream reports
 * progress, frames and the end of a job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobEvent, JobStatus } from '../../api/protocol/job-status.ts';
import { call, fakePng, startHarness, TEST_AUTH, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';

let h: Harness;
let sceneId: string;
beforeAll(async () => {
  h = await startHarness({ api: { recheckMs: 200 } });
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterAll(async () => {
  await h?.close();
});

/** Read server-sent events until the stream ends. */
async function readEvents(url: string, signal?: AbortSignal): Promise<{ event: string; data: JobEvent }[]> {
  const res = await fetch(url, { signal, headers: { accept: 'text/event-stream', ...TEST_AUTH } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event:'))!.slice(6).trim();
      const data = lines
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n');
      return { event, data: JSON.parse(data) as JobEvent };
    });
}

describe('restart', () => {
  it('keeps jobs, tasks, nodes and leases across a restart mid-job, and the job completes', async () => {
    const node = await TestNode.register(h, 'survivor');
    const { body } = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '64x32', tile: 32, frames: '0-1' } });
    const jobId: string = body.jobId;
    const first = (await node.lease(0))!;
    await node.finish(first, fakePng('before restart'));
    const held = (await node.lease(0))!; // leased before the restart, completed after
    const before = (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body;

    await h.restart();

    const after = (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body;
    expect(after).toEqual({ ...before, etaSeconds: after.etaSeconds });
    expect(after.tiles).toEqual({ done: 1, total: 4 });
    // The same token works, the lease is still the node's, the scene is still known.
    expect((await node.heartbeat([held.leaseId])).body.revoked).toEqual([]);
    expect((await node.finish(held, fakePng('after restart'))).status).toBe(200);
    for (;;) {
      const task = await node.lease(0);
      if (!task) break;
      await node.finish(task, fakePng(task.taskId));
    }
    const done = (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body;
    expect(done).toMatchObject({ state: 'done', frames: { done: 2, total: 2 } });
    expect((await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '8x8', frames: '0' } })).status).toBe(201);
  });

  it('answers a waiting long-poll promptly when closing', async () => {
    const node = await TestNode.register(h, 'sleeper');
    // Drain whatever is queued so the long-poll really waits.
    for (let t = await node.lease(0); t; t = await node.lease(0)) await node.finish(t, fakePng(t.taskId));
    const waiting = node.lease(20);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await h.restart();
    expect(await waiting).toBeNull();
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('events', () => {
  it('streams progress and frame events, and ends with the job', async () => {
    const node = await TestNode.register(h, 'streamer');
    const { body } = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '64x32', tile: 32, frames: '0-1' } });
    const jobId: string = body.jobId;
    const stream = readEvents(`${h.url}/v1/jobs/${jobId}/events`);
    await new Promise((r) => setTimeout(r, 100));
    for (let t = await node.lease(0); t; t = await node.lease(0)) {
      await node.finish(t, fakePng(t.taskId));
      await new Promise((r) => setTimeout(r, 20));
    }
    const events = await stream;
    const types = events.map((e) => e.event);
    expect(types[0]).toBe('progress');
    expect(types.at(-1)).toBe('end');
    expect(events.at(-1)!.data).toEqual({ type: 'end', jobId, state: 'done', error: null });
    expect(events.filter((e) => e.event === 'frame').map((e) => (e.data as { frame: number }).frame)).toEqual([0, 1]);
    // Each frame event says where to fetch the frame: its URL serves exactly the bytes with the announced sha256.
    const listed = (await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`)).body as { frames: { frame: number; bytes: number; checksum: string }[] };
    for (const e of events.filter((x) => x.event === 'frame')) {
      const f = e.data as { frame: number; url: string; bytes: number; checksum: string };
      const stored = new Uint8Array(await (await fetch(f.url)).arrayBuffer());
      expect(stored.length).toBe(f.bytes);
      expect(createHash('sha256').update(stored).digest('hex')).toBe(f.checksum);
      expect(listed.frames.find((x) => x.frame === f.frame)).toMatchObject({ bytes: f.bytes, checksum: f.checksum });
    }
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data as Extract<JobEvent, { type: 'progress' }>);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress[0]).toMatchObject({ jobId, state: 'queued', tiles: { done: 0, total: 4 }, frames: { done: 0, total: 2 } });
    expect(progress.at(-1)).toMatchObject({ state: 'done', tiles: { done: 4, total: 4 }, frames: { done: 2, total: 2 } });
    for (const e of events) expect(e.data.type).toBe(e.event);
  });

  it('sends every frame once when frames finish out of frame order across wake-ups, and pages the frame list by frame number', async () => {
    const node = await TestNode.register(h, 'shuffler', { concurrency: 4 });
    const { body } = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0-3' } });
    const jobId: string = body.jobId;
    const held = new Map<number, Awaited<ReturnType<typeof node.lease>> & object>();
    while (held.size < 4) {
      const t = (await node.lease(0))!;
      if (t.jobId === jobId) held.set(t.frame, t);
      else await node.finish(t, fakePng(t.taskId));
    }
    const stream = readEvents(`${h.url}/v1/jobs/${jobId}/events`);
    await new Promise((r) => setTimeout(r, 100));
    // Later frames first, then the earliest, then the one between: each wake-up's reading must not pass over frame 0 or 1.
    for (const frame of [3, 2, 0, 1]) {
      expect((await node.finish(held.get(frame)!, fakePng(`${jobId} ${frame}`))).status).toBe(200);
      await new Promise((r) => setTimeout(r, 250));
    }
    const events = await stream;
    const frames = events.filter((e) => e.event === 'frame').map((e) => e.data as { frame: number; checksum: string });
    expect(frames.map((f) => f.frame).sort()).toEqual([0, 1, 2, 3]);
    expect(events.at(-1)!.data).toMatchObject({ type: 'end', state: 'done' });
    // A stream opened once the job is done reads every frame at once: in frame order.
    const replay = await readEvents(`${h.url}/v1/jobs/${jobId}/events`);
    expect(replay.filter((e) => e.event === 'frame').map((e) => (e.data as { frame: number }).frame)).toEqual([0, 1, 2, 3]);
    // The frame list, a page at a time: `next` is the last frame of a page followed by more.
    const page = async (query: string) => (await call(h.url, 'GET', `/v1/jobs/${jobId}/frames${query}`)).body as { frames: { frame: number; checksum: string }[]; next: number | null };
    const first = await page('?limit=2');
    expect(first.frames.map((f) => f.frame)).toEqual([0, 1]);
    expect(first.next).toBe(1);
    const second = await page(`?limit=2&after=${first.next}`);
    expect(second.frames.map((f) => f.frame)).toEqual([2, 3]);
    expect(second.next).toBeNull();
    expect((await page('?after=3')).frames).toEqual([]);
    for (const f of [...first.frames, ...second.frames]) expect(frames.find((e) => e.frame === f.frame)!.checksum).toBe(f.checksum);
  });

  it('ends the stream of a cancelled job, and at once for a finished one', async () => {
    const { body } = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0-3' } });
    const stream = readEvents(`${h.url}/v1/jobs/${body.jobId}/events`);
    await new Promise((r) => setTimeout(r, 100));
    await call(h.url, 'DELETE', `/v1/jobs/${body.jobId}`);
    const events = await stream;
    expect(events.at(-1)!.data).toMatchObject({ type: 'end', state: 'cancelled' });
    const replay = await readEvents(`${h.url}/v1/jobs/${body.jobId}/events`);
    expect(replay.map((e) => e.event)).toEqual(['progress', 'end']);
    const missing = await call(h.url, 'GET', '/v1/jobs/job_nope/events');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('JOB_NOT_FOUND');
  });
});
