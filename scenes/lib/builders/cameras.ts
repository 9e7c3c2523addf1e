import { Camera, Document } from '@gltf-transform/core';
import { box } from '../box.ts';
import { quatLookAt } from '../math.ts';
import { meshFromData } from '../primitive-from-data.ts';
import { uvSphere } from '../uv-sphere.ts';

/**
 * Four unit cubes around a white sphere (red +X, green -X, blue +Z, yellow -Z, all at distance 2) and three cameras:
 * 0 "front" (perspective, from (0,1,8)), 1 "top" (orthographic 4 x 4, from (0,10,0), up = -Z), 2 unnamed
 * (perspective, from (8,1,0)).
 */
export async function buildCameras(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('cameras');

  const cube = box({ size: [1, 1, 1] });
  const cubes: [string, [number, number, number], [number, number, number, number]][] = [
    ['red', [2, 0, 0], [0.9, 0.05, 0.05, 1]],
    ['green', [-2, 0, 0], [0.05, 0.8, 0.1, 1]],
    ['blue', [0, 0, 2], [0.05, 0.15, 0.9, 1]],
    ['yellow', [0, 0, -2], [0.95, 0.85, 0.05, 1]],
  ];
  for (const [color, t, factor] of cubes) {
    const mat = doc.createMaterial(color).setBaseColorFactor(factor).setMetallicFactor(0).setRoughnessFactor(0.6);
    scene.addChild(
      doc
        .createNode(`${color}-cube`)
        .setMesh(meshFromData(doc, `${color}-cube`, cube, { material: mat }))
        .setTranslation(t),
    );
  }
  const white = doc.createMaterial('white').setBaseColorFactor([1, 1, 1, 1]).setMetallicFactor(0).setRoughnessFactor(0.5);
  scene.addChild(
    doc
      .createNode('center-sphere')
      .setMesh(meshFromData(doc, 'center-sphere', uvSphere({ radius: 0.6, segmentsU: 48, segmentsV: 24, uvs: false }), { material: white })),
  );

  const front = doc
    .createCamera('front')
    .setType(Camera.Type.PERSPECTIVE)
    .setYFov(0.8)
    .setZNear(0.1)
    .setZFar(100);
  scene.addChild(
    doc.createNode('front').setCamera(front).setTranslation([0, 1, 8]).setRotation(quatLookAt([0, 1, 8], [0, 0, 0])),
  );

  const top = doc
    .createCamera('top')
    .setType(Camera.Type.ORTHOGRAPHIC)
    .setXMag(4)
    .setYMag(4)
    .setZNear(0.1)
    .setZFar(20);
  scene.addChild(
    doc
      .createNode('top')
      .setCamera(top)
      .setTranslation([0, 10, 0])
      .setRotation(quatLookAt([0, 10, 0], [0, 0, 0], [0, 0, -1])),
  );

  // Index 2: deliberately unnamed (camera and node) so it can only be selected by index.
  const side = doc.createCamera('').setType(Camera.Type.PERSPECTIVE).setYFov(0.8).setZNear(0.1).setZFar(100);
  scene.addChild(doc.createNode('').setCamera(side).setTranslation([8, 1, 0]).setRotation(quatLookAt([8, 1, 0], [0, 0, 0])));

  doc.getRoot().setDefaultScene(scene);
  return doc;
}
