import { Document, NodeIO } from '@gltf-transform/core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewSpec } from '../api/protocol/render-spec.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { FrameRenderer } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { mask, reddish } from './support/pictures.ts';

let renderer: FrameRenderer;
beforeAll(async () => {
  renderer = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
});
afterAll(() => renderer?.dispose());

/** A unit quad facing +Z whose base color texture is `image`. */
async function texturedQuad(image: Uint8Array, mimeType = 'image/png'): Promise<Uint8Array> {
  const doc = new Document();
  const buffer = doc.createBuffer();
  const acc = (type: 'VEC2' | 'VEC3' | 'SCALAR', array: Float32Array | Uint16Array) => doc.createAccessor().setType(type).setArray(array).setBuffer(buffer);
  const texture = doc.createTexture('tex').setImage(image).setMimeType(mimeType);
  const material = doc.createMaterial('mat').setBaseColorTexture(texture).setMetallicFactor(0);
  const prim = doc
    .createPrimitive()
    .setAttribute('POSITION', acc('VEC3', new Float32Array([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0])))
    .setAttribute('NORMAL', acc('VEC3', new Float32Array([0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1])))
    .setAttribute('TEXCOORD_0', acc('VEC2', new Float32Array([0, 1, 1, 1, 1, 0, 0, 0])))
    .setIndices(acc('SCALAR', new Uint16Array([0, 1, 2, 0, 2, 3])))
    .setMaterial(material);
  doc.createScene('s').addChild(doc.createNode('quad').setMesh(doc.createMesh('m').addPrimitive(prim)));
  return new NodeIO().writeBinary(doc);
}

const redPng = () => sharp({ create: { width: 8, height: 8, channels: 4, background: '#ff0000' } }).png().toBuffer();

describe('loading scenes into three.js', () => {
  it('decodes textures with sharp (PNG, JPEG, WebP) and applies them', async () => {
    for (const [format, mime] of [['png', 'image/png'], ['jpeg', 'image/jpeg'], ['webp', 'image/webp']] as const) {
      const image = await sharp({ create: { width: 12, height: 12, channels: 3, background: '#ff0000' } })[format]().toBuffer();
      const { glb } = await readScene({ bytes: await texturedQuad(image, mime) });
      const loaded = await renderer.loadScene(glb, { maxTexturePixels: 1e6 });
      const img = renderer.render(loaded, ViewSpec.parse({ width: 64, height: 64, camera: { kind: 'look', position: [0, 0, 3], target: [0, 0, 0] } }), 0);
      // The white material is tinted red by its texture across the middle of the picture.
      expect(mask(img, reddish).count, format).toBeGreaterThan(64 * 64 * 0.3);
      loaded.dispose();
    }
  });

  it('fails loudly when a texture cannot be decoded, instead of rendering untextured', async () => {
    const png = await redPng();
    // A real PNG header (so the size check passes) followed by garbage where the pixels should be.
    const broken = new Uint8Array(png);
    broken.fill(0x5a, 40);
    const { glb } = await readScene({ bytes: await texturedQuad(broken) });
    await expect(renderer.loadScene(glb, { maxTexturePixels: 1e6 })).rejects.toMatchObject({
      code: 'SCENE_TEXTURE_FAILED',
      message: expect.stringMatching(/image 0 \(tex\)/),
    });
  });
});
