import sharp from 'sharp';
import type { DecodedImage, ImageDecodeRequest, ImageDecoder } from './image-decoder.ts';

/** The image decoder on Node: sharp (libvips), resized with a Lanczos-3 kernel when the size must change. */
export const sharpImageDecoder: ImageDecoder = {
  async decode(bytes: Uint8Array, request: ImageDecodeRequest): Promise<DecodedImage> {
    const input = sharp(bytes, { limitInputPixels: request.maxPixels, failOn: 'error' });
    const meta = await input.metadata();
    if (!meta.width || !meta.height) throw new Error('image has no dimensions');
    const { width, height } = request.fit(meta.width, meta.height);
    let pipeline = input.toColourspace('srgb').ensureAlpha();
    if (width !== meta.width || height !== meta.height) pipeline = pipeline.resize(width, height, { fit: 'fill', kernel: 'lanczos3' });
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  },
};
