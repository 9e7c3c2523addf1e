import sharp from 'sharp';
import type { Raster } from './raster.ts';

/** Deterministic PNG encoding (no metadata, fixed zlib settings). */
export async function encodePng(r: Raster): Promise<Uint8Array> {
  const buf = await sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } })
    .png({ compressionLevel: 9, adaptiveFiltering: true, palette: false })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
