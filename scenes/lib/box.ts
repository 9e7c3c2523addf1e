import { type Vec3, add, scale } from './math.ts';
import { type MeshData, mergeMeshData } from './mesh-data.ts';
import { parametricSurface } from './parametric-surface.ts';

export interface BoxOptions {
  size?: Vec3;
  /** Segments along X, Y and Z. */
  segments?: Vec3;
  center?: Vec3;
  tangents?: boolean;
}

/** Face definition: outward normal axis, texture-right axis, texture-down axis (down x right = normal). */
const FACES: { n: Vec3; right: Vec3; down: Vec3 }[] = [
  { n: [1, 0, 0], right: [0, 0, -1], down: [0, -1, 0] },
  { n: [-1, 0, 0], right: [0, 0, 1], down: [0, -1, 0] },
  { n: [0, 1, 0], right: [1, 0, 0], down: [0, 0, 1] },
  { n: [0, -1, 0], right: [1, 0, 0], down: [0, 0, -1] },
  { n: [0, 0, 1], right: [1, 0, 0], down: [0, -1, 0] },
  { n: [0, 0, -1], right: [-1, 0, 0], down: [0, -1, 0] },
];

const axisIndex = (a: Vec3): number => (a[0] !== 0 ? 0 : a[1] !== 0 ? 1 : 2);

/** Axis-aligned box with flat-shaded faces (24+ vertices), each face UV-mapped 0..1, upright from outside. */
export function box(o: BoxOptions = {}): MeshData {
  const size = o.size ?? [1, 1, 1];
  const seg = o.segments ?? [1, 1, 1];
  const center = o.center ?? [0, 0, 0];
  const parts = FACES.map(({ n, right, down }) => {
    const ni = axisIndex(n);
    const ri = axisIndex(right);
    const di = axisIndex(down);
    const faceCenter = add(center, scale(n, size[ni] / 2));
    return parametricSurface({
      segmentsU: seg[ri],
      segmentsV: seg[di],
      position: (u, v) =>
        add(faceCenter, add(scale(right, (u - 0.5) * size[ri]), scale(down, (v - 0.5) * size[di]))),
      tangents: o.tangents,
    });
  });
  return mergeMeshData(parts);
}
