import type { Vec3 } from './math.ts';
import type { MeshData } from './mesh-data.ts';
import { parametricSurface } from './parametric-surface.ts';

export interface PlaneOptions {
  width?: number;
  height?: number;
  segments?: number;
  /** 'up': horizontal in XZ facing +Y (texture top toward -Z); 'front': vertical in XY facing +Z. */
  facing?: 'up' | 'front';
  center?: Vec3;
}

/** Subdivided rectangle with normals and TEXCOORD_0. */
export function gridPlane(o: PlaneOptions = {}): MeshData {
  const w = o.width ?? 1;
  const h = o.height ?? 1;
  const s = o.segments ?? 1;
  const [cx, cy, cz] = o.center ?? [0, 0, 0];
  const facing = o.facing ?? 'up';
  return parametricSurface({
    segmentsU: s,
    segmentsV: s,
    position: (u, v) =>
      facing === 'up'
        ? [cx + (u - 0.5) * w, cy, cz + (v - 0.5) * h]
        : [cx + (u - 0.5) * w, cy + (0.5 - v) * h, cz],
  });
}
