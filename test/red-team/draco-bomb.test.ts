/**
 * Red team: Draco streams whose headers claim far more faces or points than their accessors declare (the
 * decoder would allocate for the claim). The header is read and checked against the capped accessors before
 * anything is decoded: refused quickly with SCENE_MALFORMED, and the honest Draco scene still uploads with
 * the geometry it declares.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDracoHeader } from '../../scene-check/check-draco-headers.ts';
import { packGlb } from '../hostile/glb-builder.ts';
import { call, ROOT, startHarness, type Harness } from '../api/support/api-harness.ts';

let h: Harness;
let original: Uint8Array;
beforeAll(async () => {
  h = await startHarness();
  original = new Uint8Array(await readFile(path.join(ROOT, 'scenes/draco.glb')));
});
afterAll(async () => {
  await h?.close();
});

const varint = (n: number) => {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return out;
};

/** The GLB's JSON, BIN and first Draco stream. */
function parts(glb: Uint8Array) {
  const view = new DataView(glb.buffer, glb.byteOffset, glb.byteLength);
  const jsonLength = view.getUint32(12, true);
  const json = JSON.parse(new TextDecoder().decode(glb.subarray(20, 20 + jsonLength)));
  const bin = glb.subarray(20 + jsonLength + 8);
  const prim = json.meshes[0].primitives[0];
  const bv = json.bufferViews[prim.extensions.KHR_draco_mesh_compression.bufferView];
  const draco = bin.subarray(bv.byteOffset ?? 0, (bv.byteOffset ?? 0) + bv.byteLength);
  return { json, bin, bv, draco };
}

/** The scene with its Draco stream replaced by `edit(stream)` (appended to the BIN; the view points at it). */
function withDraco(edit: (draco: Uint8Array) => Uint8Array): Uint8Array {
  const { json, bin, bv, draco } = parts(original);
  const next = edit(draco);
  const offset = Math.ceil(bin.length / 4) * 4;
  const newBin = new Uint8Array(Math.ceil((offset + next.length) / 4) * 4);
  newBin.set(bin);
  newBin.set(next, offset);
  bv.byteOffset = offset;
  bv.byteLength = next.length;
  json.buffers[0].byteLength = newBin.length;
  return packGlb(json, newBin);
}

/** The edgebreaker header (traversal byte, encoded vertices, faces) rewritten with other counts. */
function edgebreakerClaiming(vertices: number, faces: number) {
  return (d: Uint8Array) => {
    const h = readDracoHeader(d, 'original');
    expect(h).toMatchObject({ encoderType: 1, method: 1 });
    // The original: 11 header bytes, traversal type, two 2-byte varints, then the rest.
    return new Uint8Array([...d.subarray(0, 12), ...varint(vertices), ...varint(faces), ...d.subarray(16)]);
  };
}

const upload = (bytes: Uint8Array) => call(h.url, 'POST', '/v1/scenes', { body: bytes as Uint8Array<ArrayBuffer>, type: 'model/gltf-binary' });

describe('Draco bombs', () => {
  it('a header claiming 2^31 faces → SCENE_MALFORMED before decoding', async () => {
    const started = performance.now();
    const res = await upload(withDraco(edgebreakerClaiming(6149, 2 ** 31 - 1)));
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('SCENE_MALFORMED');
    expect(res.body.message).toMatch(/Draco header declares 2147483647 faces .* but the indices accessor declares 36864/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('a header claiming more encoded vertices than the accessors declare → refused', async () => {
    const res = await upload(withDraco(edgebreakerClaiming(2 ** 30, 12288)));
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/declares 1073741824 encoded vertices, but the accessors declare 6405 vertices/);
  });

  it('a sequential stream whose point count disagrees, an old bitstream, and a truncated header → refused', async () => {
    const sequential = withDraco((d) => new Uint8Array([...d.subarray(0, 8), 0, ...d.subarray(9, 11), ...varint(12288), ...varint(2 ** 31 - 1), 0]));
    const a = await upload(sequential);
    expect(a.status).toBe(422);
    expect(a.body.message).toMatch(/declares 2147483647 points/);
    const old = await upload(withDraco((d) => Object.assign(new Uint8Array(d), { 5: 1, 6: 3 })));
    expect(old.body.message).toMatch(/Draco bitstream 1\.3; KHR_draco_mesh_compression needs version 2\.2/);
    const truncated = await upload(withDraco((d) => d.slice(0, 13)));
    expect(truncated.status).toBe(422);
    expect(truncated.body.message).toMatch(/Draco header is truncated/);
  });

  it('the honest Draco scene (and its header as rewritten with the same counts) still uploads', async () => {
    const honest = await upload(original);
    expect(honest.status, JSON.stringify(honest.body)).toBe(201);
    const same = await upload(withDraco(edgebreakerClaiming(6149, 12288)));
    expect(same.status, JSON.stringify(same.body)).toBe(201);
    expect(same.body.stats).toEqual(honest.body.stats);
  });
});
