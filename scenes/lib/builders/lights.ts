import { Document } from '@gltf-transform/core';
import { KHRLightsPunctual, Light } from '@gltf-transform/extensions';
import { gridPlane } from '../grid-plane.ts';
import { quatLookAt } from '../math.ts';
import { meshFromData } from '../primitive-from-data.ts';
import { uvSphere } from '../uv-sphere.ts';

/**
 * White matte 8 x 8 ground at y=0 and a white sphere (r=1) resting on it at the origin, lit only by
 * KHR_lights_punctual: red point light left, blue spot light right pointing straight down, weak white sun.
 */
export async function buildLights(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('lights');
  const lights = doc.createExtension(KHRLightsPunctual);

  const matte = doc.createMaterial('white-matte').setBaseColorFactor([1, 1, 1, 1]).setMetallicFactor(0).setRoughnessFactor(1);
  const sphereMat = doc.createMaterial('white-sphere').setBaseColorFactor([1, 1, 1, 1]).setMetallicFactor(0).setRoughnessFactor(0.4);
  scene.addChild(
    doc.createNode('ground').setMesh(meshFromData(doc, 'ground', gridPlane({ width: 8, height: 8, segments: 8 }), { material: matte })),
  );
  scene.addChild(
    doc
      .createNode('sphere')
      .setMesh(meshFromData(doc, 'sphere', uvSphere({ radius: 1, segmentsU: 64, segmentsV: 32, uvs: false }), { material: sphereMat }))
      .setTranslation([0, 1, 0]),
  );

  // Red point light at (-2.5, 2, 1): 30 cd.
  const point = lights.createLight('red-point').setType(Light.Type.POINT).setColor([1, 0, 0]).setIntensity(30);
  scene.addChild(doc.createNode('red-point').setExtension('KHR_lights_punctual', point).setTranslation([-2.5, 2, 1]));

  // Blue spot light at (2.5, 3, 0.5) pointing straight down (-Y): 40 cd, cone 0.35/0.6 rad.
  const spot = lights
    .createLight('blue-spot')
    .setType(Light.Type.SPOT)
    .setColor([0, 0.3, 1])
    .setIntensity(40)
    .setInnerConeAngle(0.35)
    .setOuterConeAngle(0.6);
  scene.addChild(
    doc
      .createNode('blue-spot')
      .setExtension('KHR_lights_punctual', spot)
      .setTranslation([2.5, 3, 0.5])
      .setRotation(quatLookAt([2.5, 3, 0.5], [2.5, 0, 0.5], [0, 0, -1])),
  );

  // Weak white directional light shining down and toward -Z from above-front: 1.5 lux.
  const sun = lights.createLight('white-sun').setType(Light.Type.DIRECTIONAL).setColor([1, 1, 1]).setIntensity(1.5);
  scene.addChild(
    doc
      .createNode('white-sun')
      .setExtension('KHR_lights_punctual', sun)
      .setTranslation([0, 6, 4])
      .setRotation(quatLookAt([0, 6, 4], [0, 0, 0])),
  );

  doc.getRoot().setDefaultScene(scene);
  return doc;
}
