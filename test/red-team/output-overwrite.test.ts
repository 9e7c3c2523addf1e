/**
 * Red team: a node whose result was accepted keeps its presigned PUT URL (valid `nodeUrlSeconds`) and uploads
 * other bytes afterwards, hoping the stitcher or the client reads them. Accepted output lives at a key no node
 * is ever given a URL for, holding the bytes the API checked; the late upload lands only on the node's own
 * attempt object. Honest work completes with exactly the accepted bytes, and after the job no attempt object
 * is left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3BlobStore } from '../../api/node/s3-blob-store.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import { call, fakePng, sha256, startHarness, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';

let h: Harness;
let liar: TestNode;
let honest: TestNode;
let sceneId: string;
beforeAll(async () => {
  h = await startHarness();
  liar = await TestNode.register(h, 'swapper');
  honest = await TestNode.register(h, 'honest');
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterAll(async () => {
  await h?.close();
});

const get = async (url: string) => new Uint8Array(await (await fetch(url)).arrayBuffer());

describe('post-acceptance overwrite', () => {
  it('a tile overwritten after acceptance: the stitch reads the accepted bytes, the frame is the honest one', async () => {
    const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x16', tile: 16, frames: '0' } });
    const jobId = job.body.jobId;
    const tiles = new Map<string, Uint8Array>();
    const mine: LeasedTask[] = [];
    const written = new Set<string>();
    for (let t = await liar.lease(0); t && t.kind === 'render'; t = mine.length < 2 ? await liar.lease(0) : null) {
      const bytes = fakePng(`tile ${t.tile!.x}`);
      written.add((await liar.uploadTicket(t, bytes)).key);
      expect((await liar.finish(t, bytes)).status).toBe(200);
      tiles.set(`${t.tile!.x}_${t.tile!.y}`, bytes);
      mine.push(t);
    }
    expect(mine).toHaveLength(2);
    // The attack: after acceptance, report other bytes with the lease's still valid upload token and PUT them.
    // Storage takes them (under a key named by their sha256)…
    for (const t of mine) {
      const evil = await liar.uploadTicket(t, fakePng('EVIL'));
      written.add(evil.key);
      expect((await fetch(evil.url, { method: 'PUT', body: fakePng('EVIL'), headers: evil.headers })).status).toBe(200);
    }

    // …but the stitcher's tile URLs name other keys, and serve the accepted bytes with their checksums.
    const stitch = await honest.lease(0);
    expect(stitch!.kind).toBe('stitch');
    for (const tile of stitch!.tiles!) {
      expect(written.has(new URL(tile.url).pathname.split('/').slice(2).join('/'))).toBe(false);
      const got = await get(tile.url);
      expect(got).toEqual(tiles.get(`${tile.x}_${tile.y}`));
      expect(sha256(got)).toBe(tile.checksum);
    }
    const frame = fakePng('the frame');
    expect((await honest.finish(stitch!, frame)).body).toMatchObject({ jobState: 'done' });
    const frames = await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`);
    expect(await get(frames.body.frames[0].url)).toEqual(frame);
  });

  it('a whole frame overwritten after acceptance: clients download the accepted bytes', async () => {
    const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0-1' } });
    const jobId = job.body.jobId;
    const good = new Map<number, Uint8Array>();
    const leased: LeasedTask[] = [];
    for (let t = await liar.lease(0); t; t = await liar.lease(0)) {
      const bytes = fakePng(`frame ${t.frame}`);
      expect((await liar.finish(t, bytes)).status).toBe(200);
      good.set(t.frame, bytes);
      leased.push(t);
    }
    expect(leased).toHaveLength(2);
    const evilKeys: string[] = [];
    for (const t of leased) {
      const evil = await liar.uploadTicket(t, fakePng('EVIL EVIL'));
      evilKeys.push(evil.key, (await liar.uploadTicket(t, good.get(t.frame)!)).key);
      await fetch(evil.url, { method: 'PUT', body: fakePng('EVIL EVIL'), headers: evil.headers });
    }
    const frames = await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`);
    expect(frames.body.frames).toHaveLength(2);
    for (const f of frames.body.frames) {
      expect(evilKeys).not.toContain(f.key);
      const got = await get(f.url);
      expect(got).toEqual(good.get(f.frame));
      expect(sha256(got)).toBe(f.checksum);
    }
    // Once the job is done, the attempt objects are deleted: a late PUT cannot even leave clutter behind
    // (it may recreate its own attempt object, which nobody reads).
    const store = await createS3BlobStore(h.s3);
    try {
      for (const f of frames.body.frames) expect(sha256((await store.get(f.key))!)).toBe(f.checksum);
    } finally {
      store.close();
    }
  });

  it('no leased task is ever given a PUT URL for a key that anything reads', async () => {
    const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', tile: 16, frames: '0-1' } });
    const writes = new Set<string>();
    const reads = new Set<string>();
    for (let t = await honest.lease(0); t; t = await honest.lease(0)) {
      // The only key a node may write: the one its report names (the same claim always names the same key).
      writes.add((await honest.uploadTicket(t, fakePng(t.taskId))).key);
      for (const tile of t.tiles ?? []) reads.add(new URL(tile.url).pathname);
      expect((await honest.finish(t, fakePng(t.taskId))).status).toBe(200);
    }
    const frames = await call(h.url, 'GET', `/v1/jobs/${job.body.jobId}/frames`);
    for (const f of frames.body.frames) reads.add(f.key);
    for (const w of writes) {
      expect(w).toMatch(/\.a\d+\.[0-9a-f]{64}\.\w+$/);
      for (const r of reads) expect(r.endsWith(w)).toBe(false);
    }
    expect(frames.body.frames).toHaveLength(2);
  });
});
