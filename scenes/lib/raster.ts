/** An uncompressed 8-bit image, row-major from the top-left texel. */
export interface Raster {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
}

/** Fills a raster by evaluating `shade(x, y)` at texel centers (normalized 0..1, y down). Values are 0..1. */
export function makeRaster(
  width: number,
  height: number,
  channels: 3 | 4,
  shade: (x: number, y: number, px: number, py: number) => number[],
): Raster {
  const data = new Uint8Array(width * height * channels);
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const c = shade((px + 0.5) / width, (py + 0.5) / height, px, py);
      const o = (py * width + px) * channels;
      for (let k = 0; k < channels; k++) {
        data[o + k] = Math.round(Math.min(1, Math.max(0, c[k] ?? 1)) * 255);
      }
    }
  }
  return { width, height, channels, data };
}
