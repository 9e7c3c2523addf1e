/**
 * The same scene bytes sent again are not checked again, and a client may ask by their sha256 before sending them:
 * only for scenes its key may use (a hash is no proof of holding the bytes). The SDK asks first and sends nothing
 * the second time; the CLI packs a .gltf folder into the same zip bytes every time, so it is recognized too.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient } from '../../api/client/index.ts';
import { S3BlobStore } from '../../api/node/s3-blob-store.ts';
import { packScene } from '../../infra/cli/pack-scene.ts';
import { call, ROOT, sha256, startHarness, TEST_API_KEY, type Harness } from '../support/api-harness.ts';

let h: Harness;
let blobs: S3BlobStore;
beforeAll(async () => {
  h = await startHarness();
  blobs = new S3BlobStore(h.s3);
});
afterAll(async () => {
  blobs?.close();
  await h?.close();
});

async function createKey(name: string): Promise<string> {
  const res = await call(h.url, 'POST', '/v1/keys', { json: { name } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.key;
}

describe('uploading the same bytes again', () => {
  it('answers by the bytes’ sha256 only to a key that uploaded them, and grants the scene to a key that sends them', async () => {
    const glb = new Uint8Array(await readFile(path.join(ROOT, 'scenes/animated-trs.glb')));
    const raw = sha256(glb);
    // Nothing uploaded yet: unknown.
    const before = await call(h.url, 'GET', `/v1/scenes/uploaded/${raw}`);
    expect(before.status).toBe(404);
    expect(before.body.code).toBe('NOT_FOUND');

    const first = await call(h.url, 'POST', '/v1/scenes', { body: glb, type: 'model/gltf-binary' });
    expect(first.status).toBe(201);
    // Which scene these bytes made is stored beside the scene.
    expect(JSON.parse(new TextDecoder().decode((await blobs.get(`scene-uploads/${raw}.json`))!))).toEqual({ sceneId: first.body.sceneId });

    const known = await call(h.url, 'GET', `/v1/scenes/uploaded/${raw}`);
    expect(known.status).toBe(200);
    expect(known.body).toEqual(first.body);

    // Another key knowing the hash gets nothing, and cannot submit a job on the scene.
    const carol = await createKey('carol');
    expect((await call(h.url, 'GET', `/v1/scenes/uploaded/${raw}`, { token: carol })).status).toBe(404);
    expect((await call(h.url, 'POST', '/v1/jobs', { json: { sceneId: first.body.sceneId, size: '16x16' }, token: carol })).status).toBe(404);
    // Sending the bytes proves she has them: the same scene, now hers too.
    const hers = await call(h.url, 'POST', '/v1/scenes', { body: glb, type: 'application/octet-stream', token: carol });
    expect(hers.status).toBe(201);
    expect(hers.body).toEqual(first.body);
    expect((await call(h.url, 'GET', `/v1/scenes/uploaded/${raw}`, { token: carol })).status).toBe(200);
    expect((await call(h.url, 'POST', '/v1/jobs', { json: { sceneId: first.body.sceneId, size: '16x16' }, token: carol })).status).toBe(201);

    // A malformed hash is a 400, not a look-up.
    const bad = await call(h.url, 'GET', '/v1/scenes/uploaded/ABC');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('BAD_REQUEST');
  });

  it('checks the bytes again when the scene they made is gone from storage', async () => {
    const glb = new Uint8Array(await readFile(path.join(ROOT, 'scenes/morph.glb')));
    const first = await call(h.url, 'POST', '/v1/scenes', { body: glb, type: 'model/gltf-binary' });
    expect(first.status).toBe(201);
    await blobs.delete(`scenes/${first.body.sceneId}.glb`);
    expect((await call(h.url, 'GET', `/v1/scenes/uploaded/${sha256(glb)}`)).status).toBe(404);
    const again = await call(h.url, 'POST', '/v1/scenes', { body: glb, type: 'model/gltf-binary' });
    expect(again.status).toBe(201);
    expect(again.body.sceneId).toBe(first.body.sceneId);
    // Stored again, byte for byte.
    expect(sha256((await blobs.get(`scenes/${first.body.sceneId}.glb`))!)).toBe(first.body.sceneId);
  });

  it('recognizes bytes that came through a presigned upload', async () => {
    const glb = new Uint8Array(await readFile(path.join(ROOT, 'scenes/cameras.glb')));
    const ticket = await call(h.url, 'POST', '/v1/scenes/uploads', { json: { bytes: glb.length, contentType: 'model/gltf-binary' } });
    expect((await fetch(ticket.body.url, { method: 'PUT', body: glb, headers: { 'content-type': 'model/gltf-binary' } })).status).toBe(200);
    const done = await call(h.url, 'POST', `/v1/scenes/uploads/${ticket.body.uploadId}/complete`);
    expect(done.status, JSON.stringify(done.body)).toBe(201);
    const known = await call(h.url, 'GET', `/v1/scenes/uploaded/${sha256(glb)}`);
    expect(known.status).toBe(200);
    expect(known.body.sceneId).toBe(done.body.sceneId);
  });

  it('the SDK sends a scene’s bytes once; the CLI’s zip of a .gltf folder is the same bytes each time', async () => {
    const sent: string[] = [];
    const counting: typeof fetch = (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      sent.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
      return fetch(input, init);
    };
    const client = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, fetch: counting, askBeforeUploadMinBytes: 1, probeHistory: false });
    const first = await packScene(path.join(ROOT, 'scenes/textured-gltf/scene.gltf'));
    const second = await packScene(path.join(ROOT, 'scenes/textured-gltf/scene.gltf'));
    expect(sha256(second.bytes)).toBe(sha256(first.bytes));

    const a = await client.uploadScene(first.bytes, { contentType: first.contentType });
    expect(sent).toEqual([`GET /v1/scenes/uploaded/${sha256(first.bytes)}`, 'POST /v1/scenes']);
    sent.length = 0;
    const b = await client.uploadScene(second.bytes, { contentType: second.contentType });
    expect(sent).toEqual([`GET /v1/scenes/uploaded/${sha256(second.bytes)}`]);
    expect(b).toEqual(a);

    // Below the size worth asking for, the bytes go at once (and the API does not check them again).
    sent.length = 0;
    const small = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, fetch: counting, probeHistory: false });
    expect(await small.uploadScene(first.bytes, { contentType: first.contentType })).toEqual(a);
    expect(sent).toEqual(['POST /v1/scenes']);
  });
});
