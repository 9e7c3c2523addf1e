/**
 * Turn framebuffer pixels (premultiplied sRGB RGBA8, as WebGL blending leaves them) into output pixels
 * (straight-alpha sRGB RGBA8), averaging ssaa×ssaa blocks in linear light. Pure and deterministic, and each
 * output pixel depends only on its own block, so tiles resolve exactly like the whole frame.
 */

/** sRGB byte → linear light. */
export const SRGB_TO_LINEAR = new Float32Array(256);
for (let i = 0; i < 256; i++) {
  const c = i / 255;
  SRGB_TO_LINEAR[i] = c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** Linear light in LINEAR_STEPS steps → sRGB byte. */
export const LINEAR_STEPS = 16384;
export const LINEAR_TO_SRGB = new Uint8Array(LINEAR_STEPS + 1);
for (let i = 0; i <= LINEAR_STEPS; i++) {
  const l = i / LINEAR_STEPS;
  const c = l <= 0.0031308 ? l * 12.92 : 1.055 * l ** (1 / 2.4) - 0.055;
  LINEAR_TO_SRGB[i] = Math.round(Math.min(1, Math.max(0, c)) * 255);
}

/** Straight alpha from premultiplied: c·255/a, rounded, for partly transparent pixels. */
export function unpremultiply(c: number, a: number): number {
  if (a === 255 || a === 0) return a === 0 ? 0 : c;
  return Math.min(255, Math.round((c * 255) / a));
}

/**
 * Resolve a `width·ssaa × height·ssaa` premultiplied buffer into `width × height` straight-alpha pixels, rows
 * top-down. `bottomUp`: `src`'s rows are in GL's order (bottom row first), reversed here in the same pass (no
 * separate flip). `out` may alias `src` when ssaa is 1 and `bottomUp` is false.
 */
export function resolvePixels(src: Uint8Array, width: number, height: number, ssaa: number, out = new Uint8Array(width * height * 4), bottomUp = false): Uint8Array {
  if (ssaa === 1) {
    if (src.byteOffset % 4 === 0 && out.byteOffset % 4 === 0) {
      // Word at a time (little-endian RGBA: alpha is the top byte). A row whose pixels are all opaque (the AND
      // of its words has alpha 255) is copied as is in one move; other rows pixel by pixel.
      const s32 = new Uint32Array(src.buffer, src.byteOffset, width * height);
      const o32 = new Uint32Array(out.buffer, out.byteOffset, width * height);
      for (let y = 0; y < height; y++) {
        const so = (bottomUp ? height - 1 - y : y) * width;
        const oo = y * width;
        let all = 0xffffffff;
        for (let x = 0; x < width; x++) all &= s32[so + x];
        if (all >>> 24 === 255) {
          o32.set(s32.subarray(so, so + width), oo);
          continue;
        }
        for (let x = 0; x < width; x++) {
          const w = s32[so + x];
          const a = w >>> 24;
          if (a === 255) o32[oo + x] = w;
          else if (a === 0) o32[oo + x] = 0;
          else {
            const p = (so + x) * 4;
            const q = (oo + x) * 4;
            out[q] = unpremultiply(src[p], a);
            out[q + 1] = unpremultiply(src[p + 1], a);
            out[q + 2] = unpremultiply(src[p + 2], a);
            out[q + 3] = a;
          }
        }
      }
      return out;
    }
    const stride = width * 4;
    for (let y = 0; y < height; y++) {
      const so = (bottomUp ? height - 1 - y : y) * stride;
      const oo = y * stride;
      for (let x = 0; x < stride; x += 4) {
        const a = src[so + x + 3];
        out[oo + x] = unpremultiply(src[so + x], a);
        out[oo + x + 1] = unpremultiply(src[so + x + 1], a);
        out[oo + x + 2] = unpremultiply(src[so + x + 2], a);
        out[oo + x + 3] = a;
      }
    }
    return out;
  }
  const srcStride = width * ssaa * 4;
  const srcRows = height * ssaa;
  const n = ssaa * ssaa;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0, alpha = 0;
      for (let sy = 0; sy < ssaa; sy++) {
        const row = y * ssaa + sy;
        let p = (bottomUp ? srcRows - 1 - row : row) * srcStride + x * ssaa * 4;
        for (let sx = 0; sx < ssaa; sx++, p += 4) {
          const a = src[p + 3];
          if (a === 0) continue;
          // Average premultiplied linear color: straight sRGB → linear, times coverage.
          const w = a / 255;
          r += SRGB_TO_LINEAR[unpremultiply(src[p], a)] * w;
          g += SRGB_TO_LINEAR[unpremultiply(src[p + 1], a)] * w;
          b += SRGB_TO_LINEAR[unpremultiply(src[p + 2], a)] * w;
          alpha += w;
        }
      }
      const o = (y * width + x) * 4;
      if (alpha === 0) {
        out[o] = out[o + 1] = out[o + 2] = out[o + 3] = 0;
        continue;
      }
      out[o] = LINEAR_TO_SRGB[Math.round((r / alpha) * LINEAR_STEPS)];
      out[o + 1] = LINEAR_TO_SRGB[Math.round((g / alpha) * LINEAR_STEPS)];
      out[o + 2] = LINEAR_TO_SRGB[Math.round((b / alpha) * LINEAR_STEPS)];
      out[o + 3] = Math.round((alpha / n) * 255);
    }
  }
  return out;
}
