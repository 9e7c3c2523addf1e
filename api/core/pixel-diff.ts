/**
 * What counts as a pixel difference between two renders of the same tile by different renderers. pixelmatch
 * (YIQ distance, threshold 0.1, anti-aliased pixels excluded) flags candidates; different GL implementations
 * (headless-gl on Mesa, a browser's ANGLE on SwiftShader or a GPU) rasterize a silhouette's edge pixels a pixel
 * apart, so a flagged pixel counts only when no pixel within one pixel of it in the other image matches it,
 * either way round. A tinted, shifted or repainted picture still differs everywhere. Pure: Node and Workers
 * adapters decode the images (api/node/pixel-image-comparer.ts, api/edge/edge-image-comparer.ts).
 */
import pixelmatch from 'pixelmatch';

/** pixelmatch's per-pixel color threshold (YIQ distance, 0 – 1): small enough that a tint is a difference. */
export const PIXEL_THRESHOLD = 0.1;

/** The pixels of two straight-alpha RGBA8 images of width × height that differ (see above). */
export function countDifferingPixels(a: Uint8Array, b: Uint8Array, width: number, height: number): number {
  const mask = new Uint8Array(width * height * 4);
  const candidates = pixelmatch(a, b, mask, width, height, { threshold: PIXEL_THRESHOLD, includeAA: false, diffMask: true, diffColor: [255, 0, 0], aaColor: [0, 0, 255] });
  return candidates === 0 ? 0 : countUnshifted(a, b, mask, width, height);
}

/** pixelmatch's YIQ colour distance limit for PIXEL_THRESHOLD (its `maxDelta`). */
const MAX_DELTA = 35215 * PIXEL_THRESHOLD * PIXEL_THRESHOLD;

/** The pixels flagged red in `mask` that match no pixel of the other image's 3×3 neighbourhood, checked both ways. */
function countUnshifted(a: Uint8Array, b: Uint8Array, mask: Uint8Array, width: number, height: number): number {
  let count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (mask[i] !== 255 || mask[i + 1] !== 0) continue;
      if (!matchesNear(a, i, b, x, y, width, height) || !matchesNear(b, i, a, x, y, width, height)) count++;
    }
  }
  return count;
}

/** Whether pixel `i` of `from` is within MAX_DELTA of some pixel of `to` at most one pixel away from (x, y). */
function matchesNear(from: Uint8Array, i: number, to: Uint8Array, x: number, y: number, width: number, height: number): boolean {
  for (let dy = -1; dy <= 1; dy++) {
    const ny = y + dy;
    if (ny < 0 || ny >= height) continue;
    for (let dx = -1; dx <= 1; dx++) {
      const nx = x + dx;
      if (nx < 0 || nx >= width) continue;
      if (colorDelta(from, i, to, (ny * width + nx) * 4) <= MAX_DELTA) return true;
    }
  }
  return false;
}

/**
 * pixelmatch's squared YIQ distance of two RGBA pixels, blended onto white and onto black (the larger of the
 * two), so a transparent pixel never passes for an opaque one of the background's colour.
 */
function colorDelta(a: Uint8Array, i: number, b: Uint8Array, j: number): number {
  return Math.max(yiqDelta(a, i, b, j, 255), yiqDelta(a, i, b, j, 0));
}

function yiqDelta(a: Uint8Array, i: number, b: Uint8Array, j: number, background: number): number {
  const a1 = a[i + 3] / 255;
  const a2 = b[j + 3] / 255;
  const dr = a[i] * a1 - b[j] * a2 - background * (a1 - a2);
  const dg = a[i + 1] * a1 - b[j + 1] * a2 - background * (a1 - a2);
  const db = a[i + 2] * a1 - b[j + 2] * a2 - background * (a1 - a2);
  const y = dr * 0.29889531 + dg * 0.58662247 + db * 0.11448223;
  const iq = dr * 0.59597799 - dg * 0.2741761 - db * 0.32180189;
  const q = dr * 0.21147017 - dg * 0.52261711 + db * 0.31114694;
  return 0.5053 * y * y + 0.299 * iq * iq + 0.1957 * q * q;
}
