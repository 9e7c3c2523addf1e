/**
 * Red team: one key opening event streams without end (each one holds a connection and re-checks the store
 * every second). Past the key's `maxEventStreams` the API answers 429 QUOTA_EXCEEDED; closing a stream frees
 * its slot; another key is unaffected; and the SDK's waitForJob still follows a job to its end when the key's
 * streams are all taken (it polls instead).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient } from '../../api/client/index.ts';
import { call, fakePng, ROOT, startHarness, TestNode, type Harness } from '../api/support/api-harness.ts';

let h: Harness;
let node: TestNode;
beforeAll(async () => {
  h = await startHarness();
  node = await TestNode.register(h, 'honest-node');
});
afterAll(async () => {
  await h?.close();
});

async function clientKey(name: string, limits: object = {}): Promise<string> {
  const res = await call(h.url, 'POST', '/v1/keys', { json: { name, role: 'client', limits } });
  expect(res.status).toBe(201);
  return res.body.key;
}

async function submit(key: string): Promise<string> {
  const bytes = await readFile(path.join(ROOT, 'scenes/animated-trs.glb'));
  const scene = await call(h.url, 'POST', '/v1/scenes', { body: bytes, type: 'model/gltf-binary', token: key });
  const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId: scene.body.sceneId, size: '32x32', frames: '0' }, token: key });
  expect(job.status).toBe(201);
  return job.body.jobId;
}

/** Open an event stream and read until its first event, leaving it open. */
async function openStream(key: string, jobId: string): Promise<{ status: number; body: unknown; close: () => void }> {
  const abort = new AbortController();
  const res = await fetch(`${h.url}/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${key}` }, signal: abort.signal });
  if (res.status !== 200) return { status: res.status, body: await res.json(), close: () => {} };
  const reader = res.body!.getReader();
  await reader.read();
  return { status: 200, body: null, close: () => abort.abort() };
}

describe('event stream flood', () => {
  it('past maxEventStreams → 429 QUOTA_EXCEEDED; a closed stream frees its slot; other keys are unaffected', async () => {
    const key = await clientKey('flooder', { maxEventStreams: 3 });
    const jobId = await submit(key);
    const open = [await openStream(key, jobId), await openStream(key, jobId), await openStream(key, jobId)];
    expect(open.map((s) => s.status)).toEqual([200, 200, 200]);
    const fourth = await openStream(key, jobId);
    expect(fourth.status).toBe(429);
    expect(fourth.body).toMatchObject({ code: 'QUOTA_EXCEEDED', message: expect.stringMatching(/3 event streams open, its limit/) });

    const other = await clientKey('bystander');
    const otherJob = await submit(other);
    const theirs = await openStream(other, otherJob);
    expect(theirs.status).toBe(200);
    theirs.close();

    open[0].close();
    // The server notices the closed connection at its next write or re-check.
    let again = await openStream(key, jobId);
    for (let i = 0; i < 50 && again.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await openStream(key, jobId);
    }
    expect(again.status).toBe(200);
    for (const s of [...open, again]) s.close();
  });

  it('the SDK still follows a job to its end when the key has no stream left (it polls)', async () => {
    const key = await clientKey('patient', { maxEventStreams: 1 });
    const jobId = await submit(key);
    const hog = await openStream(key, jobId);
    expect(hog.status).toBe(200);
    const sdk = createTesseraClient({ baseUrl: h.url, apiKey: key, retries: 0, pollIntervalMs: 100, retryDelayMs: 10 });
    const waiting = sdk.waitForJob(jobId);
    // Earlier tests' jobs are queued too: the node finishes them all, this one included.
    for (let task = await node.lease(5); task; task = await node.lease(0)) {
      await node.finish(task, fakePng(task.jobId === jobId ? 'frame' : 'other'));
    }
    const status = await waiting;
    expect(status.state).toBe('done');
    const frames = await sdk.frames(jobId);
    expect(frames.frames).toHaveLength(1);
    expect(new TextDecoder().decode((await sdk.downloadFrame(frames.frames[0].url, { sha256: frames.frames[0].checksum })).subarray(8))).toBe('frame');
    hog.close();
  });
});
