/**
 * The image decoder port: how the scene loader turns a glTF image's encoded bytes into pixels. Node decodes
 * with sharp (sharp-image-decoder.ts), a browser tab with createImageBitmap and a canvas
 * (bitmap-image-decoder.ts); everything around it (the GLTFLoader plugin, texture sizes, failures) is shared.
 */

/** Straight-alpha sRGB RGBA8 pixels, rows top-down. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface ImageDecodeRequest {
  /** Refuse an image whose header claims more pixels than this, before any pixel is decoded (decompression bombs). */
  maxPixels: number;
  /** The size to deliver for an image of the given size (the loader scales to power-of-two edges within the GL's limit). */
  fit(width: number, height: number): { width: number; height: number };
}

export interface ImageDecoder {
  /** Decode `bytes` (PNG, JPEG or WebP) to RGBA8 at the size `request.fit` picks; rejects what cannot be decoded. */
  decode(bytes: Uint8Array, request: ImageDecodeRequest): Promise<DecodedImage>;
}
