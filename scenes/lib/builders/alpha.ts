import { Document } from '@gltf-transform/core';
import { gridPlane } from '../grid-plane.ts';
import { DEG, quatAxisAngle } from '../math.ts';
import { meshFromData } from '../primitive-from-data.ts';
import { alphaDisc } from '../procedural-textures.ts';
import { pngTexture } from '../texture.ts';

/**
 * Three 1.8 x 1.8 quads in a row facing +Z (x = -2.2, 0, +2.2): OPAQUE orange (double-sided, seen from its back),
 * MASK green disc, BLEND 50% blue in front of an opaque white quad.
 */
export async function buildAlpha(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('alpha');
  const quad = gridPlane({ width: 1.8, height: 1.8, facing: 'front' });

  // Left: opaque orange, double-sided, rotated 180 deg around Y so its back face looks at +Z.
  const orange = doc
    .createMaterial('opaque-orange')
    .setBaseColorFactor([1, 0.35, 0, 1])
    .setAlphaMode('OPAQUE')
    .setDoubleSided(true)
    .setMetallicFactor(0)
    .setRoughnessFactor(0.8);
  scene.addChild(
    doc
      .createNode('double-sided')
      .setMesh(meshFromData(doc, 'double-sided', quad, { material: orange }))
      .setTranslation([-2.2, 0, 0])
      .setRotation(quatAxisAngle([0, 1, 0], 180 * DEG)),
  );

  // Middle: alpha-tested disc (radius 0.4 of the quad width), green inside, cut away outside.
  const disc = await pngTexture(doc, 'alpha-disc', alphaDisc(128, 0.4, [0.1, 0.8, 0.2]));
  const mask = doc
    .createMaterial('mask-disc')
    .setBaseColorTexture(disc)
    .setAlphaMode('MASK')
    .setAlphaCutoff(0.5)
    .setMetallicFactor(0)
    .setRoughnessFactor(0.8);
  scene.addChild(
    doc.createNode('mask').setMesh(meshFromData(doc, 'mask-quad', quad, { material: mask })).setTranslation([0, 0, 0]),
  );

  // Right: 50% blue blended over an opaque white quad 0.5 units behind it, offset up-right so both show.
  const blend = doc
    .createMaterial('blend-blue')
    .setBaseColorFactor([0, 0.2, 1, 0.5])
    .setAlphaMode('BLEND')
    .setMetallicFactor(0)
    .setRoughnessFactor(0.8);
  scene.addChild(
    doc.createNode('blend').setMesh(meshFromData(doc, 'blend-quad', quad, { material: blend })).setTranslation([2.2, 0, 0]),
  );
  const white = doc.createMaterial('backdrop-white').setBaseColorFactor([1, 1, 1, 1]).setMetallicFactor(0).setRoughnessFactor(0.9);
  scene.addChild(
    doc
      .createNode('backdrop')
      .setMesh(meshFromData(doc, 'backdrop-quad', quad, { material: white }))
      .setTranslation([2.6, 0.4, -0.5]),
  );

  doc.getRoot().setDefaultScene(scene);
  return doc;
}
