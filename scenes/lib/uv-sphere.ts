import type { Vec2, Vec3 } from './math.ts';
import type { MeshData } from './mesh-data.ts';
import { parametricSurface } from './parametric-surface.ts';

export interface SphereOptions {
  radius?: number;
  segmentsU?: number;
  segmentsV?: number;
  /** Radius multiplier for the direction at (phi, theta); phi around +Y from +Z, theta from the north pole. */
  displace?: (phi: number, theta: number) => number;
  uvs?: boolean;
  uv?: (u: number, v: number) => Vec2;
  uv1?: (u: number, v: number, p: Vec3) => Vec2;
  tangents?: boolean;
}

/**
 * UV sphere centered at the origin. u runs east (seen from outside, u=0 faces +Z) and v runs from
 * the north pole (+Y, v=0) to the south pole, so textures appear upright and unmirrored.
 */
export function uvSphere(o: SphereOptions = {}): MeshData {
  const r = o.radius ?? 1;
  return parametricSurface({
    segmentsU: o.segmentsU ?? 64,
    segmentsV: o.segmentsV ?? 32,
    position: (u, v) => {
      const phi = u * 2 * Math.PI;
      const theta = Math.min(Math.PI, Math.max(0, v * Math.PI));
      const rr = r * (o.displace ? o.displace(phi, theta) : 1);
      return [rr * Math.sin(theta) * Math.sin(phi), rr * Math.cos(theta), rr * Math.sin(theta) * Math.cos(phi)];
    },
    uvs: o.uvs,
    uv: o.uv,
    uv1: o.uv1,
    tangents: o.tangents,
  });
}
