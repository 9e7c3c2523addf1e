/**
 * Storage holds exactly a finished job's accepted outputs, even when an attempt uploads after the job is done
 * (an attempt whose lease was taken back keeps its upload URL until that URL expires, at most nodeUrlSeconds):
 * the API prunes the job's prefix when it finishes and once more when every such URL has expired.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3BlobStore, type S3BlobStore } from '../../api/node/s3-blob-store.ts';
import { call, fakePng, startHarness, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';

let h: Harness;
let store: S3BlobStore;
let sceneId: string;
beforeAll(async () => {
  h = await startHarness({ api: { nodeUrlSeconds: 1 } });
  store = await createS3BlobStore(h.s3);
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterAll(async () => {
  store?.close();
  await h?.close();
});

describe('outputs uploaded after a job is done', () => {
  it('are deleted once every upload URL of the job has expired; the accepted frame stays', async () => {
    const node = await TestNode.register(h, 'finisher');
    const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0' } });
    expect(job.status).toBe(201);
    const jobId: string = job.body.jobId;
    const task = (await node.lease(0))!;
    const good = fakePng('accepted');
    expect((await node.finish(task, good)).body).toMatchObject({ jobState: 'done' });
    const accepted = await store.list(`jobs/${jobId}/`);
    expect(accepted.length).toBeGreaterThan(0);

    // A late attempt's object lands under the job after it finished (and after the first prune).
    const late = `jobs/${jobId}/frames/late-attempt.a9.${'0'.repeat(64)}.png`;
    await store.put(late, fakePng('late'), { contentType: 'image/png' });
    expect(await store.list(`jobs/${jobId}/`)).toContain(late);

    // nodeUrlSeconds (1 s) + 5 s later it is gone; what was accepted is kept and still served.
    const deadline = Date.now() + 15_000;
    while ((await store.list(`jobs/${jobId}/`)).includes(late) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect((await store.list(`jobs/${jobId}/`)).sort()).toEqual(accepted.sort());
    const frames = await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`);
    expect(new Uint8Array(await (await fetch(frames.body.frames[0].url)).arrayBuffer())).toEqual(good);
  }, 30_000);
});
