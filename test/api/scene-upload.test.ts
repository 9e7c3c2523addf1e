/**
 * Scene uploads in every accepted form: GLB body, zip of a .gltf with its files, multipart form, and a
 * presigned PUT for large scenes. The same scene always gets the same id, and the stored GLB is what
 * nodes download.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../api/node/s3-blob-store.ts';
import { call, ROOT, sha256, startHarness, TEST_AUTH, type Harness } from '../support/api-harness.ts';

let h: Harness;
let files: Record<string, Uint8Array<ArrayBuffer>>;
beforeAll(async () => {
  h = await startHarness();
  const dir = path.join(ROOT, 'scenes/textured-gltf');
  files = {};
  for (const name of ['scene.gltf', 'scene.bin', 'checker.png']) files[name] = new Uint8Array(await readFile(path.join(dir, name)));
});
afterAll(async () => {
  await h?.close();
});

describe('scene uploads', () => {
  it('stores a GLB by the sha256 of its normalized bytes, idempotently', async () => {
    const glb = await readFile(path.join(ROOT, 'scenes/animated-trs.glb'));
    const first = await call(h.url, 'POST', '/v1/scenes', { body: glb, type: 'model/gltf-binary' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ sceneId: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: expect.any(Number) });
    expect(first.body.stats).toMatchObject({ animations: 1, animationSeconds: 2 });
    const again = await call(h.url, 'POST', '/v1/scenes', { body: glb, type: 'application/octet-stream' });
    expect(again.status).toBe(201);
    expect(again.body.sceneId).toBe(first.body.sceneId);
  });

  it('accepts a zip of a .gltf with its files, and the same scene as multipart gets the same id', async () => {
    const zip = zipSync({ 'model/scene.gltf': files['scene.gltf'], 'model/scene.bin': files['scene.bin'], 'model/checker.png': files['checker.png'] });
    const zipped = await call(h.url, 'POST', '/v1/scenes', { body: zip, type: 'application/zip' });
    expect(zipped.status, JSON.stringify(zipped.body)).toBe(201);
    expect(zipped.body.stats).toMatchObject({ textures: 1 });

    const form = new FormData();
    for (const [name, bytes] of Object.entries(files)) form.append('file', new Blob([bytes]), name);
    const res = await fetch(`${h.url}/v1/scenes`, { method: 'POST', body: form, headers: TEST_AUTH });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(201);
    expect(body.sceneId).toBe(zipped.body.sceneId);
  });

  it('refuses a zip whose .gltf is missing a file, or that escapes its folder', async () => {
    const missing = zipSync({ 'scene.gltf': files['scene.gltf'], 'scene.bin': files['scene.bin'] });
    const res = await call(h.url, 'POST', '/v1/scenes', { body: missing, type: 'application/zip' });
    expect(res.status).toBe(422);
    expect(res.body.code).toMatch(/^SCENE_/);
    expect(res.body.message).toMatch(/checker\.png/);

    const escaping = zipSync({ 'scene.gltf': files['scene.gltf'], '../scene.bin': files['scene.bin'] });
    const bad = await call(h.url, 'POST', '/v1/scenes', { body: escaping, type: 'application/zip' });
    expect(bad.status).toBe(422);
    expect(bad.body).toEqual({ code: 'SCENE_MALFORMED', message: expect.stringMatching(/unsafe path/) });

    const notZip = await call(h.url, 'POST', '/v1/scenes', { body: 'PK\u0003\u0004 but not really', type: 'application/zip' });
    expect(notZip.status).toBe(422);
    expect(notZip.body.code).toBe('SCENE_MALFORMED');
  });

  it('takes a large scene through a presigned upload', async () => {
    const glb = new Uint8Array(await readFile(path.join(ROOT, 'scenes/cameras.glb')));
    const ticket = await call(h.url, 'POST', '/v1/scenes/uploads', { json: { bytes: glb.length, contentType: 'model/gltf-binary' } });
    expect(ticket.status).toBe(201);
    expect(ticket.body.uploadId).toMatch(/^upl_/);

    const early = await call(h.url, 'POST', `/v1/scenes/uploads/${ticket.body.uploadId}/complete`);
    expect(early.status).toBe(404);
    expect(early.body.code).toBe('NOT_FOUND');

    const put = await fetch(ticket.body.url, { method: 'PUT', body: glb, headers: { 'content-type': 'model/gltf-binary' } });
    expect(put.status).toBe(200);
    const done = await call(h.url, 'POST', `/v1/scenes/uploads/${ticket.body.uploadId}/complete`);
    expect(done.status, JSON.stringify(done.body)).toBe(201);
    const direct = await call(h.url, 'POST', '/v1/scenes', { body: glb, type: 'model/gltf-binary' });
    expect(done.body.sceneId).toBe(direct.body.sceneId);

    // The stored scene is what a node downloads.
    const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId: done.body.sceneId, size: '16x16', camera: 'front' } });
    expect(job.status).toBe(201);

    // The raw upload is gone once checked.
    expect((await call(h.url, 'POST', `/v1/scenes/uploads/${ticket.body.uploadId}/complete`)).status).toBe(404);
    expect((await call(h.url, 'POST', '/v1/scenes/uploads/not-an-id/complete')).status).toBe(400);
  });

  it('stores exactly the normalized GLB under scenes/<sceneId>.glb', async () => {
    const glb = await readFile(path.join(ROOT, 'scenes/morph.glb'));
    const res = await call(h.url, 'POST', '/v1/scenes', { body: glb, type: 'model/gltf-binary' });
    const blobs = new S3BlobStore(h.s3);
    try {
      const stored = await blobs.get(`scenes/${res.body.sceneId}.glb`);
      expect(stored).not.toBeNull();
      expect(sha256(stored!)).toBe(res.body.sceneId);
      expect(stored!.length).toBe(res.body.bytes);
    } finally {
      blobs.close();
    }
  });
});
