/**
 * The image decoder in a browser: the header is read first (scene-check's readImageSize) so a decompression
 * bomb is refused before anything inflates it, then createImageBitmap decodes without colour management or
 * premultiplication (the bytes as sharp gives them), turned upright by its EXIF orientation (as sharp-image-decoder.ts
 * does), and scales (high quality) when the size must change, decoding twice then: the size to fit is the upright
 * one, which the header does not tell (orientations 5–8 swap width and height); a WebGL 2 context reads the pixels back unpremultiplied (a 2D canvas would premultiply and lose precision
 * in translucent texels).
 */
import { TesseraError } from '../../api/protocol/errors.ts';
import { readImageSize } from '../../scene-check/read-image-size.ts';
import type { DecodedImage, ImageDecodeRequest, ImageDecoder } from './image-decoder.ts';
import type { TranscodedImage, TranscodeOptions } from './ktx2-transcoder.ts';

export interface BitmapImageDecoderOptions {
  /**
   * Transcodes KTX2 (KHR_texture_basisu) level 0 to RGBA8 (ktx2-transcoder.ts: in the Chromium backend's page,
   * or in a /join tab's Basis worker). Absent: a KTX2 texture fails the render, and another node renders it.
   */
  transcodeKtx2?: (bytes: Uint8Array, options: TranscodeOptions) => Promise<TranscodedImage>;
}

export function createBitmapImageDecoder(options: BitmapImageDecoderOptions = {}): ImageDecoder {
  let gl: WebGL2RenderingContext | null = null;
  return {
    async decode(bytes: Uint8Array, request: ImageDecodeRequest): Promise<DecodedImage> {
      const size = readImageSize(bytes);
      if ('problem' in size) throw new Error(size.problem);
      if (size.format === 'ktx2' && !options.transcodeKtx2) throw new TesseraError('RENDER_FAILED', 'this browser node cannot transcode KTX2 (KHR_texture_basisu) textures');
      if (size.pixels > request.maxPixels) throw new Error(`image claims ${size.width}×${size.height} pixels, over the limit of ${request.maxPixels}`);
      let source: Blob | ImageData;
      if (size.format === 'ktx2') {
        // Level 0 as straight RGBA8 (the container checked and its size bounded first), then sized like any image.
        const image = await options.transcodeKtx2!(bytes, { maxPixels: request.maxPixels });
        const fitted = request.fit(image.width, image.height);
        if (image.width === fitted.width && image.height === fitted.height) return image;
        source = new ImageData(new Uint8ClampedArray(image.data.buffer as ArrayBuffer, image.data.byteOffset, image.data.byteLength), image.width, image.height);
      } else source = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: size.mimeType });
      const upright = { premultiplyAlpha: 'none', colorSpaceConversion: 'none', imageOrientation: 'from-image' } as const;
      let bitmap = await createImageBitmap(source, upright);
      const { width, height } = request.fit(bitmap.width, bitmap.height);
      if (bitmap.width !== width || bitmap.height !== height) {
        bitmap.close();
        bitmap = await createImageBitmap(source, { ...upright, resizeWidth: width, resizeHeight: height, resizeQuality: 'high' });
      }
      try {
        if (bitmap.width !== width || bitmap.height !== height) throw new Error(`decoded to ${bitmap.width}×${bitmap.height}, expected ${width}×${height}`);
        gl ??= new OffscreenCanvas(1, 1).getContext('webgl2', { premultipliedAlpha: false });
        if (!gl) throw new Error('no WebGL 2 context to read decoded images back with');
        return { data: readBitmap(gl, bitmap), width, height };
      } finally {
        bitmap.close();
      }
    },
  };
}

/** The bitmap's RGBA8 pixels, rows top-down, through a texture attached to a framebuffer. */
function readBitmap(gl: WebGL2RenderingContext, bitmap: ImageBitmap): Uint8Array {
  const texture = gl.createTexture();
  const fb = gl.createFramebuffer();
  try {
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
    const out = new Uint8Array(bitmap.width * bitmap.height * 4);
    // Texture row 0 is the image's top row, and readPixels starts at row 0: already top-down.
    gl.readPixels(0, 0, bitmap.width, bitmap.height, gl.RGBA, gl.UNSIGNED_BYTE, out);
    const err = gl.getError();
    if (err !== gl.NO_ERROR) throw new Error(`WebGL error 0x${err.toString(16)} reading a decoded image`);
    return out;
  } finally {
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.deleteFramebuffer(fb);
    gl.deleteTexture(texture);
  }
}
