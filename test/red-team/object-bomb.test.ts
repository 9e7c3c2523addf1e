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
import { bytesOf, packGlb, triangleGltf, triangleGlb, type Json } from '../hostile/glb-builder.ts';
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

/** The triangle plus one SCALAR accessor (index 1) of `count` values from `values(i)`, in its own buffer view. */
function triangleWithScalars(count: number, componentType: 5125 | 5126, values: (i: number) => number): { json: Json; bin: Uint8Array } {
  const { json, bin } = triangleGltf();
  const data = componentType === 5126 ? new Float32Array(count) : new Uint32Array(count);
  for (let i = 0; i < count; i++) data[i] = values(i);
  const all = new Uint8Array(36 + data.byteLength);
  all.set(bin);
  all.set(bytesOf(data), 36);
  json.buffers[0].byteLength = all.length;
  json.bufferViews.push({ buffer: 0, byteOffset: 36, byteLength: data.byteLength });
  json.accessors.push({ bufferView: 1, componentType, count, type: 'SCALAR' });
  return { json, bin: all };
}

describe('many objects pointing at one large accessor', () => {
  // Before, each sampler re-read its input, each primitive its indices (per distinct vertex count), and each camera
  // searched every node for itself, on the API's event loop, for uploads of a few MB. Measured here before the fix:
  // the samplers 161 s, 5,000 primitives on 2M indices 51 s, 99,000 cameras 420 s. Now each accessor is read once and the nodes
  // walked once, and all three scenes upload.
  it('20,000 animation samplers sharing one input of 1M key times → read once, uploaded', async () => {
    const { json, bin } = triangleWithScalars(1_000_000, 5126, (i) => i / 1_000_000);
    json.accessors.push({ bufferView: 1, componentType: 5126, count: 1, type: 'VEC3' });
    json.animations = [{ samplers: Array.from({ length: 20_000 }, () => ({ input: 1, output: 2, interpolation: 'STEP' })), channels: [] }];
    const res = await upload(packGlb(json, bin));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.stats.animationSeconds).toBeCloseTo(1, 5);
  }, 30_000);

  it('50,000 cameras and 50,000 nodes → each camera’s node found in one pass, uploaded', async () => {
    const glb = triangleGlb((j) => {
      j.cameras = Array.from({ length: 50_000 }, () => ({ type: 'perspective', perspective: { yfov: 1, znear: 0.1 } }));
      j.nodes = Array.from({ length: 50_000 }, (_, i) => (i === 0 ? { mesh: 0 } : { camera: 50_000 - i }));
      j.scenes[0].nodes = j.nodes.map((_: unknown, i: number) => i);
    });
    const res = await upload(glb);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.stats).toMatchObject({ cameras: 50_000, nodes: 50_000 });
  }, 30_000);

  it('2,000 primitives of different vertex counts sharing one index accessor of 5M indices → read once, uploaded', async () => {
    const { json, bin } = triangleWithScalars(5_000_000, 5125, () => 0);
    const positions = 2000;
    // Position accessors of 1 … 2,000 vertices over one view (the triangle's, made long enough), one per primitive.
    const pos = new Float32Array(positions * 3);
    const all = new Uint8Array(bin.length + pos.byteLength);
    all.set(bin);
    json.buffers[0].byteLength = all.length;
    json.bufferViews.push({ buffer: 0, byteOffset: bin.length, byteLength: pos.byteLength });
    const first = json.accessors.length;
    for (let n = 1; n <= positions; n++) json.accessors.push({ bufferView: 2, componentType: 5126, count: n, type: 'VEC3', min: [0, 0, 0], max: [0, 0, 0] });
    // In a mesh no node draws, so maxDrawnVertices (draw-bomb.test.ts) leaves it to the data checks.
    json.meshes.push({ primitives: Array.from({ length: positions }, (_, i) => ({ attributes: { POSITION: first + i }, indices: 1, mode: 0 })) });
    const res = await upload(packGlb(json, all));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }, 30_000);
});
