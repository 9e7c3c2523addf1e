/** The ImageComparer on Node: reads both objects from the blob store, decodes them with sharp, counts with pixelmatch. */
import pixelmatch from 'pixelmatch';
import sharp from 'sharp';
import type { BlobStore } from '../core/blob-store.ts';
import type { ImageComparer, ImageComparison } from '../core/image-comparer.ts';
import { TesseraError } from '../protocol/errors.ts';

/** pixelmatch's per-pixel color threshold (YIQ distance, 0 – 1): small enough that a tint is a difference. */
const PIXEL_THRESHOLD = 0.1;

async function decode(blobs: BlobStore, key: string) {
  const bytes = await blobs.get(key);
  if (!bytes) throw new TesseraError('STORAGE_FAILED', `comparing renders: nothing is stored at ${key}`);
  try {
    return await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch {
    // An undecodable output is not the picture another node rendered.
    return null;
  }
}

/** Compare stored renders pixel by pixel. */
export function createPixelImageComparer(blobs: BlobStore): ImageComparer {
  return {
    async compare(a: string, b: string): Promise<ImageComparison> {
      const [x, y] = await Promise.all([decode(blobs, a), decode(blobs, b)]);
      if (!x || !y || x.info.width !== y.info.width || x.info.height !== y.info.height) return { diffRatio: 1 };
      const diff = pixelmatch(x.data, y.data, undefined, x.info.width, x.info.height, { threshold: PIXEL_THRESHOLD, includeAA: false });
      return { diffRatio: diff / (x.info.width * x.info.height) };
    },
  };
}
