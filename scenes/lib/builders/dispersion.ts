import { Camera, Document } from '@gltf-transform/core';
import { KHRMaterialsDispersion, KHRMaterialsIOR, KHRMaterialsTransmission, KHRMaterialsUnlit, KHRMaterialsVolume } from '@gltf-transform/extensions';
import { box } from '../box.ts';
import { type Vec3, cross, normalize, sub } from '../math.ts';
import { type MeshData, makeIndexArray } from '../mesh-data.ts';
import { primitiveFromData } from '../primitive-from-data.ts';

/** Where the two prisms stand (x of their axes) and the dispersion each has: the left one none, the right one a lot. */
export const DISPERSION_PRISMS: { name: string; x: number; dispersion: number }[] = [
  { name: 'prism-plain', x: -1.5, dispersion: 0 },
  { name: 'prism-dispersive', x: 1.5, dispersion: 10 },
];
/** The backdrop: vertical stripes this wide, white and black in turn, from x = −4 to x = 4 at z = −2.5. */
export const DISPERSION_STRIPE_WIDTH = 0.25;

/**
 * An upright triangular prism (axis along +Y), equilateral cross-section of `side`, one edge pointing toward +Z (the
 * camera), so a viewer at +Z looks through its two front faces, each turned 60° from the line of sight. Flat
 * shaded: every face has its own vertices and normal.
 */
export function trianglePrism(o: { side: number; height: number; center: Vec3 }): MeshData {
  const r = o.side / Math.sqrt(3); // circumradius
  const [cx, cy, cz] = o.center;
  const h = o.height / 2;
  // Cross-section corners, counter-clockwise seen from +Y: front (toward +Z), back right, back left.
  const corners = [0, 120, 240].map((deg): [number, number] => [cx + r * Math.sin((deg * Math.PI) / 180), cz + r * Math.cos((deg * Math.PI) / 180)]);
  const positions: number[] = [];
  const normals: number[] = [];
  const indices: number[] = [];
  const face = (quad: Vec3[]) => {
    const n = normalize(cross(sub(quad[1], quad[0]), sub(quad[2], quad[0])));
    const base = positions.length / 3;
    for (const p of quad) {
      positions.push(...p);
      normals.push(...n);
    }
    for (let i = 1; i + 1 < quad.length; i++) indices.push(base, base + i, base + i + 1);
  };
  // Sides: corner i to corner i+1 (counter-clockwise from above, so this winding faces outward).
  for (let i = 0; i < 3; i++) {
    const [ax, az] = corners[i];
    const [bx, bz] = corners[(i + 1) % 3];
    face([
      [bx, cy - h, bz],
      [ax, cy - h, az],
      [ax, cy + h, az],
      [bx, cy + h, bz],
    ]);
  }
  face(corners.map(([x, z]): Vec3 => [x, cy + h, z]).reverse()); // top, facing +Y
  face(corners.map(([x, z]): Vec3 => [x, cy - h, z])); // bottom, facing −Y
  const count = positions.length / 3;
  return { attributes: { POSITION: Float32Array.from(positions), NORMAL: Float32Array.from(normals) }, indices: makeIndexArray(indices, count) };
}

/**
 * KHR_materials_dispersion (with KHR_materials_transmission, _volume and _ior, none of them required): two glass
 * prisms side by side in front of a backdrop of black and white vertical stripes, with a glTF camera `front` at
 * (0, 0, 7) looking down −Z. Both prisms are the same clear glass (ior 1.5, thickness 2, no attenuation) and
 * refract the stripes; the right one adds dispersion 10 (exaggerated: real flint glass is about 0.5; 10 makes the
 * fringes several pixels wide at 320×240), so its three colour channels refract by different angles (three
 * spreads the ior by ±(ior − 1)·0.025·dispersion: 1.375, 1.5, 1.625) and every stripe edge seen through it gets a
 * red fringe on one side and a blue one on the other. The left one (dispersion 0) shows the stripes displaced but
 * still black and white. On WebGL 1 (headless-gl, three 0.162) transmission and dispersion are dropped and both
 * prisms are opaque.
 * scenes/README.md says what each must look like; test/dispersion.test.ts checks it.
 */
export async function buildDispersion(): Promise<Document> {
  const doc = new Document();
  doc.createBuffer();
  const unlit = doc.createExtension(KHRMaterialsUnlit);
  const transmission = doc.createExtension(KHRMaterialsTransmission);
  const volume = doc.createExtension(KHRMaterialsVolume);
  const ior = doc.createExtension(KHRMaterialsIOR);
  const dispersion = doc.createExtension(KHRMaterialsDispersion);
  const scene = doc.createScene('dispersion');

  const stripes = doc.createMesh('backdrop');
  const shades = (['white', 'black'] as const).map((name) =>
    doc
      .createMaterial(`stripe-${name}`)
      .setBaseColorFactor(name === 'white' ? [0.9, 0.9, 0.9, 1] : [0.01, 0.01, 0.01, 1])
      .setMetallicFactor(0)
      .setRoughnessFactor(1)
      .setExtension('KHR_materials_unlit', unlit.createUnlit()),
  );
  const count = Math.round(8 / DISPERSION_STRIPE_WIDTH);
  for (let i = 0; i < count; i++) {
    const x = -4 + (i + 0.5) * DISPERSION_STRIPE_WIDTH;
    stripes.addPrimitive(primitiveFromData(doc, `stripe-${i}`, box({ size: [DISPERSION_STRIPE_WIDTH, 7, 0.1], center: [x, 0, -2.5] }), { material: shades[i % 2] }));
  }
  scene.addChild(doc.createNode('backdrop').setMesh(stripes));

  for (const prism of DISPERSION_PRISMS) {
    const glass = doc
      .createMaterial(`glass-${prism.name}`)
      .setBaseColorFactor([1, 1, 1, 1])
      .setMetallicFactor(0)
      .setRoughnessFactor(0.05)
      .setExtension('KHR_materials_transmission', transmission.createTransmission().setTransmissionFactor(1))
      .setExtension('KHR_materials_volume', volume.createVolume().setThicknessFactor(2))
      .setExtension('KHR_materials_ior', ior.createIOR().setIOR(1.5))
      .setExtension('KHR_materials_dispersion', dispersion.createDispersion().setDispersion(prism.dispersion));
    const mesh = doc.createMesh(prism.name).addPrimitive(primitiveFromData(doc, prism.name, trianglePrism({ side: 1.6, height: 2.4, center: [0, 0, 0] }), { material: glass }));
    scene.addChild(doc.createNode(prism.name).setMesh(mesh).setTranslation([prism.x, 0, 0]));
  }

  const camera = doc.createCamera('front').setType(Camera.Type.PERSPECTIVE).setYFov((40 * Math.PI) / 180).setZNear(0.1).setZFar(100);
  scene.addChild(doc.createNode('front').setCamera(camera).setTranslation([0, 0, 7]));
  doc.getRoot().setDefaultScene(scene);
  return doc;
}
