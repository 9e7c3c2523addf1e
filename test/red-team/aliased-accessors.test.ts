/**
 * Red team: accessors that alias one buffer view. glTF-Transform writes each accessor's elements out on their own,
 * so N accessors over one view become N copies in the normalized GLB the API builds, stores and every node
 * downloads. Measured before the bound: an 8 MB upload (5,000 POSITION accessors of 1 … 5,000 vertices over one
 * view) normalized to a 159 MB GLB; the decoded-size estimate (maxDecodedBytes, 2 GiB) allowed about 2 GB from one
 * 12 MB view, which no node would load (nodes refuse a scene past maxFileBytes). Now the normalized size is
 * estimated from what is written (each accessor's elements, each image) and held to maxFileBytes before
 * normalizing, and the GLB produced is measured against it too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, packGlb, triangleGltf } from '../hostile/glb-builder.ts';
import { call, startHarness, type Harness } from '../support/api-harness.ts';

const MiB = 1024 * 1024;
let h: Harness;
beforeAll(async () => {
  // A smaller file cap than shipped (512 MiB), so the attack stays small; the rule is the same.
  h = await startHarness({ sceneLimits: { maxFileBytes: 16 * MiB } });
});
afterAll(async () => {
  await h?.close();
});

/** The triangle plus `copies` VEC3 accessors of `vertices` each, all over one extra view of zeros. */
function aliasedGlb(vertices: number, copies: number): Uint8Array {
  const { json, bin } = triangleGltf();
  const view = new Float32Array(vertices * 3);
  const all = new Uint8Array(36 + view.byteLength);
  all.set(bin);
  all.set(bytesOf(view), 36);
  json.buffers[0].byteLength = all.length;
  json.bufferViews.push({ buffer: 0, byteOffset: 36, byteLength: view.byteLength });
  for (let i = 0; i < copies; i++) json.accessors.push({ bufferView: 1, componentType: 5126, count: vertices, type: 'VEC3' });
  return packGlb(json, all);
}

describe('aliased accessors', () => {
  it('a 1.2 MB upload whose accessors alias one view 40 times (48 MB once written) → 413 SCENE_LIMIT_EXCEEDED; 4 times uploads', async () => {
    const bomb = aliasedGlb(100_000, 40);
    expect(bomb.length).toBeLessThan(1.5 * MiB);
    const res = await call(h.url, 'POST', '/v1/scenes', { body: bomb as Uint8Array<ArrayBuffer>, type: 'model/gltf-binary' });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(413);
    expect(res.body.code).toBe('SCENE_LIMIT_EXCEEDED');
    expect(res.body.message).toMatch(/maxFileBytes/);

    const honest = await call(h.url, 'POST', '/v1/scenes', { body: aliasedGlb(100_000, 4) as Uint8Array<ArrayBuffer>, type: 'model/gltf-binary' });
    expect(honest.status, JSON.stringify(honest.body).slice(0, 300)).toBe(201);
    expect(honest.body.bytes).toBeLessThanOrEqual(16 * MiB);
  });
});
