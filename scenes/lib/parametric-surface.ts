import { type Vec2, type Vec3, cross, normalize, sub, length } from './math.ts';
import { type MeshData, makeIndexArray } from './mesh-data.ts';

export interface SurfaceOptions {
  /** Quads along u (texture "right") and v (texture "down"). */
  segmentsU: number;
  segmentsV: number;
  /** Surface point for u, v in [0, 1]. The outward side is the one where u runs right and v runs down. */
  position: (u: number, v: number) => Vec3;
  /** TEXCOORD_0 for (u, v); defaults to (u, v). */
  uv?: (u: number, v: number) => Vec2;
  /** Extra TEXCOORD_1 set. */
  uv1?: (u: number, v: number, p: Vec3) => Vec2;
  /** Emit TEXCOORD_0 (default true). */
  uvs?: boolean;
  /** Emit TANGENT (direction of increasing u, w = +1). */
  tangents?: boolean;
}

const H = 1e-4;

/** Outward normal = dP/dv x dP/du, by central differences; nudges off degenerate points (poles). */
function frame(f: SurfaceOptions['position'], u: number, v: number): { n: Vec3; t: Vec3 } {
  for (const dv of [0, H * 4, -H * 4, H * 40, -H * 40]) {
    const vv = Math.min(1, Math.max(0, v + dv));
    const pu = sub(f(u + H, vv), f(u - H, vv));
    const pv = sub(f(u, Math.min(1, vv + H)), f(u, Math.max(0, vv - H)));
    const n = cross(pv, pu);
    if (length(n) > 1e-14 && length(pu) > 1e-10) return { n: normalize(n), t: normalize(pu) };
  }
  throw new Error(`degenerate surface at u=${u} v=${v}`);
}

/** Regular (segmentsU+1) x (segmentsV+1) vertex grid with CCW-outward triangles; zero-area triangles are dropped. */
export function parametricSurface(o: SurfaceOptions): MeshData {
  const nu = o.segmentsU + 1;
  const nv = o.segmentsV + 1;
  const count = nu * nv;
  const pos = new Float32Array(count * 3);
  const nrm = new Float32Array(count * 3);
  const wantUv = o.uvs !== false;
  const uv0 = wantUv ? new Float32Array(count * 2) : undefined;
  const uv1 = o.uv1 ? new Float32Array(count * 2) : undefined;
  const tan = o.tangents ? new Float32Array(count * 4) : undefined;
  for (let j = 0; j < nv; j++) {
    const v = j / o.segmentsV;
    for (let i = 0; i < nu; i++) {
      const u = i / o.segmentsU;
      const k = j * nu + i;
      const p = o.position(u, v);
      const { n, t } = frame(o.position, u, v);
      pos.set(p, k * 3);
      nrm.set(n, k * 3);
      if (uv0) uv0.set(o.uv ? o.uv(u, v) : [u, v], k * 2);
      if (uv1 && o.uv1) uv1.set(o.uv1(u, v, p), k * 2);
      if (tan) tan.set([t[0], t[1], t[2], 1], k * 4);
    }
  }
  const indices: number[] = [];
  const area2 = (a: number, b: number, c: number): number => {
    const pa: Vec3 = [pos[a * 3], pos[a * 3 + 1], pos[a * 3 + 2]];
    const pb: Vec3 = [pos[b * 3], pos[b * 3 + 1], pos[b * 3 + 2]];
    const pc: Vec3 = [pos[c * 3], pos[c * 3 + 1], pos[c * 3 + 2]];
    return length(cross(sub(pb, pa), sub(pc, pa)));
  };
  for (let j = 0; j < o.segmentsV; j++) {
    for (let i = 0; i < o.segmentsU; i++) {
      const a = j * nu + i; // (u0, v0) top-left
      const b = (j + 1) * nu + i; // (u0, v1) bottom-left
      const c = (j + 1) * nu + i + 1; // (u1, v1) bottom-right
      const d = j * nu + i + 1; // (u1, v0) top-right
      if (area2(a, b, c) > 1e-12) indices.push(a, b, c);
      if (area2(a, c, d) > 1e-12) indices.push(a, c, d);
    }
  }
  const attributes: MeshData['attributes'] = { POSITION: pos, NORMAL: nrm };
  if (uv0) attributes.TEXCOORD_0 = uv0;
  if (uv1) attributes.TEXCOORD_1 = uv1;
  if (tan) attributes.TANGENT = tan;
  return { attributes, indices: makeIndexArray(indices, count) };
}
