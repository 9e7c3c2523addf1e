import { Document, TextureInfo } from '@gltf-transform/core';
import { box } from '../box.ts';
import { meshFromData } from '../primitive-from-data.ts';
import { checkerboard } from '../procedural-textures.ts';
import { pngTexture } from '../texture.ts';

/** 2-unit cube with an 8x8 black/white checker on every face, written as .gltf + scene.bin + checker.png. */
export async function buildTexturedGltf(): Promise<Document> {
  const doc = new Document();
  doc.createBuffer('scene').setURI('scene.bin');
  const scene = doc.createScene('textured-gltf');
  const checker = await pngTexture(doc, 'checker', checkerboard(256, 8, [1, 1, 1], [0.02, 0.02, 0.02]), 'checker.png');
  const mat = doc.createMaterial('checker').setBaseColorTexture(checker).setMetallicFactor(0).setRoughnessFactor(0.7);
  mat
    .getBaseColorTextureInfo()!
    .setWrapS(TextureInfo.WrapMode.REPEAT)
    .setWrapT(TextureInfo.WrapMode.REPEAT)
    .setMinFilter(TextureInfo.MinFilter.LINEAR_MIPMAP_LINEAR)
    .setMagFilter(TextureInfo.MagFilter.LINEAR);
  scene.addChild(doc.createNode('checker-cube').setMesh(meshFromData(doc, 'checker-cube', box({ size: [2, 2, 2] }), { material: mat })));
  doc.getRoot().setDefaultScene(scene);
  return doc;
}
