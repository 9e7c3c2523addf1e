import { Document } from '@gltf-transform/core';
import { meshFromData } from '../primitive-from-data.ts';
import { uvSphere } from '../uv-sphere.ts';

/** Radius multiplier: low-frequency lumps plus finer ripples; 1 at the poles so the surface stays closed. */
export function lumpy(phi: number, theta: number): number {
  return 1 + 0.06 * Math.sin(5 * phi) * Math.sin(4 * theta) + 0.015 * Math.sin(40 * phi + 3 * theta) * Math.sin(30 * theta);
}

/** ~1M-triangle displaced sphere (1000 x 500 segments, Uint32 indices, normals, no UVs) of radius ~1.5. */
export async function buildMillion(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('million');
  const data = uvSphere({ radius: 1.5, segmentsU: 1000, segmentsV: 500, uvs: false, displace: lumpy });
  if (!(data.indices instanceof Uint32Array)) throw new Error('million: expected Uint32 indices');
  const grey = doc.createMaterial('light-grey').setBaseColorFactor([0.8, 0.8, 0.8, 1]).setMetallicFactor(0).setRoughnessFactor(0.5);
  scene.addChild(doc.createNode('million').setMesh(meshFromData(doc, 'million', data, { material: grey })));
  doc.getRoot().setDefaultScene(scene);
  return doc;
}
