import { Document } from '@gltf-transform/core';
import { box } from '../box.ts';
import { DEG, mat4Translation, quatAxisAngle } from '../math.ts';
import { createAccessor, meshFromData } from '../primitive-from-data.ts';

/**
 * 0.4 x 2 x 0.4 green column from y=-1 to y=+1 (16 segments), skinned to joint "root" (y=-1) and joint "upper"
 * (y=0, child of root). Clip "bend" (1 s) rotates "upper" 0 -> +90 deg about +Z, so the top half ends up
 * pointing toward -X.
 */
export async function buildSkinned(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('skinned');

  const data = box({ size: [0.4, 2, 0.4], segments: [1, 16, 1] });
  const pos = data.attributes.POSITION;
  const count = pos.length / 3;
  const joints = new Uint8Array(count * 4);
  const weights = new Float32Array(count * 4);
  for (let i = 0; i < count; i++) {
    const y = pos[i * 3 + 1];
    // Fully "root" below y=-0.25, fully "upper" above y=+0.25, linear blend in between.
    const w = Math.min(1, Math.max(0, (y + 0.25) / 0.5));
    joints.set([0, 1, 0, 0], i * 4);
    weights.set([1 - w, w, 0, 0], i * 4);
  }
  data.attributes.JOINTS_0 = joints;
  data.attributes.WEIGHTS_0 = weights;

  const green = doc.createMaterial('green').setBaseColorFactor([0.1, 0.75, 0.15, 1]).setMetallicFactor(0).setRoughnessFactor(0.6);
  const mesh = meshFromData(doc, 'column', data, { material: green });

  const root = doc.createNode('root').setTranslation([0, -1, 0]);
  const upper = doc.createNode('upper').setTranslation([0, 1, 0]);
  root.addChild(upper);

  // Inverse bind matrices: inverse of each joint's world transform at bind time (root at y=-1, upper at y=0).
  const ibm = new Float32Array([...mat4Translation([0, 1, 0]), ...mat4Translation([0, 0, 0])]);
  const skin = doc
    .createSkin('column-skin')
    .addJoint(root)
    .addJoint(upper)
    .setSkeleton(root)
    .setInverseBindMatrices(createAccessor(doc, 'column-skin:inverseBindMatrices', ibm, 16));

  const column = doc.createNode('column').setMesh(mesh).setSkin(skin);
  scene.addChild(column).addChild(root);

  const input = createAccessor(doc, 'bend:input', new Float32Array([0, 1]), 1);
  const output = createAccessor(
    doc,
    'bend:output',
    new Float32Array([...quatAxisAngle([0, 0, 1], 0), ...quatAxisAngle([0, 0, 1], 90 * DEG)]),
    4,
  );
  const sampler = doc.createAnimationSampler().setInput(input).setOutput(output).setInterpolation('LINEAR');
  doc
    .createAnimation('bend')
    .addSampler(sampler)
    .addChannel(doc.createAnimationChannel().setTargetNode(upper).setTargetPath('rotation').setSampler(sampler));

  doc.getRoot().setDefaultScene(scene);
  return doc;
}
