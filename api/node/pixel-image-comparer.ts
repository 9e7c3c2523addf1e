/** The ImageComparer on Node: reads both objects from the blob store, decodes them with sharp, counts with pixel-diff. */
import sharp from 'sharp';
import { maxOutputBytes } from '../core/accept-output.ts';
import type { BlobStore } from '../core/blob-store.ts';
import { SESSION_COMPARE_LEVELS, SESSION_COMPARE_SCALE, type ImageComparer, type ImageComparison } from '../core/image-comparer.ts';
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
    async compareEye(frame, reference, frameSize, eye) {
      const w = Math.max(1, Math.round(eye.width / SESSION_COMPARE_SCALE));
      const h = Math.max(1, Math.round(eye.height / SESSION_COMPARE_SCALE));
      const reduce = async (key: string, size: { width: number; height: number }, crop: boolean) => {
        const bytes = await blobs.get(key);
        if (!bytes) throw new TesseraError('STORAGE_FAILED', `comparing a session frame: nothing is stored at ${key}`);
        try {
          const img = sharp(bytes, { limitInputPixels: size.width * size.height });
          const meta = await img.metadata();
          if (meta.width !== size.width || meta.height !== size.height) return null;
          const eyeOnly = crop ? img.extract({ left: 0, top: 0, width: eye.width, height: eye.height }) : img;
          // Flattened on black: a frame (JPEG) has no alpha; a transparent reference pixel reads as black.
          const { data } = await sharp(await eyeOnly.flatten({ background: '#000000' }).removeAlpha().toBuffer())
            .resize(w, h, { kernel: 'linear', fit: 'fill' })
            .raw()
            .toBuffer({ resolveWithObject: true });
          return data;
        } catch {
          return null;
        }
      };
      const [a, b] = await Promise.all([reduce(frame, frameSize, true), reduce(reference, eye, false)]);
      if (!a || !b || a.length !== b.length) return { diffRatio: 1 };
      let differing = 0;
      for (let p = 0; p < a.length; p += 3) {
        if (Math.abs(a[p] - b[p]) > SESSION_COMPARE_LEVELS || Math.abs(a[p + 1] - b[p + 1]) > SESSION_COMPARE_LEVELS || Math.abs(a[p + 2] - b[p + 2]) > SESSION_COMPARE_LEVELS) differing++;
      }
      return { diffRatio: differing / (w * h) };
    },
  };
}
