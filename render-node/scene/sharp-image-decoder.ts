import sharp from 'sharp';
import { isKtx2 } from '../../scene-check/read-ktx2-header.ts';
import { transcodeKtx2 } from './basis-transcoder.ts';
import type { DecodedImage, ImageDecodeRequest, ImageDecoder } from './image-decoder.ts';

/**
 * The image decoder on Node: sharp (libvips; KTX2 through the Basis transcoder), resized with a Lanczos-3 kernel when
 * the size must change. A JPEG's EXIF orientation is applied, as browsers' decoders do (bitmap-image-decoder.ts asks
 * for `imageOrientation: 'from-image'`, and three.js viewers see it so): both backends draw such a texture the same way.
 */
export const sharpImageDecoder: ImageDecoder = {
  async decode(bytes: Uint8Array, request: ImageDecodeRequest): Promise<DecodedImage> {
    // KTX2 (KHR_texture_basisu) is transcoded to RGBA8 first (basis-transcoder.ts), then sized like any image.
    let source = bytes;
    let raw: { width: number; height: number; channels: 4 } | undefined;
    if (isKtx2(bytes)) {
      const image = await transcodeKtx2(bytes, { maxPixels: request.maxPixels });
      source = image.data;
      raw = { width: image.width, height: image.height, channels: 4 };
    }
    const input = sharp(source, { limitInputPixels: request.maxPixels, failOn: 'error', raw, autoOrient: true });
    const meta = await input.metadata();
    if (!meta.width || !meta.height) throw new Error('image has no dimensions');
    // The size once turned upright (EXIF orientations 5–8 swap width and height).
    const upright = meta.autoOrient ?? meta;
    const { width, height } = request.fit(upright.width, upright.height);
    const sameSize = width === upright.width && height === upright.height;
    let pipeline = input.toColourspace('srgb').ensureAlpha();
    if (!sameSize) pipeline = pipeline.resize(width, height, { fit: 'fill', kernel: 'lanczos3' });
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  },
};
