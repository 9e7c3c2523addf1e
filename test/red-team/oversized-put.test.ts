/**
 * Red team: outputs and tiles bigger than any honest encoding of their pixels, and images whose headers claim
 * more pixels than the tile has (decode bombs). The API HEADs an output before reading it and refuses one
 * larger than its tile can take without downloading it; the pixel comparer and the stitcher give sharp
 * `limitInputPixels` = the tile's pixels, so a lying header is refused before decoding. Honest outputs pass.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxOutputBytes } from '../../api/core/accept-output.ts';
import { createPixelImageComparer } from '../../api/node/pixel-image-comparer.ts';
import { createS3BlobStore, type S3BlobStore } from '../../api/node/s3-blob-store.ts';
import { decodeRaw, stitchTiles } from '../../render-node/output/stitch-tiles.ts';
import { grayPng } from '../hostile/glb-builder.ts';
import { createTesseraClient } from '../../api/client/index.ts';
import { call, fakePng, ROOT, sha256, startHarness, TEST_API_KEY, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';
import { startSigV4Gate, type SigV4Gate } from '../support/sigv4-gate.ts';

let h: Harness;
let node: TestNode;
let store: S3BlobStore;
let sceneId: string;
beforeAll(async () => {
  h = await startHarness();
  node = await TestNode.register(h, 'stuffer');
  store = await createS3BlobStore(h.s3);
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterAll(async () => {
  store?.close();
  await h?.close();
});

/** A real 4×4 PNG whose IHDR then claims width × height, with the chunk's CRC fixed so decoders believe it. */
function lyingPng(width: number, height: number): Uint8Array {
  const out = new Uint8Array(grayPng(4, 4));
  const view = new DataView(out.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  view.setUint32(29, crc32(out.subarray(12, 29)) >>> 0);
  return out;
}

const png = (w: number, h: number, gray: number) =>
  sharp({ create: { width: w, height: h, channels: 4, background: { r: gray, g: gray, b: gray, alpha: 1 } } }).png().toBuffer().then((b) => new Uint8Array(b));

describe('oversized outputs', () => {
  it('an output larger than its tile can take → no upload URL (PAYLOAD_TOO_LARGE); stored anyway → OUTPUT_CORRUPT, refused from its HEAD; the retry with an honest output completes', async () => {
    const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0' } });
    const task = (await node.lease(0))!;
    const huge = new Uint8Array(maxOutputBytes(16, 16) + 1);
    huge.set(fakePng('x'));
    const ticket = await node.reportUpload(task, huge);
    expect(ticket.status).toBe(413);
    expect(ticket.body.code).toBe('PAYLOAD_TOO_LARGE');
    // A store that let such an object in under the key its sha256 names (as if reported small): the API refuses it
    // from its HEAD, unread.
    const key = task.output.key.replace(/(\.\w+)$/, `.${sha256(huge)}$1`);
    await store.put(key, huge);
    const res = await call(h.url, 'POST', `/v1/tasks/${task.taskId}/complete`, { json: { leaseId: task.leaseId, checksum: sha256(huge), bytes: 9, timings: {} }, token: node.reg.nodeToken });
    expect(res.body.code).toBe('OUTPUT_CORRUPT');
    expect(res.body.message).toMatch(/more than a 16×16 image can take/);
    // The task is retried (after its backoff); an honest output is accepted.
    let again = await node.lease(0);
    for (let i = 0; !again && i < 60; i++) again = await node.lease(1);
    expect(again!.taskId).toBe(task.taskId);
    const honest = await png(16, 16, 128);
    expect((await node.finish(again!, honest)).body).toMatchObject({ jobState: 'done' });
    const frames = await call(h.url, 'GET', `/v1/jobs/${job.body.jobId}/frames`);
    expect(new Uint8Array(await (await fetch(frames.body.frames[0].url)).arrayBuffer())).toEqual(honest);
  });
});

describe('decode bombs', () => {
  it('the pixel comparer refuses an image claiming 30000×30000 for a 16×16 tile (a difference, not a decode)', async () => {
    const honest = await png(16, 16, 100);
    await store.put('rt/honest.png', honest);
    await store.put('rt/same.png', honest);
    await store.put('rt/bomb.png', lyingPng(30000, 30000));
    await store.put('rt/big.png', await png(64, 64, 100));
    const comparer = createPixelImageComparer(store);
    const started = performance.now();
    expect(await comparer.compare('rt/honest.png', 'rt/bomb.png', { width: 16, height: 16 })).toEqual({ diffRatio: 1 });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(await comparer.compare('rt/honest.png', 'rt/big.png', { width: 16, height: 16 })).toEqual({ diffRatio: 1 });
    expect(await comparer.compare('rt/honest.png', 'rt/same.png', { width: 16, height: 16 })).toEqual({ diffRatio: 0 });
  });

  it('the stitcher refuses a tile claiming more pixels than the tile (or the frame) has, and stitches honest tiles', async () => {
    await expect(decodeRaw(lyingPng(30000, 30000), 16 * 16)).rejects.toThrow(/pixel limit/i);
    await expect(decodeRaw(await png(32, 32, 1), 16 * 16)).rejects.toThrow(/pixel limit/i);
    await expect(stitchTiles(32, 16, [{ x: 0, y: 0, image: lyingPng(30000, 30000) }])).rejects.toThrow(/pixel limit/i);
    const left = await png(16, 16, 10);
    const right = await png(16, 16, 200);
    const frame = await stitchTiles(32, 16, [{ x: 0, y: 0, image: left }, { x: 16, y: 0, image: right }]);
    expect([frame.data[0], frame.data[16 * 4]]).toEqual([10, 200]);
  });
});

describe('presigned scene uploads are signed for the announced bytes', () => {
  let g: Harness;
  let gate: SigV4Gate;
  beforeAll(async () => {
    // Clients reach storage through a gate that checks signatures, signed headers and checksums as S3/R2 do.
    g = await startHarness({ storageFront: async (s3) => (gate = await startSigV4Gate(s3.endpoint, s3)) });
  });
  afterAll(async () => {
    await g?.close();
  });

  it('a PUT of other or more bytes, or without the signed checksum, is refused by storage; the announced bytes go through', async () => {
    const glb = new Uint8Array(await readFile(path.join(ROOT, 'scenes/cameras.glb')));
    const announced = { bytes: glb.length, sha256: sha256(glb), contentType: 'model/gltf-binary' };
    const ticket = await call(g.url, 'POST', '/v1/scenes/uploads', { json: announced });
    expect(ticket.status).toBe(201);
    expect(ticket.body.headers).toEqual({ 'x-amz-checksum-sha256': createHash('sha256').update(glb).digest('base64') });
    expect(new URL(ticket.body.url).searchParams.get('X-Amz-SignedHeaders')).toContain('x-amz-checksum-sha256');

    const bigger = new Uint8Array(64 * 1024 * 1024);
    const tries: [string, RequestInit][] = [
      ['64 MiB instead', { body: bigger, headers: ticket.body.headers }],
      ['same size, other bytes', { body: new Uint8Array(glb.length), headers: ticket.body.headers }],
      ['without the checksum header', { body: glb }],
      ['another checksum', { body: bigger, headers: { 'x-amz-checksum-sha256': createHash('sha256').update(bigger).digest('base64') } }],
    ];
    for (const [what, init] of tries) {
      const res = await fetch(ticket.body.url, { method: 'PUT', ...init });
      await res.arrayBuffer();
      expect(res.status, what).toBeGreaterThanOrEqual(400);
    }
    expect((await call(g.url, 'POST', `/v1/scenes/uploads/${ticket.body.uploadId}/complete`)).status).toBe(404);

    // The honest PUT, as the ticket says, and the SDK's own large-scene path.
    const put = await fetch(ticket.body.url, { method: 'PUT', body: glb, headers: ticket.body.headers });
    expect(put.status).toBe(200);
    const done = await call(g.url, 'POST', `/v1/scenes/uploads/${ticket.body.uploadId}/complete`);
    expect(done.status, JSON.stringify(done.body)).toBe(201);
    const sdk = createTesseraClient({ baseUrl: g.url, apiKey: TEST_API_KEY, directUploadMaxBytes: 1 });
    expect((await sdk.uploadScene(glb)).sceneId).toBe(done.body.sceneId);
    expect(gate.refused.map((r) => r.reason)).toEqual(expect.arrayContaining(['checksum mismatch', 'signature does not match']));
  });
});
