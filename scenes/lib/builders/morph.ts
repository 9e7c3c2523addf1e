import { Document } from '@gltf-transform/core';
import { gridPlane } from '../grid-plane.ts';
import { type Vec3, cross, normalize } from '../math.ts';
import { createAccessor, primitiveFromData } from '../primitive-from-data.ts';

const SIZE = 3;
const RADIUS = 1.2;

/** Height of the "bulge" target at (x, z): 1 at the center, smooth cosine falloff to 0 at RADIUS. */
function bulge(x: number, z: number): number {
  const r = Math.hypot(x, z);
  return r >= RADIUS ? 0 : 0.5 * (1 + Math.cos((Math.PI * r) / RADIUS));
}

/**
 * 3 x 3 purple plane in XZ at y=0 (24 x 24 quads) with one morph target "bulge" that lifts the center by 1 unit;
 * default weight 0; clip "morph" (1 s) animates the weight 0 -> 1.
 */
export async function buildMorph(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('morph');

  const data = gridPlane({ width: SIZE, height: SIZE, segments: 24, facing: 'up' });
  const pos = data.attributes.POSITION;
  const nrm = data.attributes.NORMAL;
  const count = pos.length / 3;
  const dPos = new Float32Array(count * 3);
  const dNrm = new Float32Array(count * 3);
  const e = 1e-3;
  for (let i = 0; i < count; i++) {
    const x = pos[i * 3];
    const z = pos[i * 3 + 2];
    dPos[i * 3 + 1] = bulge(x, z);
    // Normal of the fully morphed surface y = bulge(x, z): cross(dP/dz, dP/dx).
    const dx: Vec3 = [2 * e, bulge(x + e, z) - bulge(x - e, z), 0];
    const dz: Vec3 = [0, bulge(x, z + e) - bulge(x, z - e), 2 * e];
    const n = normalize(cross(dz, dx));
    for (let k = 0; k < 3; k++) dNrm[i * 3 + k] = n[k] - nrm[i * 3 + k];
  }

  const purple = doc
    .createMaterial('purple')
    .setBaseColorFactor([0.55, 0.1, 0.8, 1])
    .setMetallicFactor(0)
    .setRoughnessFactor(0.5)
    .setDoubleSided(true);
  const prim = primitiveFromData(doc, 'bulge-plane', data, { material: purple });
  const target = doc
    .createPrimitiveTarget('bulge')
    .setAttribute('POSITION', createAccessor(doc, 'bulge:POSITION', dPos, 3))
    .setAttribute('NORMAL', createAccessor(doc, 'bulge:NORMAL', dNrm, 3));
  prim.addTarget(target);
  const mesh = doc.createMesh('bulge-plane').addPrimitive(prim).setWeights([0]);
  const node = doc.createNode('bulge-plane').setMesh(mesh);
  scene.addChild(node);

  const input = createAccessor(doc, 'morph:input', new Float32Array([0, 1]), 1);
  const output = createAccessor(doc, 'morph:output', new Float32Array([0, 1]), 1);
  const sampler = doc.createAnimationSampler().setInput(input).setOutput(output).setInterpolation('LINEAR');
  doc
    .createAnimation('morph')
    .addSampler(sampler)
    .addChannel(doc.createAnimationChannel().setTargetNode(node).setTargetPath('weights').setSampler(sampler));

  doc.getRoot().setDefaultScene(scene);
  return doc;
}
