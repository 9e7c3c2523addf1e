/**
 * The same scene bytes again, inside workerd: the Worker keeps which scene an upload's bytes made in storage beside
 * the scene, answers `GET /v1/scenes/uploaded/:sha256` for them, and a second upload of those bytes gets the same scene.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../api/protocol/sha256-hex.ts';
import { fetchWorker, workerCaller } from './support/worker-caller.ts';

const farmEnv = { ...env, FARM: `scene-reupload-${Date.now()}` };
const call = workerCaller(farmEnv);

/** A one-triangle .gltf with its buffer as a data: URI. */
function triangleGltf(): Uint8Array {
  const positions = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]);
  const b64 = btoa(String.fromCharCode(...new Uint8Array(positions.buffer)));
  return new TextEncoder().encode(
    JSON.stringify({
      asset: { version: '2.0' },
      scene: 0,
      scenes: [{ nodes: [0] }],
      nodes: [{ mesh: 0 }],
      meshes: [{ primitives: [{ attributes: { POSITION: 0 } }] }],
      accessors: [{ bufferView: 0, componentType: 5126, count: 3, type: 'VEC3', min: [0, 0, 0], max: [1, 1, 0] }],
      bufferViews: [{ buffer: 0, byteLength: 36 }],
      buffers: [{ byteLength: 36, uri: `data:application/octet-stream;base64,${b64}` }],
    }),
  );
}

async function upload(bytes: Uint8Array): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetchWorker(
    new Request('https://api.example/v1/scenes', {
      method: 'POST',
      headers: { authorization: `Bearer ${env.TESSERA_API_KEY}`, 'content-type': 'model/gltf+json' },
      body: bytes,
    }) as Request<unknown, IncomingRequestCfProperties>,
    farmEnv,
  );
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('uploading the same bytes again, in the Worker', () => {
  it('answers by the bytes’ sha256 and gives the same scene to a second upload', async () => {
    const gltf = triangleGltf();
    const raw = await sha256Hex(gltf);
    expect((await call('GET', `/v1/scenes/uploaded/${raw}`)).status).toBe(404);
    const first = await upload(gltf);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const known = await call('GET', `/v1/scenes/uploaded/${raw}`);
    expect(known.status).toBe(200);
    expect(known.body).toEqual(first.body);
    const again = await upload(gltf);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
  });
});
