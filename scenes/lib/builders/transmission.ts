import { Camera, Document } from '@gltf-transform/core';
import { KHRMaterialsIOR, KHRMaterialsTransmission, KHRMaterialsUnlit, KHRMaterialsVolume } from '@gltf-transform/extensions';
import { box } from '../box.ts';
import { primitiveFromData } from '../primitive-from-data.ts';
import { uvSphere } from '../uv-sphere.ts';

/** The backdrop's bar colours, left to right, repeated (linear base colours of unlit materials). */
export const TRANSMISSION_BAR_COLORS: [string, [number, number, number]][] = [
  ['red', [0.9, 0.02, 0.02]],
  ['green', [0.02, 0.7, 0.02]],
  ['blue', [0.02, 0.05, 0.9]],
  ['yellow', [0.9, 0.75, 0.01]],
];

/**
 * KHR_materials_transmission + KHR_materials_volume (+ KHR_materials_ior): a glass ball (radius 1, at the
 * origin) in front of a backdrop of vertical unlit bars in four colours (z = −2.5), with a glTF camera `front`
 * at (0, 0, 6) looking down −Z, so the ball's disc is centred in the frame. On WebGL 2 (the Chromium backend)
 * the bars show through the ball, refracted (three's thickness model magnifies them, as the Khronos Sample
 * Viewer does: the two bars behind the centre fill the disc) and tinted by the volume's cyan attenuation; on headless-gl (WebGL 1) transmission is dropped and the ball is an
 * opaque glossy white one. scenes/README.md says what each must look like; test/backends.test.ts checks it.
 */
export async function buildTransmission(): Promise<Document> {
  const doc = new Document();
  doc.createBuffer();
  const unlit = doc.createExtension(KHRMaterialsUnlit);
  const transmission = doc.createExtension(KHRMaterialsTransmission);
  const volume = doc.createExtension(KHRMaterialsVolume);
  const ior = doc.createExtension(KHRMaterialsIOR);
  const scene = doc.createScene('transmission');

  const bars = doc.createMesh('backdrop');
  const materials = TRANSMISSION_BAR_COLORS.map(([name, rgb]) =>
    doc.createMaterial(`bar-${name}`).setBaseColorFactor([...rgb, 1]).setMetallicFactor(0).setRoughnessFactor(1).setExtension('KHR_materials_unlit', unlit.createUnlit()),
  );
  const count = 12;
  const width = 0.5;
  for (let i = 0; i < count; i++) {
    const x = (i - (count - 1) / 2) * width;
    bars.addPrimitive(primitiveFromData(doc, `bar-${i}`, box({ size: [width, 7, 0.1], center: [x, 0, -2.5] }), { material: materials[i % materials.length] }));
  }
  scene.addChild(doc.createNode('backdrop').setMesh(bars));

  const glass = doc
    .createMaterial('glass')
    .setBaseColorFactor([1, 1, 1, 1])
    .setMetallicFactor(0)
    .setRoughnessFactor(0.05)
    .setExtension('KHR_materials_transmission', transmission.createTransmission().setTransmissionFactor(1))
    .setExtension('KHR_materials_volume', volume.createVolume().setThicknessFactor(2).setAttenuationDistance(2).setAttenuationColor([0.4, 0.8, 1]))
    .setExtension('KHR_materials_ior', ior.createIOR().setIOR(1.5));
  const ball = doc.createMesh('glass-ball').addPrimitive(primitiveFromData(doc, 'glass-ball', uvSphere({ radius: 1, segmentsU: 96, segmentsV: 48, uvs: false }), { material: glass }));
  scene.addChild(doc.createNode('glass-ball').setMesh(ball));

  const camera = doc.createCamera('front').setType(Camera.Type.PERSPECTIVE).setYFov((40 * Math.PI) / 180).setZNear(0.1).setZFar(100);
  scene.addChild(doc.createNode('front').setCamera(camera).setTranslation([0, 0, 6]));
  doc.getRoot().setDefaultScene(scene);
  return doc;
}
