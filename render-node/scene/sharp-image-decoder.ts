import sharp from 'sharp';
import { isKtx2 } from '../../scene-check/read-ktx2-header.ts';
import { transcodeKtx2 } from './basis-transcoder.ts';
import type { DecodedImage, ImageDecodeRequest, ImageDecoder } from './image-decoder.ts';

/** The image decoder on Node: sharp (libvips; KTX2 through the Basis transcoder), resized with a Lanczos-3 kernel when the size must change. */
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
    const input = sharp(source, { limitInputPixels: request.maxPixels, failOn: 'error', raw });
    const meta = await input.metadata();
    if (!meta.width || !meta.height) throw new Error('image has no dimensions');
    const { width, height } = request.fit(meta.width, meta.height);
    let pipeline = input.toColourspace('srgb').ensureAlpha();
    if (width !== meta.width || height !== meta.height) pipeline = pipeline.resize(width, height, { fit: 'fill', kernel: 'lanczos3' });
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  },
};
