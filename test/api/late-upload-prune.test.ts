/**
 * Storage holds exactly an ended job's accepted outputs, even when an attempt uploads after the job has ended (an
 * attempt whose lease was taken back keeps its upload URL until that URL expires, at most nodeUrlSeconds): the API
 * prunes the job's prefix when it ends, and the job store marks a second clean-up as due once every such URL has
 * expired, which the periodic sweep makes, across restarts of the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3BlobStore, type S3BlobStore } from '../../api/node/s3-blob-store.ts';
import { call, fakePng, startHarness, TestNode, uploadSceneFile, type Harness, type HarnessOptions } from '../support/api-harness.ts';

/**
 * The node URLs' lifetime: short, so the clean-up falls due within the test, yet long enough for a lease's upload
 * (signed with second resolution) to go through on a loaded machine. The clean-up is due 5 s after it.
 */
const URL_SECONDS = 4;
const DUE_AFTER_MS = (URL_SECONDS + 5) * 1000;

/** A harness, a direct client of its storage, and a scene. */
function setUp(options: HarnessOptions) {
  const env = {} as { h: Harness; store: S3BlobStore; sceneId: string };
  beforeAll(async () => {
    env.h = await startHarness(options);
    env.store = await createS3BlobStore(env.h.s3);
    env.sceneId = await uploadSceneFile(env.h, 'scenes/animated-trs.glb');
  });
  afterAll(async () => {
    env.store?.close();
    await env.h?.close();
  });
  return env;
}

/** A one-frame job rendered by one node, done: its id, its accepted objects, and the frame's bytes. */
async function finishJob(h: Harness, store: S3BlobStore, sceneId: string, nodeName: string) {
  const node = await TestNode.register(h, nodeName);
  const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0' } });
  expect(job.status).toBe(201);
  const jobId: string = job.body.jobId;
  const task = (await node.lease(0))!;
  const good = fakePng(`accepted-${nodeName}`);
  expect((await node.finish(task, good)).body).toMatchObject({ jobState: 'done' });
  const accepted = await store.list(`jobs/${jobId}/`);
  expect(accepted.length).toBeGreaterThan(0);
  return { jobId, accepted, good };
}

/** Put an attempt's object under the job, as a late upload would. */
async function lateUpload(store: S3BlobStore, jobId: string): Promise<string> {
  const late = `jobs/${jobId}/frames/late-attempt.a9.${'0'.repeat(64)}.png`;
  await store.put(late, fakePng('late'), { contentType: 'image/png' });
  expect(await store.list(`jobs/${jobId}/`)).toContain(late);
  return late;
}

/** Wait (bounded) until `key` is gone from the job's prefix; returns what the prefix holds then. */
async function waitGone(store: S3BlobStore, jobId: string, key: string, ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  while ((await store.list(`jobs/${jobId}/`)).includes(key) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  return (await store.list(`jobs/${jobId}/`)).sort();
}

describe('outputs uploaded after a job has ended', () => {
  const env = setUp({ api: { nodeUrlSeconds: URL_SECONDS }, pruneSweepMs: 250 });

  it('are deleted once every upload URL of the job has expired; the accepted frame stays', async () => {
    const { h, store, sceneId } = env;
    const { jobId, accepted, good } = await finishJob(h, store, sceneId, 'finisher');
    // A late attempt's object lands under the job after it finished (and after the first prune).
    const late = await lateUpload(store, jobId);
    // nodeUrlSeconds + 5 s after the job ended the sweep removes it; what was accepted is kept and still served.
    expect(await waitGone(store, jobId, late, 30_000)).toEqual(accepted.sort());
    const frames = await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`);
    expect(new Uint8Array(await (await fetch(frames.body.frames[0].url)).arrayBuffer())).toEqual(good);
  }, 60_000);

  it('are deleted for a cancelled job too', async () => {
    const { h, store, sceneId } = env;
    const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0-1' } });
    expect(job.status).toBe(201);
    const jobId: string = job.body.jobId;
    expect((await call(h.url, 'DELETE', `/v1/jobs/${jobId}`)).status).toBe(200);
    const late = await lateUpload(store, jobId);
    expect(await waitGone(store, jobId, late, 30_000)).toEqual([]);
  }, 60_000);
});

describe('a late upload and an API restart before its clean-up was due', () => {
  // The sweep runs at start and then hourly: only the restarted API's start-up sweep can remove the late object.
  const env = setUp({ api: { nodeUrlSeconds: URL_SECONDS }, pruneSweepMs: 3_600_000 });

  it('is still deleted: the clean-up is recorded in the job store, and the restarted API sweeps it', async () => {
    const { h, store, sceneId } = env;
    const { jobId, accepted, good } = await finishJob(h, store, sceneId, 'before-restart');
    const late = await lateUpload(store, jobId);
    // Down across the due time (job end + nodeUrlSeconds + 5 s): nothing in the old process could have pruned it since.
    await h.restart(DUE_AFTER_MS + 1000);
    expect(await waitGone(store, jobId, late, 30_000)).toEqual(accepted.sort());
    const frames = await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`);
    expect(new Uint8Array(await (await fetch(frames.body.frames[0].url)).arrayBuffer())).toEqual(good);
  }, 90_000);
});
