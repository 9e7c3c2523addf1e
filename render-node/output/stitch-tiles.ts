import sharp from 'sharp';
import type { RawImage } from '../render/frame-renderer.ts';

/** A tile to place into a frame: encoded (PNG or lossless WebP) or raw RGBA8 pixels. */
export interface PlacedTile {
  x: number;
  y: number;
  image: Uint8Array | RawImage;
}

/**
 * Stitch tiles into one width × height frame. Encoded tiles are decoded with sharp and every tile is copied
 * row by row, so lossless tiles reproduce the untiled frame exactly (no blending, no resampling).
 * Tiles must cover the frame without overlapping.
 */
export async function stitchTiles(width: number, height: number, tiles: PlacedTile[]): Promise<RawImage> {
  const out = new Uint8Array(width * height * 4);
  let covered = 0;
  for (const tile of tiles) {
    // A tile can hold at most the frame's pixels: sharp refuses a header claiming more before decoding it.
    const raw = isRaw(tile.image) ? tile.image : await decodeRaw(tile.image, width * height);
    if (tile.x < 0 || tile.y < 0 || tile.x + raw.width > width || tile.y + raw.height > height) {
      throw new RangeError(`tile ${raw.width}×${raw.height} at ${tile.x},${tile.y} does not fit the ${width}×${height} frame`);
    }
    const rowBytes = raw.width * 4;
    for (let row = 0; row < raw.height; row++) {
      out.set(raw.data.subarray(row * rowBytes, (row + 1) * rowBytes), ((tile.y + row) * width + tile.x) * 4);
    }
    covered += raw.width * raw.height;
  }
  if (covered !== width * height) throw new RangeError(`tiles cover ${covered} of the frame's ${width * height} pixels`);
  return { data: out, width, height };
}

function isRaw(image: Uint8Array | RawImage): image is RawImage {
  return !(image instanceof Uint8Array);
}

/**
 * Decode an encoded image to straight-alpha RGBA8. `maxPixels` (e.g. the tile's pixels) is passed to sharp
 * as `limitInputPixels`, so an image whose header claims more is refused before any pixel is decoded.
 */
export async function decodeRaw(bytes: Uint8Array, maxPixels?: number): Promise<RawImage> {
  const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels ?? true }).ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}
