import { Accessor, Document } from '@gltf-transform/core';
import { EXTMeshGPUInstancing } from '@gltf-transform/extensions';
import { box } from '../box.ts';
import { meshFromData } from '../primitive-from-data.ts';

type Vec3 = [number, number, number];
type Quat = [number, number, number, number];

export interface Instance {
  translation: Vec3;
  /** Rotation about +Z, radians. */
  angle: number;
  scale: Vec3;
  /** Linear RGB, multiplied into the base color (the instance's `_COLOR_0`). */
  color: Vec3;
}

const COLUMNS = 5;
const ROWS = 3;
/** The instanced node's own translation: instance transforms apply inside it. */
export const INSTANCING_NODE_TRANSLATION: Vec3 = [0, 0.2, 0];
/** The orthographic camera "front": at (0,0,10) looking down -Z, 4 × 3 units either side of the center. */
export const INSTANCING_CAMERA = { xmag: 4, ymag: 3 };

/**
 * 15 instances in 3 rows of 5, 1.5 apart in x and 1.6 in y: instance k turns k × 12° about +Z and is scaled
 * (0.6 + 0.04k) in x and y, and its colour cycles through red, green, blue, yellow and white.
 */
export const INSTANCES: Instance[] = Array.from({ length: COLUMNS * ROWS }, (_, k) => {
  const col = k % COLUMNS;
  const row = Math.floor(k / COLUMNS);
  const colors: Vec3[] = [[0.9, 0.05, 0.05], [0.05, 0.7, 0.1], [0.05, 0.15, 0.9], [0.95, 0.8, 0.05], [0.9, 0.9, 0.9]];
  const s = 0.6 + 0.04 * k;
  return { translation: [(col - 2) * 1.5, (1 - row) * 1.6, 0], angle: (k * 12 * Math.PI) / 180, scale: [s, s, 1], color: colors[k % colors.length] };
});

const quatZ = (angle: number): Quat => [0, 0, Math.sin(angle / 2), Math.cos(angle / 2)];

/**
 * scenes/instancing.glb: one bar mesh (1.2 × 0.4 × 0.4, white, so each instance shows its `_COLOR_0`) drawn 15
 * times by EXT_mesh_gpu_instancing (TRANSLATION, ROTATION, SCALE and `_COLOR_0`, listed in extensionsRequired)
 * under a node translated by (0, 0.2, 0), plus an orthographic camera "front". With `instanced: false` it is
 * the same picture without the extension: one child node per instance with that transform and a material
 * whose base color is the instance's color (test/instancing.test.ts renders both).
 */
export async function buildInstancing(options: { instanced: boolean } = { instanced: true }): Promise<Document> {
  const doc = new Document();
  doc.createBuffer();
  const scene = doc.createScene('instancing');
  const bar = box({ size: [1.2, 0.4, 0.4] });
  const white = doc.createMaterial('white').setBaseColorFactor([1, 1, 1, 1]).setMetallicFactor(0).setRoughnessFactor(0.6);
  const group = doc.createNode('bars').setTranslation(INSTANCING_NODE_TRANSLATION);
  scene.addChild(group);

  if (options.instanced) {
    const mesh = meshFromData(doc, 'bar', bar, { material: white });
    const accessor = (name: string, type: 'VEC3' | 'VEC4', values: number[]) =>
      doc.createAccessor(name).setType(Accessor.Type[type]).setArray(new Float32Array(values)).setBuffer(doc.getRoot().listBuffers()[0]);
    const batch = doc
      .createExtension(EXTMeshGPUInstancing)
      .setRequired(true)
      .createInstancedMesh()
      .setAttribute('TRANSLATION', accessor('instance:TRANSLATION', 'VEC3', INSTANCES.flatMap((i) => i.translation)))
      .setAttribute('ROTATION', accessor('instance:ROTATION', 'VEC4', INSTANCES.flatMap((i) => quatZ(i.angle))))
      .setAttribute('SCALE', accessor('instance:SCALE', 'VEC3', INSTANCES.flatMap((i) => i.scale)))
      .setAttribute('_COLOR_0', accessor('instance:_COLOR_0', 'VEC3', INSTANCES.flatMap((i) => i.color)));
    group.setMesh(mesh).setExtension('EXT_mesh_gpu_instancing', batch);
  } else {
    INSTANCES.forEach((instance, k) => {
      const material = doc.createMaterial(`bar-${k}`).setBaseColorFactor([...instance.color, 1]).setMetallicFactor(0).setRoughnessFactor(0.6);
      const mesh = meshFromData(doc, `bar-${k}`, bar, { material });
      group.addChild(doc.createNode(`bar-${k}`).setMesh(mesh).setTranslation(instance.translation).setRotation(quatZ(instance.angle)).setScale(instance.scale));
    });
  }

  const camera = doc.createCamera('front').setType('orthographic').setXMag(INSTANCING_CAMERA.xmag).setYMag(INSTANCING_CAMERA.ymag).setZNear(0.1).setZFar(20);
  scene.addChild(doc.createNode('front').setCamera(camera).setTranslation([0, 0, 10]));
  doc.getRoot().setDefaultScene(scene);
  return doc;
}
