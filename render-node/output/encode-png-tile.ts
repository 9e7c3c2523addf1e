import { encode } from 'fast-png';
import type { RawImage } from '../render/frame-renderer.ts';

/**
 * Encode RGBA8 pixels as an 8-bit RGBA PNG in plain JavaScript (fast-png, zlib level 1), for runtimes without
 * sharp (a browser tab). Lossless and exact: no canvas in between, which would premultiply alpha and round
 * translucent pixels. The bytes differ from sharp's; the pixels, which the stitch and the verifier compare, do not.
 */
export function encodePngTile(image: RawImage): Uint8Array {
  return encode({ width: image.width, height: image.height, data: image.data, channels: 4, depth: 8 }, { zlib: { level: 1 } });
}
