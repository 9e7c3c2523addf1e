/** Every bad input gets the right status and a `{code, message}` body that says what is wrong. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../api/protocol/errors.ts';
import { call, startHarness, TEST_AUTH, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';
import { expectError } from '../support/expect-error.ts';

const SCENE_LIMIT = 64 * 1024;

let h: Harness;
let sceneId: string;
let camerasId: string;
beforeAll(async () => {
  h = await startHarness({ api: { maxSceneBytes: SCENE_LIMIT } });
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
  camerasId = await uploadSceneFile(h, 'scenes/cameras.glb');
});
afterAll(async () => {
  await h?.close();
});

/** The answer is exactly `{code, message}` with the code's status and a message matching `pattern`. */

const job = (json: object) => call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '64x64', ...json } });

describe('bad requests', () => {
  it('invalid JSON → 400 BAD_REQUEST', async () => {
    expectError(await call(h.url, 'POST', '/v1/jobs', { body: '{"sceneId": ', type: 'application/json' }), 'BAD_REQUEST', /JSON/);
  });

  it('a field of the wrong type → 400 naming the field', async () => {
    expectError(await job({ priority: 'high' }), 'BAD_REQUEST', /priority/);
    expectError(await job({ sceneId: 'nope' }), 'BAD_REQUEST', /sceneId/);
    expectError(await job({ colour: 'red' }), 'BAD_REQUEST', /colour/);
  });

  it('JSON sent as text → 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    expectError(await call(h.url, 'POST', '/v1/jobs', { body: JSON.stringify({ sceneId }), type: 'text/plain' }), 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('a JSON body over 1 MB → 413 PAYLOAD_TOO_LARGE', async () => {
    const big = JSON.stringify({ sceneId, size: '64x64', frames: 'x'.repeat(1024 * 1024) });
    expectError(await call(h.url, 'POST', '/v1/jobs', { body: big, type: 'application/json' }), 'PAYLOAD_TOO_LARGE');
  });

  it('unknown scene → 404 SCENE_UNKNOWN', async () => {
    expectError(await job({ sceneId: 'f'.repeat(64) }), 'SCENE_UNKNOWN');
  });

  it('frames out of range → 422 FRAME_OUT_OF_RANGE (2 s at 24 fps is frames 0–48)', async () => {
    expect((await job({ frames: '48' })).status).toBe(201);
    expectError(await job({ frames: '0-49' }), 'FRAME_OUT_OF_RANGE', /49.*0–48/);
    expectError(await job({ frames: [0, 6, 500] }), 'FRAME_OUT_OF_RANGE', /500/);
    expect((await job({ frames: '24', fps: 12 })).status).toBe(201);
    expectError(await job({ frames: '25', fps: 12 }), 'FRAME_OUT_OF_RANGE');
    // A still scene has frame 0 only.
    expect((await job({ sceneId: camerasId, frames: '0' })).status).toBe(201);
    expectError(await job({ sceneId: camerasId, frames: '1' }), 'FRAME_OUT_OF_RANGE', /no animation/);
    expectError(await job({ clip: 'none', frames: '1' }), 'FRAME_OUT_OF_RANGE');
  });

  it('a malformed frame list → 400', async () => {
    expectError(await job({ frames: '3-1' }), 'BAD_REQUEST', /backwards/);
  });

  it('size 0 or over 16384 → 400', async () => {
    expectError(await job({ size: '0x64' }), 'BAD_REQUEST', /size/);
    expectError(await job({ size: '16385x64' }), 'BAD_REQUEST', /16384/);
    expectError(await job({ size: { width: 64, height: 0 } }), 'BAD_REQUEST');
    expectError(await job({ size: 'big' }), 'BAD_REQUEST', /WIDTHxHEIGHT/);
  });

  it('tile larger than the frame → 400', async () => {
    expectError(await job({ size: '64x48', tile: 128 }), 'BAD_REQUEST', /tile 128/);
    expectError(await job({ tile: 8 }), 'BAD_REQUEST', /tile/);
  });

  it('unknown camera → 422 CAMERA_NOT_FOUND; known names and node names pass', async () => {
    expectError(await job({ camera: 'nope' }), 'CAMERA_NOT_FOUND', /\(none/);
    expectError(await job({ sceneId: camerasId, camera: 'side' }), 'CAMERA_NOT_FOUND', /"front"/);
    expectError(await job({ sceneId: camerasId, camera: { kind: 'gltf', index: 3 } }), 'CAMERA_NOT_FOUND');
    expect((await job({ sceneId: camerasId, camera: 'top' })).status).toBe(201);
    expect((await job({ sceneId: camerasId, camera: { kind: 'gltf', index: 2 } })).status).toBe(201);
  });

  it('unknown clip → 422 CLIP_NOT_FOUND; unknown glTF scene → 422 SCENE_INDEX_NOT_FOUND', async () => {
    expectError(await job({ clip: 'dance' }), 'CLIP_NOT_FOUND', /"move"/);
    expectError(await job({ clip: 1 }), 'CLIP_NOT_FOUND');
    expect((await job({ clip: 'move', frames: '0' })).status).toBe(201);
    expectError(await job({ scene: 2 }), 'SCENE_INDEX_NOT_FOUND');
    expectError(await job({ scene: 'alt' }), 'SCENE_INDEX_NOT_FOUND');
  });

  it('unknown job → 404 JOB_NOT_FOUND; unknown route → 404 NOT_FOUND', async () => {
    expectError(await call(h.url, 'GET', '/v1/jobs/job_nope'), 'JOB_NOT_FOUND');
    expectError(await call(h.url, 'GET', '/v1/jobs/job_nope/frames'), 'JOB_NOT_FOUND');
    expectError(await call(h.url, 'DELETE', '/v1/jobs/job_nope'), 'JOB_NOT_FOUND');
    expectError(await call(h.url, 'GET', '/v2/everything'), 'NOT_FOUND', /\/v2\/everything/);
  });
});

describe('scene uploads', () => {
  it('a body that is not glTF → 422 SCENE_MALFORMED', async () => {
    const res = await call(h.url, 'POST', '/v1/scenes', { body: 'hello, this is not a scene', type: 'application/octet-stream' });
    expectError(res, 'SCENE_MALFORMED', /magic/);
  });

  it('an unsupported content type → 415', async () => {
    expectError(await call(h.url, 'POST', '/v1/scenes', { body: 'hello', type: 'text/plain' }), 'UNSUPPORTED_MEDIA_TYPE', /model\/gltf-binary/);
  });

  it('an upload over the configured limit → 413 PAYLOAD_TOO_LARGE', async () => {
    const big = new Uint8Array(SCENE_LIMIT + 1);
    expectError(await call(h.url, 'POST', '/v1/scenes', { body: big, type: 'model/gltf-binary' }), 'PAYLOAD_TOO_LARGE', new RegExp(String(SCENE_LIMIT)));
    // Also when streamed without a content length.
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(SCENE_LIMIT / 2));
        controller.close();
      },
    });
    const res = await fetch(`${h.url}/v1/scenes`, { method: 'POST', body: stream, headers: { 'content-type': 'model/gltf-binary', ...TEST_AUTH }, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json()).code).toBe('PAYLOAD_TOO_LARGE');
    // And when a presigned upload announces its size.
    expectError(await call(h.url, 'POST', '/v1/scenes/uploads', { json: { bytes: SCENE_LIMIT + 1 } }), 'PAYLOAD_TOO_LARGE');
  });
});

describe('node authentication', () => {
  it('a wrong or missing token → 401 UNAUTHORIZED; an unknown node → 404', async () => {
    const node = await TestNode.register(h, 'auth');
    const other = await TestNode.register(h, 'other');
    const lease = (token: string | null = null, id = node.id) => call(h.url, 'POST', `/v1/nodes/${id}/lease`, { json: { waitSeconds: 0 }, token });
    expectError(await lease('0'.repeat(64)), 'UNAUTHORIZED');
    expectError(await lease(), 'UNAUTHORIZED', /Bearer/);
    expectError(await lease(other.reg.nodeToken), 'UNAUTHORIZED');
    expectError(await lease(node.reg.nodeToken, 'node_gone'), 'NODE_NOT_FOUND');
    expect((await lease(node.reg.nodeToken)).status).not.toBe(401);
    expectError(await call(h.url, 'POST', `/v1/nodes/${node.id}/heartbeat`, { json: {}, token: 'x' }), 'UNAUTHORIZED');
    const complete = await call(h.url, 'POST', '/v1/tasks/t/complete', { json: { leaseId: 'l', checksum: 'a'.repeat(64), bytes: 1 }, token: 'x' });
    expectError(complete, 'UNAUTHORIZED');
    const unknownTask = await call(h.url, 'POST', '/v1/tasks/t/complete', {
      json: { leaseId: 'l', checksum: 'a'.repeat(64), bytes: 1 },
      token: node.reg.nodeToken,
    });
    expectError(unknownTask, 'TASK_NOT_FOUND');
  });

  it('waitSeconds over 25 → 400', async () => {
    const node = await TestNode.register(h, 'impatient');
    const res = await call(h.url, 'POST', `/v1/nodes/${node.id}/lease`, { json: { waitSeconds: 60 }, token: node.reg.nodeToken });
    expectError(res, 'BAD_REQUEST', /waitSeconds/);
  });

  it('a node card with a missing field → 400 naming it', async () => {
    expectError(await call(h.url, 'POST', '/v1/nodes', { json: { name: 'x' } }), 'BAD_REQUEST', /version/);
  });
});

describe('the API surface', () => {
  it('serves its OpenAPI document', async () => {
    const res = await call(h.url, 'GET', '/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/v1/health', '/v1/scenes', '/v1/jobs', '/v1/jobs/{id}/events', '/v1/nodes/{id}/lease', '/v1/tasks/{id}/complete']),
    );
    expect(res.body.components.securitySchemes.nodeToken).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('answers CORS preflights', async () => {
    const res = await fetch(`${h.url}/v1/jobs`, {
      method: 'OPTIONS',
      headers: { origin: 'https://viewer.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/);
  });

  it('reports health', async () => {
    const res = await call(h.url, 'GET', '/v1/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });
});
