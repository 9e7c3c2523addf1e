/**
 * The ImageComparer on Workers (no sharp there): tiles are always PNG, decoded in plain JavaScript (fast-png)
 * after their header (scene-check's readImageSize) says they are exactly the tile's size; the same count as
 * on Node (api/core/pixel-diff.ts). An output that is not an 8-bit RGB(A) PNG of the tile's size (a one-tile
 * frame in WebP or JPEG, or anything malformed) is a difference, as an undecodable output is on Node.
 * Session frames (compareEye) are JPEG: decoded by jpeg-js's pure-JS decoder (bounded to the frame's own pixels),
 * reduced and counted by api/core/session-eye-diff.ts. No WebP decoder runs here: WebP sessions stay unverifiable.
 */
import { decode } from 'fast-png';
import decodeJpeg from 'jpeg-js/lib/decoder.js';
import { maxOutputBytes } from '../core/accept-output.ts';
import type { BlobStore } from '../core/blob-store.ts';
import type { ImageComparer, ImageComparison } from '../core/image-comparer.ts';
import { countDifferingPixels } from '../core/pixel-diff.ts';
import { reducedDiffRatio, reduceEye } from '../core/session-eye-diff.ts';
import { MAX_SAMPLE_IMAGE_BYTES } from '../protocol/session-sample.ts';
import { TesseraError } from '../protocol/errors.ts';
import { readImageSize } from '../../scene-check/read-image-size.ts';

async function decodeTile(blobs: BlobStore, key: string, size: { width: number; height: number }, formats: readonly ('png' | 'jpeg')[] = ['png']): Promise<Uint8Array | null> {
  // HEAD before GET: an object larger than any encoding of the tile is not read at all.
  const head = await blobs.head(key);
  if (!head) throw new TesseraError('STORAGE_FAILED', `comparing renders: nothing is stored at ${key}`);
  if (head.size > Math.max(maxOutputBytes(size.width, size.height), formats.includes('jpeg') ? MAX_SAMPLE_IMAGE_BYTES : 0)) return null;
  const bytes = await blobs.get(key);
  if (!bytes) throw new TesseraError('STORAGE_FAILED', `comparing renders: nothing is stored at ${key}`);
  const header = readImageSize(bytes);
  if ('problem' in header || !(formats as readonly string[]).includes(header.format) || header.width !== size.width || header.height !== size.height) return null;
  if (header.format === 'jpeg') return decodeJpegFrame(bytes, size);
  try {
    const png = decode(bytes);
    if (png.depth !== 8 || png.width !== size.width || png.height !== size.height || png.palette) return null;
    const data = png.data as Uint8Array;
    if (png.channels === 4) return data;
    if (png.channels !== 3) return null;
    const rgba = new Uint8Array(size.width * size.height * 4);
    for (let p = 0, q = 0; p < data.length; p += 3, q += 4) {
      rgba[q] = data[p];
      rgba[q + 1] = data[p + 1];
      rgba[q + 2] = data[p + 2];
      rgba[q + 3] = 255;
    }
    return rgba;
  } catch {
    // An undecodable output is not the picture another node rendered.
    return null;
  }
}

/** Headroom for jpeg-js's working buffers (its components and coefficients) beyond the RGBA output, in MiB. */
const JPEG_DECODE_HEADROOM_MB = 32;

/** A JPEG whose header says `size`, decoded to RGBA; null when it is not (or jpeg-js finds it broken). */
function decodeJpegFrame(bytes: Uint8Array, size: { width: number; height: number }): Uint8Array | null {
  try {
    const pixels = size.width * size.height;
    // Bounded by the size the header claimed (checked above): jpeg-js refuses to allocate beyond it.
    const jpeg = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: pixels / 1e6 + 0.01, maxMemoryUsageInMB: Math.ceil((pixels * 4 * 3) / 2 ** 20) + JPEG_DECODE_HEADROOM_MB });
    return jpeg.width === size.width && jpeg.height === size.height && jpeg.data.length === pixels * 4 ? jpeg.data : null;
  } catch {
    return null;
  }
}

/** Compare stored PNG renders pixel by pixel, and JPEG session frames with PNG references, with no native code. */
export function createEdgeImageComparer(blobs: BlobStore): ImageComparer {
  return {
    sessionFormats: ['jpeg'],
    async compareEye(frame, reference, frameSize, eye) {
      const [a, b] = await Promise.all([decodeTile(blobs, frame, frameSize, ['jpeg', 'png']), decodeTile(blobs, reference, eye)]);
      if (!a || !b) return { diffRatio: 1 };
      return { diffRatio: reducedDiffRatio(reduceEye(a, frameSize.width, eye), reduceEye(b, eye.width, eye)) };
    },
    async compare(a: string, b: string, size: { width: number; height: number }): Promise<ImageComparison> {
      const [x, y] = await Promise.all([decodeTile(blobs, a, size), decodeTile(blobs, b, size)]);
      if (!x || !y) return { diffRatio: 1 };
      return { diffRatio: countDifferingPixels(x, y, size.width, size.height) / (size.width * size.height) };
    },
  };
}
