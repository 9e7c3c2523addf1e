import { type Vec3, add, cross, normalize, scale, sub } from './math.ts';
import type { MeshData } from './mesh-data.ts';
import { parametricSurface } from './parametric-surface.ts';

export interface TorusKnotOptions {
  p?: number;
  q?: number;
  /** Scale of the knot curve (its outer radius is about 3 * radius). */
  radius?: number;
  tube?: number;
  tubularSegments?: number;
  radialSegments?: number;
  uvs?: boolean;
}

/** (p, q) torus knot tube in the XY plane, centered at the origin. */
export function torusKnot(o: TorusKnotOptions = {}): MeshData {
  const p = o.p ?? 2;
  const q = o.q ?? 3;
  const R = o.radius ?? 0.5;
  const tube = o.tube ?? 0.18;
  const curve = (t: number): Vec3 => {
    const r = R * (2 + Math.cos(q * t));
    return [r * Math.cos(p * t), r * Math.sin(p * t), -R * Math.sin(q * t)];
  };
  const e = 1e-4;
  return parametricSurface({
    segmentsU: o.tubularSegments ?? 256,
    segmentsV: o.radialSegments ?? 24,
    uvs: o.uvs,
    position: (u, v) => {
      const t = u * 2 * Math.PI;
      const c = curve(t);
      const d1 = sub(curve(t + e), curve(t - e));
      const d2 = sub(add(curve(t + e), curve(t - e)), scale(c, 2));
      const T = normalize(d1);
      const B = normalize(cross(T, d2));
      const N = cross(B, T);
      const s = v * 2 * Math.PI;
      return add(c, add(scale(N, tube * Math.cos(s)), scale(B, tube * Math.sin(s))));
    },
  });
}
