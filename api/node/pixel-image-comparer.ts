/** The ImageComparer on Node: reads both objects from the blob store, decodes them with sharp, counts with pixel-diff. */
import sharp from 'sharp';
import { maxOutputBytes } from '../core/accept-output.ts';
import type { BlobStore } from '../core/blob-store.ts';
import type { ImageComparer, ImageComparison } from '../core/image-comparer.ts';
import { countDifferingPixels } from '../core/pixel-diff.ts';
import { TesseraError } from '../protocol/errors.ts';

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

/** Compare stored renders pixel by pixel (api/core/pixel-diff.ts decides what counts as a difference). */
export function createPixelImageComparer(blobs: BlobStore): ImageComparer {
  return {
    async compare(a: string, b: string, size: { width: number; height: number }): Promise<ImageComparison> {
      const [x, y] = await Promise.all([decode(blobs, a, size), decode(blobs, b, size)]);
      if (!x || !y || x.info.width !== y.info.width || x.info.height !== y.info.height) return { diffRatio: 1 };
      const { width, height } = x.info;
      return { diffRatio: countDifferingPixels(x.data, y.data, width, height) / (width * height) };
    },
  };
}
