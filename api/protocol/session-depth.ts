/**
 * Session depth frames (`depth: true`): each frame carries a second image of the same size as the colour image,
 * a lossless RGB PNG whose R (high byte) and G (low byte) hold the linear eye depth of that pixel in millimetres
 * (distance along the eye's forward axis, view-space −z, of the nearest surface; scene units taken as metres,
 * glTF's unit). 16-bit PNGs would be simpler, but browsers decode them to 8 bits per channel. B is 0.
 * `DEPTH_FAR_MM` (65535) means no surface (the background) or one at or beyond 65.535 m; 0 means nearer than
 * 0.5 mm. The depth image has the colour image's layout (eyes side by side, rows top-down), each eye's depth in
 * its own eye's view space. Pure, no dependencies.
 */

/** Depth of "no surface here" (background) and of anything at or beyond 65.535 m. */
export const DEPTH_FAR_MM = 65535;

/** The header's name for this depth encoding. */
export const DEPTH_ENCODING = 'rg8-mm-png' as const;

/**
 * Millimetres per pixel from decoded depth-image pixels (`channels` bytes per pixel: 3 for RGB, 4 for RGBA as
 * canvases give them): R·256 + G.
 */
export function unpackDepthRg8(pixels: Uint8Array | Uint8ClampedArray, channels: number): Uint16Array {
  const n = Math.floor(pixels.length / channels);
  const out = new Uint16Array(n);
  for (let i = 0, p = 0; i < n; i++, p += channels) out[i] = (pixels[p] << 8) | pixels[p + 1];
  return out;
}

/** Metres from one depth value (Infinity for DEPTH_FAR_MM: no surface). */
export function depthMetres(mm: number): number {
  return mm >= DEPTH_FAR_MM ? Infinity : mm / 1000;
}
