/**
 * Node protocol 3: a small output travels inside its completion (`TaskComplete.inline`) instead of through the
 * upload report and the PUT. The API measures the bytes itself (length, sha256, the task's bound), stores exactly
 * them at the accepted key through its BlobStore, and a retried completion writes and credits nothing again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3BlobStore, type S3BlobStore } from '../../api/node/s3-blob-store.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import type { JobEvent } from '../../api/protocol/job-status.ts';
import { call, fakePng, sha256, startHarness, TEST_AUTH, TestNode, uploadSceneFile, type Answer, type Harness } from '../support/api-harness.ts';

/** This farm takes outputs of up to 4 KiB inline (the default is 1 MiB). */
const INLINE_MAX = 4096;

let h: Harness;
let store: S3BlobStore;
let sceneId: string;
beforeAll(async () => {
  h = await startHarness({ api: { inlineOutputBytes: INLINE_MAX } });
  store = await createS3BlobStore(h.s3);
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterAll(async () => {
  store?.close();
  await h?.close();
});

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** A one-frame job and its one task, leased by a fresh node. */
async function oneTask(name: string): Promise<{ node: TestNode; task: LeasedTask; jobId: string }> {
  const node = await TestNode.register(h, name);
  const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0' } });
  expect(job.status).toBe(201);
  const task = (await node.lease(0))!;
  expect(task.jobId).toBe(job.body.jobId);
  return { node, task, jobId: job.body.jobId };
}

/** Complete `task` with `inline` as its output, reporting `claim` (default: the inline bytes' own size and sha256). */
function completeInline(node: TestNode, task: LeasedTask, inline: string, claim: { bytes: number; checksum: string }): Promise<Answer> {
  return call(h.url, 'POST', `/v1/tasks/${task.taskId}/complete`, {
    json: { leaseId: task.leaseId, ...claim, inline, timings: { render: 5 } },
    token: node.reg.nodeToken,
  });
}
const claimOf = (bytes: Uint8Array) => ({ bytes: bytes.length, checksum: sha256(bytes) });

async function taskState(jobId: string, taskId: string): Promise<{ state: string; attempts: number }> {
  const status = await call(h.url, 'GET', `/v1/jobs/${jobId}`);
  return status.body.tasks.find((t: { taskId: string }) => t.taskId === taskId);
}

describe('inline outputs (node protocol 3)', () => {
  it('a lease offers the smaller of the API cap and the task bound; an inline completion stores exactly its bytes and nothing else', async () => {
    const { node, task, jobId } = await oneTask('inline-ok');
    expect(task.output.inlineMaxBytes).toBe(INLINE_MAX);
    expect(task.output.maxBytes).toBeGreaterThan(INLINE_MAX);
    const png = fakePng('inline frame');
    const res = await completeInline(node, task, b64(png), claimOf(png));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ taskId: task.taskId, state: 'done', jobState: 'done' });
    const frames = await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`);
    expect(frames.body.frames).toHaveLength(1);
    const [frame] = frames.body.frames;
    expect(frame.checksum).toBe(sha256(png));
    // Exactly the bytes, at the accepted key, served to clients; no attempt object was ever made.
    expect(await store.get(frame.key)).toEqual(png);
    expect(new Uint8Array(await (await fetch(frame.url)).arrayBuffer())).toEqual(png);
    expect(await store.list(`jobs/${jobId}/`)).toEqual([frame.key]);
    // Metered once, for this node.
    const ledger = await call(h.url, 'GET', `/v1/jobs/${jobId}/ledger`);
    expect(ledger.body.entries.filter((e: { taskId: string }) => e.taskId === task.taskId)).toHaveLength(1);
  });

  it('a retried completion answers the same, writes nothing and credits nothing again', async () => {
    const { node, task, jobId } = await oneTask('inline-retry');
    const png = fakePng('retried frame');
    const first = await completeInline(node, task, b64(png), claimOf(png));
    expect(first.status).toBe(200);
    const [frame] = (await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`)).body.frames;
    // Replace the stored object behind the API's back: a retry that wrote again would put the inline bytes back.
    const marker = fakePng('written once');
    await store.put(frame.key, marker, { contentType: 'image/png' });
    const again = await completeInline(node, task, b64(png), claimOf(png));
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toMatchObject({ taskId: task.taskId, state: 'done', jobState: 'done' });
    expect(await store.get(frame.key)).toEqual(marker);
    const ledger = await call(h.url, 'GET', `/v1/jobs/${jobId}/ledger`);
    expect(ledger.body.entries.filter((e: { taskId: string }) => e.taskId === task.taskId)).toHaveLength(1);
    expect(ledger.body.total.tiles).toBe(1);
  });

  it('bytes whose sha256 or length differ from the report are OUTPUT_CORRUPT: the attempt fails, nothing is stored', async () => {
    for (const [label, claim] of [
      ['wrong sha256', (png: Uint8Array) => ({ bytes: png.length, checksum: sha256(fakePng('something else')) })],
      ['wrong length', (png: Uint8Array) => ({ bytes: png.length + 1, checksum: sha256(png) })],
    ] as const) {
      const { node, task, jobId } = await oneTask(`inline-liar-${label.replace(' ', '-')}`);
      const png = fakePng(`lie: ${label}`);
      const res = await completeInline(node, task, b64(png), claim(png));
      expect(res.status, label).toBe(422);
      expect(res.body.code).toBe('OUTPUT_CORRUPT');
      expect(res.body.message).toMatch(/inline output has .* but the node reported/);
      // The attempt failed (the task waits for a retry) and storage holds nothing of it.
      expect((await taskState(jobId, task.taskId)).state).not.toBe('leased');
      expect(await store.list(`jobs/${jobId}/`)).toEqual([]);
      await call(h.url, 'DELETE', `/v1/jobs/${jobId}`);
    }
  });

  it('an inline output over the cap is 413 PAYLOAD_TOO_LARGE and changes nothing: the node may still upload it', async () => {
    const { node, task, jobId } = await oneTask('inline-big');
    const big = new Uint8Array(INLINE_MAX + 1).fill(7);
    const res = await completeInline(node, task, b64(big), claimOf(big));
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
    expect(res.body.message).toMatch(new RegExp(`${INLINE_MAX + 1} bytes is more than the ${INLINE_MAX}.*POST /v1/tasks/${task.taskId}/upload`));
    // A body past the completion's size limit is refused before it is read.
    const huge = new Uint8Array(1024 * 1024 + 64 * 1024).fill(9);
    const past = await completeInline(node, task, b64(huge), claimOf(huge));
    expect(past.status).toBe(413);
    expect(past.body.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await taskState(jobId, task.taskId)).state).toBe('leased');
    expect(await store.list(`jobs/${jobId}/`)).toEqual([]);
    // The same bytes through the storage-checked upload complete the task.
    const done = await node.finish(task, big);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const [frame] = (await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`)).body.frames;
    expect(await store.get(frame.key)).toEqual(big);
  });

  it('refuses malformed base64 (400), and an inline completion from a node without the lease writes nothing', async () => {
    const { node, task, jobId } = await oneTask('inline-holder');
    const png = fakePng('holder');
    const bad = await completeInline(node, task, 'not base64!', claimOf(png));
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('BAD_REQUEST');
    const thief = await TestNode.register(h, 'inline-thief');
    const stolen = await call(h.url, 'POST', `/v1/tasks/${task.taskId}/complete`, {
      json: { leaseId: task.leaseId, ...claimOf(png), inline: b64(png) },
      token: thief.reg.nodeToken,
    });
    expect(stolen.status).toBe(409);
    expect(stolen.body.code).toBe('LEASE_LOST');
    expect(await store.list(`jobs/${jobId}/`)).toEqual([]);
    expect((await taskState(jobId, task.taskId)).state).toBe('leased');
    expect((await completeInline(node, task, b64(png), claimOf(png))).status).toBe(200);
  });
});

/** The frame events of a finished job's stream (it ends after `end`), opened with `query`. */
async function frameEvents(jobId: string, query = ''): Promise<Extract<JobEvent, { type: 'frame' }>[]> {
  const res = await fetch(`${h.url}/v1/jobs/${jobId}/events${query}`, { headers: { accept: 'text/event-stream', ...TEST_AUTH } });
  expect(res.status).toBe(200);
  const blocks = (await res.text()).split('\n\n').filter((b) => /^event: frame$/m.test(b));
  return blocks.map((b) => JSON.parse(/^data: (.*)$/m.exec(b)![1]));
}

describe('frames inside their events (GET /v1/jobs/:id/events?inline=1)', () => {
  it('a frame completed inline rides in its event as exactly its stored bytes, only for a stream that asks', async () => {
    const { node, task, jobId } = await oneTask('inline-event');
    const png = fakePng('frame in its event');
    expect((await completeInline(node, task, b64(png), claimOf(png))).status).toBe(200);
    const [asked] = await frameEvents(jobId, '?inline=1');
    expect(asked).toMatchObject({ type: 'frame', jobId, frame: 0, bytes: png.length, checksum: sha256(png) });
    const carried = new Uint8Array(Buffer.from(asked.inline!, 'base64'));
    expect(carried).toEqual(png);
    // The same bytes as storage holds at the frame's URL (which the event still names).
    expect(new Uint8Array(await (await fetch(asked.url!)).arrayBuffer())).toEqual(carried);
    const [plain] = await frameEvents(jobId);
    expect(plain.inline).toBeUndefined();
    expect(plain.checksum).toBe(sha256(png));
    const [off] = await frameEvents(jobId, '?inline=0');
    expect(off.inline).toBeUndefined();
  });

  it('a frame uploaded to storage, a corrupt inline attempt and its honest retry: events carry only the recorded bytes', async () => {
    // Uploaded (the API never held its bytes): the URL alone.
    const up = await oneTask('uploaded-event');
    const uploaded = fakePng('uploaded frame');
    expect((await up.node.finish(up.task, uploaded)).status).toBe(200);
    const [viaUrl] = await frameEvents(up.jobId, '?inline=1');
    expect(viaUrl.inline).toBeUndefined();
    expect(new Uint8Array(await (await fetch(viaUrl.url!)).arrayBuffer())).toEqual(uploaded);
    // A lie is refused before anything is kept; the retry's honest bytes are what the event carries.
    const { node, task, jobId } = await oneTask('inline-event-liar');
    const honest = fakePng('honest frame');
    const lie = await completeInline(node, task, b64(fakePng('a lie')), claimOf(honest));
    expect(lie.status).toBe(422);
    // The retry (after its backoff) goes to another node.
    const other = await TestNode.register(h, 'inline-event-honest');
    const retry = (await other.lease(10))!;
    expect(retry.taskId).toBe(task.taskId);
    expect((await completeInline(other, retry, b64(honest), claimOf(honest))).status).toBe(200);
    const [ev] = await frameEvents(jobId, '?inline=1');
    expect(ev.checksum).toBe(sha256(honest));
    expect(new Uint8Array(Buffer.from(ev.inline!, 'base64'))).toEqual(honest);
  });

  it('refuses an inline ask other than 0 or 1 (400)', async () => {
    const { jobId } = await oneTask('inline-event-bad-ask');
    const res = await fetch(`${h.url}/v1/jobs/${jobId}/events?inline=yes`, { headers: { accept: 'text/event-stream', ...TEST_AUTH } });
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe('BAD_REQUEST');
    await call(h.url, 'DELETE', `/v1/jobs/${jobId}`);
  });
});
