/**
 * The session frame comparison (image-comparer.ts compareEye) on raw pixels, for adapters that decode without sharp
 * (Workers): a picture is flattened on black (a transparent reference pixel reads as black, as sharp's flatten makes
 * it on Node), cropped to its left `eye`, and reduced SESSION_COMPARE_SCALE per axis by averaging each block (Node
 * resizes with sharp's linear kernel: both average away JPEG's 8×8 blocks and a pixel's shift on silhouettes). Each API
 * compares both pictures with its own one reduction; on the same picture the two reductions are mostly equal and
 * differ most on silhouette blocks (test/api/session-eye-diff.test.ts: median 0, max 54 levels on a 96² eye, 1.6% of
 * reduced pixels past SESSION_COMPARE_LEVELS, below the 3% a frame may differ). Pure.
 */
import { SESSION_COMPARE_LEVELS, SESSION_COMPARE_SCALE } from './image-comparer.ts';

/** The reduced size of an eye: SESSION_COMPARE_SCALE smaller per axis, at least 1. */
export function reducedEyeSize(eye: { width: number; height: number }): { width: number; height: number } {
  return { width: Math.max(1, Math.round(eye.width / SESSION_COMPARE_SCALE)), height: Math.max(1, Math.round(eye.height / SESSION_COMPARE_SCALE)) };
}

/**
 * The left `eye` of a straight-alpha RGBA8 image `width` wide (eyes side by side, or one eye), flattened on black and
 * box-averaged down to reducedEyeSize(eye): RGB8, row by row.
 */
export function reduceEye(rgba: Uint8Array, width: number, eye: { width: number; height: number }): Uint8Array {
  const out = reducedEyeSize(eye);
  const rgb = new Uint8Array(out.width * out.height * 3);
  for (let oy = 0; oy < out.height; oy++) {
    const y0 = Math.floor((oy * eye.height) / out.height);
    const y1 = Math.max(y0 + 1, Math.floor(((oy + 1) * eye.height) / out.height));
    for (let ox = 0; ox < out.width; ox++) {
      const x0 = Math.floor((ox * eye.width) / out.width);
      const x1 = Math.max(x0 + 1, Math.floor(((ox + 1) * eye.width) / out.width));
      let r = 0, g = 0, b = 0;
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const i = (y * width + x) * 4;
          const a = rgba[i + 3];
          r += rgba[i] * a;
          g += rgba[i + 1] * a;
          b += rgba[i + 2] * a;
        }
      }
      const n = (y1 - y0) * (x1 - x0) * 255;
      const o = (oy * out.width + ox) * 3;
      rgb[o] = Math.round(r / n);
      rgb[o + 1] = Math.round(g / n);
      rgb[o + 2] = Math.round(b / n);
    }
  }
  return rgb;
}

/** Share of reduced RGB8 pixels where some channel differs by more than SESSION_COMPARE_LEVELS (1 when sizes differ). */
export function reducedDiffRatio(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length || a.length === 0) return 1;
  let differing = 0;
  for (let p = 0; p < a.length; p += 3) {
    if (Math.abs(a[p] - b[p]) > SESSION_COMPARE_LEVELS || Math.abs(a[p + 1] - b[p + 1]) > SESSION_COMPARE_LEVELS || Math.abs(a[p + 2] - b[p + 2]) > SESSION_COMPARE_LEVELS) differing++;
  }
  return differing / (a.length / 3);
}
