/** The ImageComparer on Node: reads both objects from the blob store, decodes them with sharp, counts with pixelmatch. */
import pixelmatch from 'pixelmatch';
import sharp from 'sharp';
import { maxOutputBytes } from '../core/accept-output.ts';
import type { BlobStore } from '../core/blob-store.ts';
import type { ImageComparer, ImageComparison } from '../core/image-comparer.ts';
import { TesseraError } from '../protocol/errors.ts';

/** pixelmatch's per-pixel color threshold (YIQ distance, 0 – 1): small enough that a tint is a difference. */
const PIXEL_THRESHOLD = 0.1;

async function decode(blobs: BlobStore, key: string, size: { width: number; height: number }) {
  // HEAD before GET: an object larger than any encoding of the tile is not read at all.
  const head = await blobs.head(key);
  if (!head) throw new TesseraError('STORAGE_FAILED', `comparing renders: nothing is stored at ${key}`);
  if (head.size > maxOutputBytes(size.width, size.height)) return null;
  const bytes = await blobs.get(key);
  if (!bytes) throw new TesseraError('STORAGE_FAILED', `comparing renders: nothing is stored at ${key}`);
  try {
    // limitInputPixels: a header claiming more pixels than the tile is refused before decoding.
    const decoded = await sharp(bytes, { limitInputPixels: size.width * size.height }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return decoded.info.width === size.width && decoded.info.height === size.height ? decoded : null;
  } catch {
    // An undecodable output is not the picture another node rendered.
    return null;
  }
}

/**
 * Compare stored renders pixel by pixel. Different GL implementations (headless-gl on Mesa, a browser's ANGLE on
 * SwiftShader or a GPU) rasterize a silhouette's edge pixels a pixel apart; a pixel pixelmatch flags counts as
 * a difference only when no pixel within one pixel of it in the other image matches it, either way round. A
 * tinted, shifted or repainted picture still differs everywhere.
 */
export function createPixelImageComparer(blobs: BlobStore): ImageComparer {
  return {
    async compare(a: string, b: string, size: { width: number; height: number }): Promise<ImageComparison> {
      const [x, y] = await Promise.all([decode(blobs, a, size), decode(blobs, b, size)]);
      if (!x || !y || x.info.width !== y.info.width || x.info.height !== y.info.height) return { diffRatio: 1 };
      const { width, height } = x.info;
      const mask = new Uint8Array(width * height * 4);
      const candidates = pixelmatch(x.data, y.data, mask, width, height, { threshold: PIXEL_THRESHOLD, includeAA: false, diffMask: true, diffColor: [255, 0, 0], aaColor: [0, 0, 255] });
      const diff = candidates === 0 ? 0 : countUnshifted(x.data, y.data, mask, width, height);
      return { diffRatio: diff / (width * height) };
    },
  };
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
