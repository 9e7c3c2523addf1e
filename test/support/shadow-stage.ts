/**
 * A shadow test stage: a grey floor (a real mesh, 6 × 6 at y = 0) and a red cube floating above its centre,
 * as a GLB. Lit only by the renderer's key light, so what falls on the floor under the cube is its shadow.
 */
import { Document } from '@gltf-transform/core';
import { KHRLightsPunctual, Light } from '@gltf-transform/extensions';
import { box } from '../../scenes/lib/box.ts';
import { gridPlane } from '../../scenes/lib/grid-plane.ts';
import { createIO } from '../../scenes/lib/io.ts';
import { meshFromData } from '../../scenes/lib/primitive-from-data.ts';

export async function shadowStage(options: { floor?: boolean; light?: 'spot' | 'point' } = {}): Promise<Uint8Array> {
  const doc = new Document();
  doc.createBuffer();
  const scene = doc.createScene('stage');
  const red = doc.createMaterial('red').setBaseColorFactor([0.8, 0.1, 0.08, 1]).setRoughnessFactor(0.6);
  scene.addChild(doc.createNode('cube').setMesh(meshFromData(doc, 'cube', box({ size: [1, 1, 1] }), { material: red })).setTranslation([0, 1.2, 0]));
  if (options.floor !== false) {
    const grey = doc.createMaterial('grey').setBaseColorFactor([0.7, 0.7, 0.7, 1]).setRoughnessFactor(0.9);
    scene.addChild(doc.createNode('floor').setMesh(meshFromData(doc, 'floor', gridPlane({ width: 6, height: 6, facing: 'up' }), { material: grey })));
  }
  if (options.light) {
    // A glTF light straight above the cube (a spot pointing down, or a point light): its shadow falls right under it.
    const lights = doc.createExtension(KHRLightsPunctual);
    const light = lights.createLight(options.light).setIntensity(60);
    if (options.light === 'spot') light.setType(Light.Type.SPOT).setInnerConeAngle(0.5).setOuterConeAngle(0.7);
    else light.setType(Light.Type.POINT);
    const down = [-Math.SQRT1_2, 0, 0, Math.SQRT1_2]; // -90° about X: the light's -Z looks down
    scene.addChild(doc.createNode(options.light).setExtension('KHR_lights_punctual', light).setTranslation([0, 4, 0]).setRotation(down as [number, number, number, number]));
  }
  doc.getRoot().setDefaultScene(scene);
  return (await createIO()).writeBinary(doc);
}
