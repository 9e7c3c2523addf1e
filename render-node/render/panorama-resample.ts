/**
 * Resample rendered cameras into equirect pixels. Pure and deterministic: each output pixel takes ssaa×ssaa
 * directions at fixed sub-pixel positions (functions of its own coordinates only), looks each up bilinearly in
 * the camera that covers it, and averages in premultiplied linear light as resolvePixels does. So any tile
 * resamples exactly like the same rectangle of the whole panorama.
 */
import type { TileRect } from '../../api/protocol/render-spec.ts';
import { cross, type SourceView, type Vec3 } from './projection-sources.ts';
import { LINEAR_STEPS, LINEAR_TO_SRGB, SRGB_TO_LINEAR, unpremultiply } from './resolve-pixels.ts';

/**
 * A rendered source: its camera and the pixels of `region` of its framebuffer (premultiplied sRGB RGBA8 as GL
 * leaves them, rows top-down). `data` null: not rendered yet, sampling only records which texels are needed.
 */
export interface SourceImage {
  view: SourceView;
  data: Uint8Array | null;
  region: TileRect;
}

// The running sum of one output pixel: premultiplied linear RGB and coverage.
let accR = 0;
let accG = 0;
let accB = 0;
let accA = 0;

/** Add `weight` × the texel at byte offset p (premultiplied sRGB) to the sum, in premultiplied linear light. */
function addTexel(data: Uint8Array, p: number, weight: number): void {
  const a = data[p + 3];
  if (a === 255) {
    accR += SRGB_TO_LINEAR[data[p]] * weight;
    accG += SRGB_TO_LINEAR[data[p + 1]] * weight;
    accB += SRGB_TO_LINEAR[data[p + 2]] * weight;
    accA += weight;
    return;
  }
  if (a === 0) return;
  const w = (weight * a) / 255;
  accR += SRGB_TO_LINEAR[unpremultiply(data[p], a)] * w;
  accG += SRGB_TO_LINEAR[unpremultiply(data[p + 1], a)] * w;
  accB += SRGB_TO_LINEAR[unpremultiply(data[p + 2], a)] * w;
  accA += w;
}

/** A source ready to sample: its camera axes and scales computed once rather than per sample. */
export interface SourceSampler {
  data: Uint8Array | null;
  /** The region's origin and width in texels (rows of `data`). */
  ox: number;
  oy: number;
  rw: number;
  /** Without data: the texels sampling touched so far, as [minX, minY, maxX, maxY] (inclusive), or null. */
  needed: [number, number, number, number] | null;
  w: number;
  h: number;
  f: Vec3;
  r: Vec3;
  u: Vec3;
  left: number;
  top: number;
  sx: number;
  sy: number;
}

/** Prepare a rendered source for sampling. */
export function sourceSampler(img: SourceImage): SourceSampler {
  const v = img.view;
  return { data: img.data, ox: img.region.x, oy: img.region.y, rw: img.region.width, needed: null, w: v.width, h: v.height, f: v.forward, r: cross(v.forward, v.up), u: v.up, left: v.left, top: v.top, sx: v.width / (v.right - v.left), sy: v.height / (v.top - v.bottom) };
}

/** Add `weight` × the bilinear sample of `img` in direction (x, y, z) (panorama frame). */
function addSample(l: SourceSampler, x: number, y: number, z: number, weight: number): void {
  const depth = x * l.f[0] + y * l.f[1] + z * l.f[2];
  const tx = (x * l.r[0] + y * l.r[1] + z * l.r[2]) / depth;
  const ty = (x * l.u[0] + y * l.u[1] + z * l.u[2]) / depth;
  let X = (tx - l.left) * l.sx - 0.5;
  let Y = (l.top - ty) * l.sy - 0.5;
  // Sources carry a margin, so these clamps only guard against rounding at the very edge.
  X = X < 0 ? 0 : X > l.w - 1 ? l.w - 1 : X;
  Y = Y < 0 ? 0 : Y > l.h - 1 ? l.h - 1 : Y;
  const x0 = X | 0;
  const y0 = Y | 0;
  const fx = X - x0;
  const fy = Y - y0;
  const x1 = x0 + 1 < l.w ? x0 + 1 : x0;
  const y1 = y0 + 1 < l.h ? y0 + 1 : y0;
  const d = l.data;
  if (d === null) {
    // Footprint pass: remember the texels this sample needs.
    const n = l.needed;
    if (n === null) l.needed = [x0, y0, x1, y1];
    else {
      if (x0 < n[0]) n[0] = x0;
      if (y0 < n[1]) n[1] = y0;
      if (x1 > n[2]) n[2] = x1;
      if (y1 > n[3]) n[3] = y1;
    }
    return;
  }
  const row0 = (y0 - l.oy) * l.rw - l.ox;
  const row1 = (y1 - l.oy) * l.rw - l.ox;
  const p00 = (row0 + x0) * 4;
  const p10 = (row0 + x1) * 4;
  const p01 = (row1 + x0) * 4;
  const p11 = (row1 + x1) * 4;
  if ((d[p00 + 3] & d[p10 + 3] & d[p01 + 3] & d[p11 + 3]) === 255) {
    // All four opaque (the common case): no unpremultiplying, coverage is the whole weight.
    const w00 = weight * (1 - fx) * (1 - fy);
    const w10 = weight * fx * (1 - fy);
    const w01 = weight * (1 - fx) * fy;
    const w11 = weight * fx * fy;
    const L = SRGB_TO_LINEAR;
    accR += L[d[p00]] * w00 + L[d[p10]] * w10 + L[d[p01]] * w01 + L[d[p11]] * w11;
    accG += L[d[p00 + 1]] * w00 + L[d[p10 + 1]] * w10 + L[d[p01 + 1]] * w01 + L[d[p11 + 1]] * w11;
    accB += L[d[p00 + 2]] * w00 + L[d[p10 + 2]] * w10 + L[d[p01 + 2]] * w01 + L[d[p11 + 2]] * w11;
    accA += w00 + w10 + w01 + w11;
    return;
  }
  addTexel(d, p00, weight * (1 - fx) * (1 - fy));
  addTexel(d, p10, weight * fx * (1 - fy));
  addTexel(d, p01, weight * (1 - fx) * fy);
  addTexel(d, p11, weight * fx * fy);
}

/**
 * Fill `rect` (frame coordinates, inside `tile`) of the tile's pixels `out` (straight-alpha sRGB RGBA8,
 * `tile.width` wide) from the sources `pick` chooses per direction. With `out` null and sources without data,
 * only record in each source the texels the same sampling would read (its `needed` rectangle). The panorama is `width` wide; rows of the
 * eye start at frame row `eyeTop` and the eye is width/2 rows tall.
 */
export function resampleRect(
  out: Uint8Array | null,
  tile: TileRect,
  rect: TileRect,
  width: number,
  eyeTop: number,
  ssaa: number,
  pick: (x: number, y: number, z: number) => SourceSampler,
): void {
  const eyeHeight = width / 2;
  const n = rect.width * ssaa;
  const sinT = new Float64Array(n);
  const cosT = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    // From the absolute column and sub-column only, so every tile computes the very same numbers.
    const theta = ((rect.x + Math.floor(i / ssaa) + ((i % ssaa) + 0.5) / ssaa) / width - 0.5) * 2 * Math.PI;
    sinT[i] = Math.sin(theta);
    cosT[i] = Math.cos(theta);
  }
  const m = rect.height * ssaa;
  const sinP = new Float64Array(m);
  const cosP = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const phi = (0.5 - (rect.y + Math.floor(j / ssaa) - eyeTop + ((j % ssaa) + 0.5) / ssaa) / eyeHeight) * Math.PI;
    sinP[j] = Math.sin(phi);
    cosP[j] = Math.cos(phi);
  }
  const weight = 1 / (ssaa * ssaa);
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    for (let x = rect.x; x < rect.x + rect.width; x++) {
      accR = accG = accB = accA = 0;
      for (let sy = 0; sy < ssaa; sy++) {
        const j = (y - rect.y) * ssaa + sy;
        const sp = sinP[j];
        const cp = cosP[j];
        for (let sx = 0; sx < ssaa; sx++) {
          const i = (x - rect.x) * ssaa + sx;
          const dx = cp * sinT[i];
          const dz = -cp * cosT[i];
          addSample(pick(dx, sp, dz), dx, sp, dz, weight);
        }
      }
      if (out === null) continue; // a footprint pass
      const o = ((y - tile.y) * tile.width + (x - tile.x)) * 4;
      const alpha = accA;
      if (alpha <= 0) {
        out[o] = out[o + 1] = out[o + 2] = out[o + 3] = 0;
        continue;
      }
      out[o] = LINEAR_TO_SRGB[Math.min(LINEAR_STEPS, Math.round((accR / alpha) * LINEAR_STEPS))];
      out[o + 1] = LINEAR_TO_SRGB[Math.min(LINEAR_STEPS, Math.round((accG / alpha) * LINEAR_STEPS))];
      out[o + 2] = LINEAR_TO_SRGB[Math.min(LINEAR_STEPS, Math.round((accB / alpha) * LINEAR_STEPS))];
      out[o + 3] = Math.min(255, Math.round(alpha * 255));
    }
  }
}
