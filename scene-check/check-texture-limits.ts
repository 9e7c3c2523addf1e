/**
 * Texture cost from image headers only (no pixel is decoded): each edge against maxTextureEdge,
 * the pixel total against maxTexturePixels, and RGBA bytes added to the decoded-size estimate.
 * An image whose size cannot be read from its header is refused, since the renderer could not
 * bound it either. A KTX2 image (KHR_texture_basisu) is checked as a whole container (header, level
 * index, data format descriptor; see read-ktx2-header.ts) and costs what its level 0 takes as RGBA8,
 * which is what the render node transcodes it to; a broken container is SCENE_MALFORMED.
 */
import type { SceneLimits } from '../api/protocol/render-spec.ts';
import { TesseraError } from '../api/protocol/errors.ts';
import { formatBytes } from './format-bytes.ts';
import { malformed } from './gltf-fields.ts';
import { readImageSize, type ImageSize } from './read-image-size.ts';
import { isKtx2, readKtx2Header } from './read-ktx2-header.ts';
import type { ImageInfo } from './validated-gltf.ts';

export interface TextureCost {
  /** Header size of each image, in the glTF's image order. */
  sizes: ImageSize[];
  texturePixels: number;
}

/** A KTX2 image only through KHR_texture_basisu, and a KHR_texture_basisu source only KTX2. */
function checkKtx2Use(bytes: Uint8Array, i: number, info: ImageInfo | undefined): void {
  if (isKtx2(bytes)) {
    const header = readKtx2Header(bytes);
    if ('problem' in header) throw malformed(`image ${i}: ${header.problem}`);
    if (info?.plain) throw malformed(`image ${i} is KTX2, which a texture may only use through KHR_texture_basisu, not as its source`);
  } else if (info?.basisu) {
    throw malformed(`image ${i} is used through KHR_texture_basisu but is not a KTX2 file`);
  }
}

export function checkTextureLimits(images: Uint8Array[], limits: SceneLimits, geometryBytes: number, infos: ImageInfo[] = []): TextureCost {
  const sizes: ImageSize[] = [];
  let texturePixels = 0;
  images.forEach((bytes, i) => {
    checkKtx2Use(bytes, i, infos[i]);
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
