import { Document } from '@gltf-transform/core';
import { box } from '../box.ts';
import { gridPlane } from '../grid-plane.ts';
import { DEG, quatAxisAngle } from '../math.ts';
import { createAccessor, meshFromData } from '../primitive-from-data.ts';

/** Red unit cube "mover" sliding x -2 -> +2 over a grey ground, with clip "move" (2 s). */
export async function buildAnimatedTrs(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('animated-trs');

  const red = doc.createMaterial('red').setBaseColorFactor([0.9, 0.05, 0.05, 1]).setMetallicFactor(0).setRoughnessFactor(0.5);
  const grey = doc.createMaterial('ground-grey').setBaseColorFactor([0.5, 0.5, 0.5, 1]).setMetallicFactor(0).setRoughnessFactor(1);

  const mover = doc
    .createNode('mover')
    .setMesh(meshFromData(doc, 'cube', box({ size: [1, 1, 1] }), { material: red }))
    .setTranslation([-2, 0.5, 0]);
  const ground = doc
    .createNode('ground')
    .setMesh(meshFromData(doc, 'ground', gridPlane({ width: 6, height: 3, facing: 'up' }), { material: grey }));
  scene.addChild(ground).addChild(mover);

  const f32 = (v: number[]) => new Float32Array(v);
  const sampler = (name: string, times: number[], values: number[], components: number, interpolation: 'LINEAR' | 'STEP') =>
    doc
      .createAnimationSampler()
      .setInput(createAccessor(doc, `${name}:input`, f32(times), 1))
      .setOutput(createAccessor(doc, `${name}:output`, f32(values), components))
      .setInterpolation(interpolation);

  const tr = sampler('move:translation', [0, 2], [-2, 0.5, 0, 2, 0.5, 0], 3, 'LINEAR');
  const rot = sampler(
    'move:rotation',
    [0, 1, 2],
    [0, 90, 180].flatMap((deg) => quatAxisAngle([0, 1, 0], deg * DEG)),
    4,
    'LINEAR',
  );
  const sc = sampler('move:scale', [0, 1, 2], [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 3, 'STEP');

  const anim = doc.createAnimation('move');
  for (const [s, path] of [
    [tr, 'translation'],
    [rot, 'rotation'],
    [sc, 'scale'],
  ] as const) {
    anim.addSampler(s).addChannel(doc.createAnimationChannel().setTargetNode(mover).setTargetPath(path).setSampler(s));
  }

  doc.getRoot().setDefaultScene(scene);
  return doc;
}
