/**
 * EXT_mesh_gpu_instancing: scenes/instancing.glb (one bar mesh drawn 15 times with TRANSLATION, ROTATION, SCALE
 * and _COLOR_0 under a translated node) renders every instance at its transform and in its colour, with the same
 * pixels as the de-instanced copy (one node and material per instance, same builder). On upload, instances ×
 * mesh vertices count against maxVertices (SCENE_LIMIT_EXCEEDED before anything is decoded), and broken
 * instance attributes are SCENE_MALFORMED.
 */
import pixelmatch from 'pixelmatch';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '../api/protocol/errors.ts';
import { ViewSpec } from '../api/protocol/render-spec.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { FrameRenderer, type RawImage } from '../render-node/render/frame-renderer.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { buildInstancing, INSTANCES, INSTANCING_CAMERA, INSTANCING_NODE_TRANSLATION } from '../scenes/lib/builders/instancing.ts';
import { createIO } from '../scenes/lib/io.ts';
import { editGlb } from './hostile/glb-builder.ts';
import { OUTPUT_DIR, savePng } from './support/pictures.ts';
import { scenePath } from './support/renderer.ts';

let renderer: FrameRenderer;
let instanced: Uint8Array;
beforeAll(async () => {
  renderer = new FrameRenderer(await createHeadlessGLBackend());
  instanced = new Uint8Array(await readFile(scenePath('instancing')));
});
afterAll(() => renderer?.dispose());

const WIDTH = 320;
const HEIGHT = 240; // 4:3, as the orthographic camera's xmag:ymag
const VIEW = ViewSpec.parse({ width: WIDTH, height: HEIGHT, background: '#000000', camera: { kind: 'gltf', name: 'front' } });
const render = async (glb: Uint8Array) =>
  renderer.render(await renderer.loadScene((await readScene({ bytes: glb, name: 'scene.glb' })).glb, { maxTexturePixels: 1 << 20 }), VIEW, 0);

/** Where a world point (z ignored: the camera is orthographic along -Z) lands in the picture. */
function project(x: number, y: number): [number, number] {
  return [Math.round((0.5 + x / (2 * INSTANCING_CAMERA.xmag)) * WIDTH), Math.round((0.5 - y / (2 * INSTANCING_CAMERA.ymag)) * HEIGHT)];
}

function pixel(img: RawImage, x: number, y: number): [number, number, number] {
  const p = (y * img.width + x) * 4;
  return [img.data[p], img.data[p + 1], img.data[p + 2]];
}

describe('EXT_mesh_gpu_instancing (scenes/instancing.glb)', () => {
  it('draws each of the 15 instances at its transform, in its colour, and the same pixels as the de-instanced copy', async () => {
    const read = await readScene({ bytes: instanced, name: 'instancing.glb' });
    expect(read.stats.extensionsRequired).toEqual(['EXT_mesh_gpu_instancing']);
    expect(read.stats.vertices).toBe(24);
    expect(read.extensionsUsed).toContain('EXT_mesh_gpu_instancing');

    const io = await createIO();
    const expanded = await io.writeBinary(await buildInstancing({ instanced: false }));
    const a = await render(instanced);
    const b = await render(expanded);
    const same = Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)) === 0;
    if (!same || process.env.TESSERA_SAVE_PICTURES === '1') {
      await Promise.all([savePng(a, `${OUTPUT_DIR}/instancing.png`), savePng(b, `${OUTPUT_DIR}/instancing-expanded.png`)]);
    }
    // Bit for bit on headless-gl: instanced draws compose the same matrices as separate nodes.
    expect(same, `pixels differing: ${pixelmatch(a.data, b.data, undefined, WIDTH, HEIGHT, { threshold: 0 })}`).toBe(true);

    // An auto camera frames all 15 instances (the instanced mesh's bounds span them, not only the mesh at the
    // origin), so it sees the same as for the de-instanced copy, shadows and all.
    const auto = ViewSpec.parse({ width: WIDTH, height: HEIGHT, background: '#000000', camera: { kind: 'auto', yaw: 20, pitch: 25 } });
    const autoRender = async (glb: Uint8Array) =>
      renderer.render(await renderer.loadScene((await readScene({ bytes: glb, name: 'scene.glb' })).glb, { maxTexturePixels: 1 << 20 }), auto, 0);
    const c = await autoRender(instanced);
    const d = await autoRender(expanded);
    const autoSame = Buffer.compare(Buffer.from(c.data), Buffer.from(d.data)) === 0;
    if (!autoSame || process.env.TESSERA_SAVE_PICTURES === '1') {
      await Promise.all([savePng(c, `${OUTPUT_DIR}/instancing-auto.png`), savePng(d, `${OUTPUT_DIR}/instancing-auto-expanded.png`)]);
    }
    expect(autoSame, `auto camera: pixels differing: ${pixelmatch(c.data, d.data, undefined, WIDTH, HEIGHT, { threshold: 0 })}`).toBe(true);

    for (const [k, instance] of INSTANCES.entries()) {
      const [cx, cy] = project(instance.translation[0] + INSTANCING_NODE_TRANSLATION[0], instance.translation[1] + INSTANCING_NODE_TRANSLATION[1]);
      // The centre shows the instance's colour: its strongest channel(s) lead, as in its _COLOR_0.
      const [r, g, bl] = pixel(a, cx, cy);
      const c = instance.color;
      const max = Math.max(...c);
      expect(Math.max(r, g, bl), `instance ${k} is drawn at (${cx}, ${cy})`).toBeGreaterThan(40);
      for (const [channel, value] of [[r, c[0]], [g, c[1]], [bl, c[2]]] as const) {
        if (value === max) expect(channel, `instance ${k}'s colour`).toBeGreaterThanOrEqual(Math.max(r, g, bl) - 25);
        else if (value < max / 4) expect(channel, `instance ${k}'s colour`).toBeLessThan(Math.max(r, g, bl) * 0.6);
      }
      // Its rotation: along the bar's long axis (turned by the instance's angle), 0.5 × scale out, it is still there;
      // across it, at the same distance, it is background.
      const reach = 0.5 * instance.scale[0];
      const along = project(
        instance.translation[0] + INSTANCING_NODE_TRANSLATION[0] + reach * Math.cos(instance.angle),
        instance.translation[1] + INSTANCING_NODE_TRANSLATION[1] + reach * Math.sin(instance.angle),
      );
      const across = project(
        instance.translation[0] + INSTANCING_NODE_TRANSLATION[0] - reach * Math.sin(instance.angle),
        instance.translation[1] + INSTANCING_NODE_TRANSLATION[1] + reach * Math.cos(instance.angle),
      );
      expect(Math.max(...pixel(a, ...along)), `instance ${k} extends along its rotated axis`).toBeGreaterThan(40);
      expect(Math.max(...pixel(a, ...across)), `instance ${k} is thin across its rotated axis`).toBeLessThan(10);
    }
  }, 60_000);
});

describe('instancing caps on upload', () => {
  type Json = { accessors: Array<{ count: number; bufferView?: number }>; nodes: Array<{ extensions?: { EXT_mesh_gpu_instancing?: { attributes: Record<string, number> } } }> };
  const edit = (change: (json: Json) => void) => editGlb(instanced, (j) => change(j as unknown as Json));
  const instancingOf = (json: Json) => json.nodes.find((n) => n.extensions?.EXT_mesh_gpu_instancing)!.extensions!.EXT_mesh_gpu_instancing!;
  const refusal = async (bytes: Uint8Array, limits?: object) => {
    const err = await readScene({ bytes, name: 'instancing.glb' }, limits).then(() => undefined, (e: unknown) => e);
    expect(err, 'the scene should have been refused').toBeInstanceOf(TesseraError);
    return err as TesseraError;
  };

  it('counts instances × mesh vertices against maxVertices', async () => {
    // 15 instances × 24 vertices = 360 drawn vertices: under 400 it passes, under 300 it is refused.
    await expect(readScene({ bytes: instanced, name: 'instancing.glb' }, { maxVertices: 400 })).resolves.toBeDefined();
    const err = await refusal(instanced, { maxVertices: 300 });
    expect(err.code).toBe('SCENE_LIMIT_EXCEEDED');
    expect(err.message).toBe('node 0 draws mesh 0 (24 vertices) 15 times with EXT_mesh_gpu_instancing: 360 vertices, more than maxVertices 300');
  });

  it('refuses an instance bomb: a few bytes of JSON asking for a billion instances, before reading any data', async () => {
    const bomb = edit((json) => {
      for (const index of Object.values(instancingOf(json).attributes)) {
        json.accessors[index].count = 1_000_000_000;
        delete json.accessors[index].bufferView; // (all zeros: no data to read at all)
      }
    });
    const err = await refusal(bomb);
    expect(err.code).toBe('SCENE_LIMIT_EXCEEDED');
    expect(err.message).toMatch(/^node 0 draws mesh 0 \(24 vertices\) 1000000000 times with EXT_mesh_gpu_instancing/);
  });

  it('refuses instance attributes of different lengths, of the wrong type, or on a node without a mesh', async () => {
    const uneven = await refusal(edit((json) => (json.accessors[instancingOf(json).attributes.SCALE].count = 3)));
    expect(uneven.code).toBe('SCENE_MALFORMED');
    expect(uneven.message).toMatch(/EXT_mesh_gpu_instancing: SCALE accessor \d+ has 3 elements, TRANSLATION has 15/);
    const wrongType = await refusal(edit((json) => (instancingOf(json).attributes.ROTATION = instancingOf(json).attributes.TRANSLATION)));
    expect(wrongType.code).toBe('SCENE_MALFORMED');
    expect(wrongType.message).toMatch(/ROTATION accessor \d+ must be VEC4, got VEC3/);
    const meshless = await refusal(edit((json) => delete (json.nodes[0] as { mesh?: number }).mesh));
    expect(meshless.code).toBe('SCENE_MALFORMED');
    expect(meshless.message).toBe('node 0 extensions.EXT_mesh_gpu_instancing: the node has no mesh to instance');
  });
});
