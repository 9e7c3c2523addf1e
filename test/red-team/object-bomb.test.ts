/**
 * Red team: a small scene that declares a huge number of glTF objects. Every material, primitive, accessor,
 * animation sampler and channel becomes a glTF-Transform property in the API (normalizing) and a three.js
 * object on the node, at several KB each, though it costs tens of bytes of JSON. Measured before the cap (this
 * machine): 400,000 materials with one primitive each on one shared triangle, a 20 MB GLB, blocked the API's
 * event loop for 100 s and filled its 4.3 GB heap; a little more crashed the process. Only nodes were counted
 * (maxNodes). Now every object the scene declares counts against maxObjects before anything is built.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCENE_LIMITS_DEFAULTS } from '../../api/protocol/render-spec.ts';
import { packGlb, triangleGltf, triangleGlb } from '../hostile/glb-builder.ts';
import { call, startHarness, type Harness } from '../support/api-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const cap = SCENE_LIMITS_DEFAULTS.maxObjects;
const upload = (glb: Uint8Array) => call(h.url, 'POST', '/v1/scenes', { body: glb as Uint8Array<ArrayBuffer>, type: 'model/gltf-binary' });

describe('object bombs', () => {
  it('a few MB declaring more glTF objects than maxObjects (materials, primitives, animation channels) → 413 SCENE_LIMIT_EXCEEDED; the API still serves', async () => {
    // One triangle, drawn by (cap / 2 + 1) primitives that each have their own material: cap + 2 objects past the few real ones.
    const n = cap / 2 + 1;
    const materials = triangleGlb((j) => {
      j.materials = Array.from({ length: n }, () => ({}));
      j.meshes[0].primitives = Array.from({ length: n }, (_, i) => ({ attributes: { POSITION: 0 }, material: i }));
    });
    expect(materials.length).toBeLessThan(8 * 1024 * 1024);
    const refused = await upload(materials);
    expect(refused.status, JSON.stringify(refused.body)).toBe(413);
    expect(refused.body.code).toBe('SCENE_LIMIT_EXCEEDED');
    expect(refused.body.message).toMatch(/more than maxObjects/);

    // Animations: each one's sampler and channel count, however few animations there are.
    const { json, bin } = triangleGltf();
    json.accessors.push({ bufferView: 0, componentType: 5126, count: 1, type: 'SCALAR' }, { bufferView: 0, componentType: 5126, count: 1, type: 'VEC3' });
    const m = Math.ceil(cap / 2);
    json.animations = [
      {
        samplers: Array.from({ length: m }, () => ({ input: 1, output: 2 })),
        channels: Array.from({ length: m }, (_, i) => ({ sampler: i, target: { node: 0, path: 'translation' } })),
      },
    ];
    const channels = await upload(packGlb(json, bin));
    expect(channels.status, JSON.stringify(channels.body)).toBe(413);
    expect(channels.body.code).toBe('SCENE_LIMIT_EXCEEDED');

    // The API answers at once afterwards, and an honest scene with many (shared) objects still uploads.
    const honest = await upload(triangleGlb((j) => {
      j.materials = Array.from({ length: 1000 }, () => ({}));
      j.meshes[0].primitives = Array.from({ length: 1000 }, (_, i) => ({ attributes: { POSITION: 0 }, material: i }));
    }));
    expect(honest.status, JSON.stringify(honest.body)).toBe(201);
    expect(honest.body.stats).toMatchObject({ materials: 1000, primitives: 1000 });
  }, 60_000);
});
