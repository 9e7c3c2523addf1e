import { Document, type GLTF, type Material } from '@gltf-transform/core';
import { KHRMaterialsEmissiveStrength, KHRMaterialsUnlit, KHRMeshQuantization } from '@gltf-transform/extensions';
import { box } from '../box.ts';
import { gridPlane } from '../grid-plane.ts';
import { type Vec3, DEG, cross, normalize, quatAxisAngle, quatMultiply, sub } from '../math.ts';
import { type MeshData, mergeMeshData } from '../mesh-data.ts';
import { meshFromData } from '../primitive-from-data.ts';
import { SPARSE_EXTRAS_KEY, type SparseSubstitution } from '../sparse-accessor.ts';
import { uvSphere } from '../uv-sphere.ts';

type RGBA = [number, number, number, number];

function lit(doc: Document, name: string, color: RGBA, extra?: (m: Material) => void): Material {
  const m = doc.createMaterial(name).setBaseColorFactor(color).setMetallicFactor(0).setRoughnessFactor(0.7);
  extra?.(m);
  return m;
}

/** Non-indexed flat-shaded square pyramid (base 0.8, height 0.8) centered at the origin. */
function pyramid(): MeshData {
  const h = 0.4;
  const apex: Vec3 = [0, h, 0];
  const c: Vec3[] = [
    [-h, -h, h],
    [h, -h, h],
    [h, -h, -h],
    [-h, -h, -h],
  ];
  const tris: Vec3[][] = [];
  for (let i = 0; i < 4; i++) tris.push([c[i], c[(i + 1) % 4], apex]);
  tris.push([c[0], c[3], c[2]], [c[0], c[2], c[1]]); // base, facing -Y
  const pos: number[] = [];
  const nrm: number[] = [];
  for (const [a, b, d] of tris) {
    const n = normalize(cross(sub(b, a), sub(d, a)));
    pos.push(...a, ...b, ...d);
    nrm.push(...n, ...n, ...n);
  }
  return { attributes: { POSITION: new Float32Array(pos), NORMAL: new Float32Array(nrm) } };
}

/** Unlit-style line/point data: positions only, no indices. */
const positionsOnly = (points: number[][]): MeshData => ({ attributes: { POSITION: new Float32Array(points.flat()) } });

/** Flat data facing +Z: positions + normals, no indices. */
function facingFront(points: number[][]): MeshData {
  const pos = new Float32Array(points.flatMap((p) => [p[0], p[1], 0]));
  const nrm = new Float32Array(points.flatMap(() => [0, 0, 1]));
  return { attributes: { POSITION: pos, NORMAL: nrm } };
}

const ring = (n: number, r: number, phase = 0): number[][] =>
  Array.from({ length: n }, (_, i) => {
    const a = phase + (i / n) * 2 * Math.PI;
    return [r * Math.cos(a), r * Math.sin(a), 0];
  });

/** One primitive per glTF mode 0..6, each ~0.8 units, to be laid out left to right. */
function modeShapes(): { mode: GLTF.MeshPrimitiveMode; name: string; data: MeshData; color: RGBA }[] {
  const grid: number[][] = [];
  for (let j = 0; j < 5; j++) for (let i = 0; i < 5; i++) grid.push([-0.4 + i * 0.2, 0.4 - j * 0.2, 0]);
  const star = [
    [-0.4, 0, 0], [0.4, 0, 0],
    [0, -0.4, 0], [0, 0.4, 0],
    [-0.3, -0.3, 0], [0.3, 0.3, 0],
    [-0.3, 0.3, 0], [0.3, -0.3, 0],
  ];
  const zigzag = [[-0.4, -0.3], [-0.2, 0.3], [0, -0.3], [0.2, 0.3], [0.4, -0.3]].map(([x, y]) => [x, y, 0]);
  const tris = [
    [-0.4, -0.4], [0.4, -0.4], [0.4, 0.4],
    [-0.4, -0.4], [0.4, 0.4], [-0.4, 0.4],
  ];
  // Strip: top, bottom, top, bottom ... keeps every triangle CCW facing +Z.
  const strip: number[][] = [];
  for (let i = 0; i <= 3; i++) {
    const x = -0.4 + (i * 0.8) / 3;
    const wave = 0.15 * Math.sin(i * 2);
    strip.push([x, 0.2 + wave], [x, -0.2 + wave]);
  }
  const fan = [[0, 0, 0], ...ring(6, 0.42, Math.PI / 6), ring(6, 0.42, Math.PI / 6)[0]];
  return [
    { mode: 0, name: 'mode-0-points', data: positionsOnly(grid), color: [1, 0.1, 0.1, 1] },
    { mode: 1, name: 'mode-1-lines', data: positionsOnly(star), color: [1, 0.5, 0, 1] },
    { mode: 2, name: 'mode-2-line-loop', data: positionsOnly(ring(6, 0.4, Math.PI / 6)), color: [1, 0.9, 0, 1] },
    { mode: 3, name: 'mode-3-line-strip', data: positionsOnly(zigzag), color: [0.1, 0.8, 0.1, 1] },
    { mode: 4, name: 'mode-4-triangles', data: facingFront(tris), color: [0, 0.8, 0.8, 1] },
    { mode: 5, name: 'mode-5-triangle-strip', data: facingFront(strip), color: [0.1, 0.3, 1, 1] },
    { mode: 6, name: 'mode-6-triangle-fan', data: facingFront(fan), color: [0.6, 0.2, 0.9, 1] },
  ];
}

/** glTF-spec coverage scene; see scenes/README.md for the layout. */
export async function buildFeatures(): Promise<Document> {
  const doc = new Document();
  const main = doc.createScene('main');
  const unlitExt = doc.createExtension(KHRMaterialsUnlit);
  const strengthExt = doc.createExtension(KHRMaterialsEmissiveStrength);
  doc.createExtension(KHRMeshQuantization).setRequired(true);

  const place = (name: string, mesh: ReturnType<typeof meshFromData>, t: Vec3) => {
    const node = doc.createNode(name).setMesh(mesh).setTranslation(t);
    main.addChild(node);
    return node;
  };

  // Row A (y = 1.3, x = -2.7, -0.9, 0.9, 2.7).
  // Vertex colors: red bottom-left, green bottom-right, blue top; white material.
  const triangle: MeshData = {
    attributes: {
      POSITION: new Float32Array([-0.45, -0.4, 0, 0.45, -0.4, 0, 0, 0.45, 0]),
      NORMAL: new Float32Array([0, 0, 1, 0, 0, 1, 0, 0, 1]),
      COLOR_0: new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    },
    indices: new Uint16Array([0, 1, 2]),
  };
  place('vertex-colors', meshFromData(doc, 'vertex-colors', triangle, { material: lit(doc, 'vertex-color-white', [1, 1, 1, 1]) }), [-2.7, 1.3, 0]);

  const unlit = doc.createMaterial('unlit-magenta').setBaseColorFactor([1, 0, 1, 1]).setExtension('KHR_materials_unlit', unlitExt.createUnlit());
  place('unlit', meshFromData(doc, 'unlit-quad', gridPlane({ width: 0.9, height: 0.9, facing: 'front' }), { material: unlit }), [-0.9, 1.3, 0]);

  const glow = doc
    .createMaterial('emissive-strength')
    .setBaseColorFactor([0, 0, 0, 1])
    .setMetallicFactor(0)
    .setRoughnessFactor(1)
    .setEmissiveFactor([0.25, 0.2, 0.05])
    .setExtension('KHR_materials_emissive_strength', strengthExt.createEmissiveStrength().setEmissiveStrength(4));
  place('emissive-strength', meshFromData(doc, 'emissive-cube', box({ size: [0.7, 0.7, 0.7] }), { material: glow }), [0.9, 1.3, 0])
    .setRotation(quatMultiply(quatAxisAngle([1, 0, 0], 25 * DEG), quatAxisAngle([0, 1, 0], 35 * DEG)));

  place('non-indexed', meshFromData(doc, 'non-indexed-pyramid', pyramid(), { material: lit(doc, 'teal', [0, 0.55, 0.5, 1]) }), [2.7, 1.3, 0])
    .setRotation(quatAxisAngle([0, 1, 0], 30 * DEG));

  // Row B (y = 0, same columns).
  // "L" shape: a horizontal bar along the bottom and a vertical bar on the left; the mirrored copy has it on the right.
  const lShape = mergeMeshData([
    box({ size: [0.8, 0.25, 0.25], center: [0, -0.275, 0] }),
    box({ size: [0.25, 0.55, 0.25], center: [-0.275, 0.125, 0] }),
  ]);
  const lMesh = meshFromData(doc, 'l-shape', lShape, { material: lit(doc, 'l-shape-red', [0.85, 0.2, 0.1, 1]) });
  place('l-shape', lMesh, [-2.7, 0, 0]);
  place('mirrored', lMesh, [-0.9, 0, 0]).setScale([-1, 1, 1]);

  // Sparse: 0.9 quad (4x4 segments, 25 vertices). Base positions are flat; sparse substitution pulls the top-middle
  // vertex (index 2) up by 0.45 and the bottom-middle vertex (index 22) down by 0.45, giving a spike on each edge.
  const sparseGrid = gridPlane({ width: 0.9, height: 0.9, segments: 4, facing: 'front' });
  const base = sparseGrid.attributes.POSITION;
  const substitution: SparseSubstitution = {
    indices: [2, 22],
    values: [base[6], base[7] + 0.45, base[8], base[66], base[67] - 0.45, base[68]],
  };
  const sparseMesh = meshFromData(doc, 'sparse-grid', sparseGrid, { material: lit(doc, 'sky-blue', [0.35, 0.65, 1, 1]) });
  sparseMesh.listPrimitives()[0].getAttribute('POSITION')!.setExtras({ [SPARSE_EXTRAS_KEY]: substitution });
  place('sparse', sparseMesh, [0.9, 0, 0]);

  // KHR_mesh_quantization: unit sphere stored as normalized int16 positions and normalized int8 normals, scaled 0.45.
  const sphere = uvSphere({ radius: 1, segmentsU: 32, segmentsV: 16, uvs: false });
  const qPos = Int16Array.from(sphere.attributes.POSITION, (v) => Math.round(v * 32767));
  const qNrm = Int8Array.from(sphere.attributes.NORMAL, (v) => Math.round(v * 127));
  const quantized: MeshData = { attributes: { POSITION: qPos, NORMAL: qNrm }, indices: sphere.indices };
  place(
    'quantized',
    meshFromData(doc, 'quantized-sphere', quantized, { material: lit(doc, 'gold', [1, 0.75, 0.2, 1]), normalized: ['POSITION', 'NORMAL'] }),
    [2.7, 0, 0],
  ).setScale([0.45, 0.45, 0.45]);

  // Row C (y = -1.3): primitive modes 0..6 left to right at x = -3.6 + 1.2 i.
  modeShapes().forEach(({ mode, name, data, color }, i) => {
    const mesh = meshFromData(doc, name, data, { mode, material: lit(doc, `${name}-color`, color) });
    place(name, mesh, [Math.round((-3.6 + 1.2 * i) * 10) / 10, -1.3, 0]);
  });

  // Scene 1 "alt": a single cyan cube.
  const alt = doc.createScene('alt');
  const cyan = lit(doc, 'cyan', [0, 0.9, 0.9, 1]);
  alt.addChild(doc.createNode('cyan-cube').setMesh(meshFromData(doc, 'cyan-cube', box({ size: [1, 1, 1] }), { material: cyan })));

  doc.getRoot().setDefaultScene(main);
  return doc;
}
