/**
 * Texture cost from image headers only (no pixel is decoded): each edge against maxTextureEdge,
 * the pixel total against maxTexturePixels, and RGBA bytes added to the decoded-size estimate.
 * An image whose size cannot be read from its header is refused, since the renderer could not
 * bound it either.
 */
import type { SceneLimits } from '../api/protocol/render-spec.ts';
import { TesseraError } from '../api/protocol/errors.ts';
import { formatBytes } from './format-bytes.ts';
import { readImageSize, type ImageSize } from './read-image-size.ts';

export interface TextureCost {
  /** Header size of each image, in the glTF's image order. */
  sizes: ImageSize[];
  texturePixels: number;
}

export function checkTextureLimits(images: Uint8Array[], limits: SceneLimits, geometryBytes: number): TextureCost {
  const sizes: ImageSize[] = [];
  let texturePixels = 0;
  images.forEach((bytes, i) => {
    const size = readImageSize(bytes);
    if ('problem' in size) throw new TesseraError('SCENE_TEXTURE_FAILED', `image ${i}: ${size.problem}`);
    const { width, height } = size;
    if (width > limits.maxTextureEdge || height > limits.maxTextureEdge) {
      throw new TesseraError(
        'SCENE_LIMIT_EXCEEDED',
        `image ${i} is ${width}×${height} pixels; an edge may be at most maxTextureEdge ${limits.maxTextureEdge}`,
      );
    }
    if (size.pixels > limits.maxTexturePixels) {
      throw new TesseraError(
        'SCENE_LIMIT_EXCEEDED',
        `image ${i} is ${width}×${height} = ${size.pixels} pixels, more than maxTexturePixels ${limits.maxTexturePixels}`,
      );
    }
    texturePixels += size.pixels;
    if (texturePixels > limits.maxTexturePixels) {
      throw new TesseraError(
        'SCENE_LIMIT_EXCEEDED',
        `the textures total more than maxTexturePixels ${limits.maxTexturePixels} pixels (reached at image ${i})`,
      );
    }
    sizes.push(size);
  });

  const textureBytes = texturePixels * 4;
  if (geometryBytes + textureBytes > limits.maxDecodedBytes) {
    throw new TesseraError(
      'SCENE_LIMIT_EXCEEDED',
      `the scene would take about ${formatBytes(geometryBytes + textureBytes)} once decoded ` +
        `(geometry ${formatBytes(geometryBytes)} + textures ${formatBytes(textureBytes)}), ` +
        `more than maxDecodedBytes ${formatBytes(limits.maxDecodedBytes)}`,
    );
  }
  return { sizes, texturePixels };
}
