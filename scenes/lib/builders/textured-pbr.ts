import { Document, TextureInfo } from '@gltf-transform/core';
import { KHRTextureTransform } from '@gltf-transform/extensions';
import { box } from '../box.ts';
import { meshFromData } from '../primitive-from-data.ts';
import {
  RED,
  WHITE,
  bumpNormalMap,
  checkerboard,
  horizontalBand,
  occlusionGradient,
  roughnessStripes,
  stripes,
} from '../procedural-textures.ts';
import { pngTexture } from '../texture.ts';
import { uvSphere } from '../uv-sphere.ts';

const { REPEAT, MIRRORED_REPEAT, CLAMP_TO_EDGE } = TextureInfo.WrapMode;
const { LINEAR_MIPMAP_LINEAR, LINEAR } = TextureInfo.MinFilter;
const MAG = TextureInfo.MagFilter;

/** Sphere (left) with a full PBR texture set, textured cube (right) with KHR_texture_transform. */
export async function buildTexturedPbr(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('textured-pbr');

  // --- Sphere: radius 1 at x = -1.2. TEXCOORD_0 wraps u twice (so checker squares look square and REPEAT matters);
  // TEXCOORD_1 is a planar projection from the front (x, y) -> (0.5 + x/2, 0.5 - y/2), used by occlusion only.
  const sphereData = uvSphere({
    radius: 1,
    segmentsU: 64,
    segmentsV: 32,
    tangents: true,
    uv: (u, v) => [u * 2, v],
    uv1: (_u, _v, p) => [0.5 + p[0] / 2, 0.5 - p[1] / 2],
  });

  const checker = await pngTexture(doc, 'checker-red-white', checkerboard(256, 8, RED, WHITE));
  const normal = await pngTexture(doc, 'bumps-normal', bumpNormalMap(256));
  const occlusion = await pngTexture(doc, 'occlusion-gradient', occlusionGradient(64));
  const metalRough = await pngTexture(doc, 'roughness-stripes', roughnessStripes(64, 4));
  const emissive = await pngTexture(doc, 'emissive-band', horizontalBand(16, 64, 0.46, 0.54));

  const sphereMat = doc
    .createMaterial('sphere-pbr')
    .setBaseColorFactor([1, 1, 1, 1])
    .setBaseColorTexture(checker)
    .setNormalTexture(normal)
    .setNormalScale(1)
    .setOcclusionTexture(occlusion)
    .setOcclusionStrength(1)
    .setMetallicRoughnessTexture(metalRough)
    .setMetallicFactor(0)
    .setRoughnessFactor(1)
    .setEmissiveTexture(emissive)
    .setEmissiveFactor([0, 1, 0]);
  sphereMat.getBaseColorTextureInfo()!.setWrapS(REPEAT).setWrapT(REPEAT).setMinFilter(LINEAR_MIPMAP_LINEAR).setMagFilter(MAG.LINEAR);
  sphereMat.getNormalTextureInfo()!.setWrapS(REPEAT).setWrapT(REPEAT).setMinFilter(LINEAR_MIPMAP_LINEAR).setMagFilter(MAG.LINEAR);
  sphereMat
    .getOcclusionTextureInfo()!
    .setTexCoord(1)
    .setWrapS(CLAMP_TO_EDGE)
    .setWrapT(CLAMP_TO_EDGE)
    .setMinFilter(LINEAR_MIPMAP_LINEAR)
    .setMagFilter(MAG.LINEAR);
  sphereMat
    .getMetallicRoughnessTextureInfo()!
    .setWrapS(MIRRORED_REPEAT)
    .setWrapT(MIRRORED_REPEAT)
    .setMinFilter(LINEAR_MIPMAP_LINEAR)
    .setMagFilter(MAG.LINEAR);
  sphereMat.getEmissiveTextureInfo()!.setWrapS(MIRRORED_REPEAT).setWrapT(CLAMP_TO_EDGE).setMinFilter(LINEAR).setMagFilter(MAG.LINEAR);

  const sphereMesh = meshFromData(doc, 'sphere', sphereData, { material: sphereMat });
  scene.addChild(doc.createNode('sphere').setMesh(sphereMesh).setTranslation([-1.2, 0, 0]));

  // --- Cube: 1.4 units at x = +1.6, blue/yellow stripes, NPOT 200x120 texture, NEAREST magnification.
  const stripeTex = await pngTexture(
    doc,
    'stripes-blue-yellow',
    stripes(200, 120, 4, [30 / 255, 60 / 255, 220 / 255], [250 / 255, 210 / 255, 20 / 255]),
  );
  const transformExt = doc.createExtension(KHRTextureTransform);
  const cubeMat = doc
    .createMaterial('cube-stripes')
    .setBaseColorTexture(stripeTex)
    .setMetallicFactor(0)
    .setRoughnessFactor(0.6);
  cubeMat
    .getBaseColorTextureInfo()!
    .setWrapS(REPEAT)
    .setWrapT(REPEAT)
    .setMagFilter(MAG.NEAREST)
    .setMinFilter(LINEAR)
    .setExtension('KHR_texture_transform', transformExt.createTransform().setScale([2, 2]).setRotation(0.3));
  const cubeMesh = meshFromData(doc, 'cube', box({ size: [1.4, 1.4, 1.4] }), { material: cubeMat });
  scene.addChild(doc.createNode('cube').setMesh(cubeMesh).setTranslation([1.6, 0, 0]));

  doc.getRoot().setDefaultScene(scene);
  return doc;
}
