import pixelmatch from 'pixelmatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '../api/protocol/errors.ts';
import { ViewSpec } from '../api/protocol/render-spec.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { FrameRenderer } from '../render-node/render/frame-renderer.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { editGlb } from './hostile/glb-builder.ts';
import { packMeshopt } from './support/meshopt-pack.ts';
import { OUTPUT_DIR, savePng } from './support/pictures.ts';
import { scenePath } from './support/renderer.ts';

let renderer: FrameRenderer;
beforeAll(async () => {
  renderer = new FrameRenderer(await createHeadlessGLBackend());
});
afterAll(() => renderer?.dispose());

const VIEW = ViewSpec.parse({ width: 240, height: 180, background: '#303540' });
const render = async (glb: Uint8Array, frame: number) =>
  renderer.render(await renderer.loadScene(glb, { maxTexturePixels: 256 * 1024 * 1024 }), VIEW, frame);

describe('EXT_meshopt_compression + KHR_mesh_quantization', () => {
  const scenes: [string, number][] = [
    ['textured-pbr', 0], ['alpha', 0], ['animated-trs', 12], ['skinned', 18], ['morph', 18], ['cameras', 0],
    ['lights', 0], ['features', 0], ['draco', 0], ['textured-gltf/scene.gltf', 0], ['million', 0],
    ['materials', 0], ['ktx2', 0], ['instancing', 0],
  ];
  it.each(scenes)('a meshopt-packed %s uploads and renders like the original', async (name, frame) => {
    const packed = await packMeshopt(scenePath(name));
    const plain = await readScene({ path: scenePath(name) });
    const read = await readScene({ bytes: packed, name: 'packed.glb' });
    expect(read.stats.extensionsUsed).toContain('EXT_meshopt_compression');
    expect(read.stats.extensionsUsed).toContain('KHR_mesh_quantization');
    expect(read.extensionsUsed).not.toContain('EXT_meshopt_compression');
    // meshopt() also welds duplicate vertices, so the counts may differ a little.
    expect(Math.abs(read.stats.vertices - plain.stats.vertices)).toBeLessThanOrEqual(plain.stats.vertices * 0.01);

    const a = await render(plain.glb, frame);
    const b = await render(read.glb, frame);
    const diff = pixelmatch(a.data, b.data, undefined, a.width, a.height, { threshold: 0.1 });
    const ratio = diff / (a.width * a.height);
    if (ratio > 0.01 || process.env.TESSERA_SAVE_PICTURES === "1") {
      const base = `${OUTPUT_DIR}/meshopt-${name.replace(/\W+/g, '-')}`;
      await Promise.all([savePng(a, `${base}.plain.png`), savePng(b, `${base}.packed.png`)]);
    }
    // Quantization moves vertices by a fraction of a pixel here: only edge pixels may change.
    expect(ratio).toBeLessThanOrEqual(0.01);
    // And the picture is not empty: the scene drew something over the background.
    expect(new Set(Array.from({ length: 200 }, (_, i) => b.data[(i * 211) % (b.width * b.height) * 4])).size).toBeGreaterThan(1);
  }, 120_000);
});

describe('meshopt bombs and corrupt meshopt data', () => {
  type View = { buffer: number; byteOffset?: number; byteLength: number; byteStride?: number; extensions?: Record<string, Record<string, unknown>> };
  type Json = { buffers: Array<{ byteLength: number; extensions?: object }>; bufferViews: View[] };
  let packed: Uint8Array;
  beforeAll(async () => {
    packed = await packMeshopt(scenePath('animated-trs'));
  });
  const edit = (change: (json: Json) => void) => editGlb(packed, (j) => change(j as unknown as Json));
  const compressed = (json: Json) => json.bufferViews.findIndex((v) => v.extensions?.EXT_meshopt_compression);
  const failure = async (bytes: Uint8Array, limits?: object) => {
    const err = await readScene({ bytes, name: 'bomb.glb' }, limits).then(() => undefined, (e: TesseraError) => e);
    expect(err, 'the scene should have been refused').toBeInstanceOf(TesseraError);
    return err!;
  };

  it('refuses a view declaring a huge decoded size over a tiny compressed one, before allocating it', async () => {
    const bomb = edit((json) => {
      const i = compressed(json);
      const ext = json.bufferViews[i].extensions!.EXT_meshopt_compression;
      const stride = ext.byteStride as number;
      ext.count = 1_000_000_000;
      json.bufferViews[i].byteLength = 1_000_000_000 * stride;
      json.buffers[json.bufferViews[i].buffer].byteLength = json.bufferViews[i].byteOffset! + 1_000_000_000 * stride;
    });
    const err = await failure(bomb);
    expect(err.code).toBe('SCENE_LIMIT_EXCEEDED');
    expect(err.message).toMatch(/maxDecodedBytes/);
  });

  it('counts every view that decodes into the same fallback bytes (overlapping views)', async () => {
    const base = await readScene({ bytes: packed, name: 'ok.glb' });
    expect(base.glb.length).toBeGreaterThan(0);
    const bomb = edit((json) => {
      const i = compressed(json);
      for (let k = 0; k < 2000; k++) json.bufferViews.push(structuredClone(json.bufferViews[i]));
    });
    const view = (editGlbJson(packed).bufferViews as View[]).find((v) => v.extensions?.EXT_meshopt_compression)!;
    const err = await failure(bomb, { maxDecodedBytes: 1000 * view.byteLength });
    expect(err.code).toBe('SCENE_LIMIT_EXCEEDED');
  });

  it('refuses a count × byteStride that disagrees with the view it decodes into', async () => {
    const lie = edit((json) => {
      const ext = json.bufferViews[compressed(json)].extensions!.EXT_meshopt_compression;
      ext.count = (ext.count as number) * 4;
    });
    const err = await failure(lie);
    expect(err.code).toBe('SCENE_MALFORMED');
    expect(err.message).toMatch(/count \d+ × byteStride \d+ = \d+ bytes, but the bufferView's byteLength is \d+/);
  });

  it('refuses compressed bytes that lie outside their buffer', async () => {
    const out = edit((json) => {
      const ext = json.bufferViews[compressed(json)].extensions!.EXT_meshopt_compression;
      ext.byteOffset = json.buffers[0].byteLength;
    });
    const err = await failure(out);
    expect(err.code).toBe('SCENE_MALFORMED');
    expect(err.message).toMatch(/EXT_meshopt_compression: byteOffset \d+ \+ byteLength \d+ exceeds buffer 0/);
  });

  it('says which view holds corrupt compressed data', async () => {
    const json = editGlbJson(packed);
    const i = (json.bufferViews as View[]).findIndex((v) => v.extensions?.EXT_meshopt_compression?.mode === 'ATTRIBUTES');
    const ext = (json.bufferViews as View[])[i].extensions!.EXT_meshopt_compression;
    const corrupt = new Uint8Array(packed);
    // Overwrite the compressed bytes (after the GLB and BIN headers) with a wrong header byte and noise.
    const binStart = 20 + new DataView(packed.buffer, packed.byteOffset).getUint32(12, true) + 8;
    const at = binStart + ((ext.byteOffset as number) ?? 0);
    for (let k = 0; k < (ext.byteLength as number); k++) corrupt[at + k] = (k * 37 + 11) & 0xff;
    const err = await failure(corrupt);
    expect(err.code).toBe('SCENE_MALFORMED');
    expect(err.message).toMatch(new RegExp(`^bufferView ${i}: the EXT_meshopt_compression data could not be decoded`));
  });
});

function editGlbJson(glb: Uint8Array): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  editGlb(glb, (json) => {
    out = json as unknown as Record<string, unknown>;
  });
  return out;
}
