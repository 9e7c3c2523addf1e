import { Document } from '@gltf-transform/core';
import { draco } from '@gltf-transform/functions';
import { meshFromData } from '../primitive-from-data.ts';
import { torusKnot } from '../torus-knot.ts';

/** Orange (2,3) torus knot, ~3 units across in the XY plane, compressed with KHR_draco_mesh_compression (required). */
export async function buildDraco(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('draco');
  const orange = doc.createMaterial('orange').setBaseColorFactor([1, 0.4, 0.02, 1]).setMetallicFactor(0).setRoughnessFactor(0.4);
  const data = torusKnot({ radius: 0.5, tube: 0.18, tubularSegments: 256, radialSegments: 24, uvs: false });
  scene.addChild(doc.createNode('torus-knot').setMesh(meshFromData(doc, 'torus-knot', data, { material: orange })));
  doc.getRoot().setDefaultScene(scene);
  await doc.transform(draco({ method: 'edgebreaker', quantizePosition: 14, quantizeNormal: 10 }));
  return doc;
}
