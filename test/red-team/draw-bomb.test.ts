/**
 * Red team: a small scene that asks for far more drawing than its vertices suggest. maxVertices counted each
 * primitive's vertices once (and EXT_mesh_gpu_instancing instances), but not the other ways a file repeats work
 * for free: 100,000 nodes each drawing one mesh, or one index accessor of millions of indices shared by thousands
 * of primitives. Both uploaded (a few hundred KB to a few MB) and left nodes to spend each task's time cap on
 * them. Now what one frame draws is counted, every node's mesh with every primitive's indices (or vertices) and
 * instances, against maxDrawnVertices before anything is decoded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCENE_LIMITS_DEFAULTS } from '../../api/protocol/render-spec.ts';
import { bytesOf, packGlb, triangleGltf } from '../hostile/glb-builder.ts';
import { call, startHarness, type Harness } from '../support/api-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const upload = (glb: Uint8Array) => call(h.url, 'POST', '/v1/scenes', { body: glb as Uint8Array<ArrayBuffer>, type: 'model/gltf-binary' });

/** A mesh of one non-indexed primitive of `vertices` zeros, drawn by `nodes` nodes. */
function repeatedMesh(vertices: number, nodes: number): Uint8Array {
  const { json } = triangleGltf();
  const bin = new Uint8Array(vertices * 12);
  json.buffers[0].byteLength = bin.length;
  json.bufferViews[0].byteLength = bin.length;
  json.accessors[0] = { bufferView: 0, componentType: 5126, count: vertices, type: 'VEC3', min: [0, 0, 0], max: [0, 0, 0] };
  json.nodes = Array.from({ length: nodes }, () => ({ mesh: 0 }));
  json.scenes[0].nodes = json.nodes.map((_: unknown, i: number) => i);
  return packGlb(json, bin);
}

/** The triangle drawn by `primitives` primitives that share one index accessor of `indices` zeros. */
function sharedIndices(indices: number, primitives: number): Uint8Array {
  const { json, bin } = triangleGltf();
  const data = new Uint32Array(indices);
  const all = new Uint8Array(36 + data.byteLength);
  all.set(bin);
  all.set(bytesOf(data), 36);
  json.buffers[0].byteLength = all.length;
  json.bufferViews.push({ buffer: 0, byteOffset: 36, byteLength: data.byteLength });
  json.accessors.push({ bufferView: 1, componentType: 5125, count: indices, type: 'SCALAR' });
  json.meshes[0].primitives = Array.from({ length: primitives }, () => ({ attributes: { POSITION: 0 }, indices: 1 }));
  return packGlb(json, all);
}

describe('draw bombs', () => {
  const max = SCENE_LIMITS_DEFAULTS.maxDrawnVertices;

  it('one 10,000-vertex mesh drawn by 100,000 nodes (10^9 vertices a frame) → 413 SCENE_LIMIT_EXCEEDED naming maxDrawnVertices', async () => {
    const res = await upload(repeatedMesh(10_000, 100_000));
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(413);
    expect(res.body.code).toBe('SCENE_LIMIT_EXCEEDED');
    expect(res.body.message).toMatch(/maxDrawnVertices/);
  });

  it('1,000 primitives sharing 1M indices (10^9 a frame) → 413; the same mesh drawn within the cap uploads', async () => {
    const res = await upload(sharedIndices(1_000_000, 1000));
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(413);
    expect(res.body.code).toBe('SCENE_LIMIT_EXCEEDED');
    expect(res.body.message).toMatch(/maxDrawnVertices/);

    const within = Math.floor(max / 1_000_000);
    const honest = await upload(sharedIndices(1_000_000, Math.min(within, 20)));
    expect(honest.status, JSON.stringify(honest.body).slice(0, 300)).toBe(201);
    const nodes = await upload(repeatedMesh(10_000, 1000));
    expect(nodes.status, JSON.stringify(nodes.body).slice(0, 300)).toBe(201);
  }, 30_000);
});
