import { describe, expect, it } from 'vitest';
import { flipRows } from '../render-node/gl/flip-rows.ts';
import { resolvePixels, unpremultiply } from '../render-node/render/resolve-pixels.ts';

/** Premultiplied pixels with every kind of alpha: opaque rows, empty pixels, partial coverage. */
function framebuffer(width: number, height: number, seed: number, opaqueRows: Set<number>): Uint8Array {
  const px = new Uint8Array(width * height * 4);
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 255;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4;
      const a = opaqueRows.has(y) ? 255 : [0, 255, rand()][rand() % 3];
      for (let c = 0; c < 3; c++) px[p + c] = Math.min(a, rand());
      px[p + 3] = a;
    }
  return px;
}

describe('resolvePixels', () => {
  it('ssaa 1 gives straight alpha for every pixel (opaque rows copied, others unpremultiplied)', () => {
    const w = 37, h = 11;
    const src = framebuffer(w, h, 7, new Set([0, 4, 10]));
    const out = resolvePixels(src, w, h, 1);
    for (let i = 0; i < w * h * 4; i += 4) {
      const a = src[i + 3];
      expect([out[i], out[i + 1], out[i + 2], out[i + 3]]).toEqual([unpremultiply(src[i], a), unpremultiply(src[i + 1], a), unpremultiply(src[i + 2], a), a]);
    }
  });

  it.each([1, 2, 3])('rows read bottom-up (GL order) resolve to the same pixels as rows flipped first, ssaa %i', (ssaa) => {
    const w = 29, h = 9;
    const src = framebuffer(w * ssaa, h * ssaa, 11 + ssaa, new Set([1, 2, 5]));
    const expected = resolvePixels(src, w, h, ssaa);
    const glOrder = src.slice();
    flipRows(glOrder, w * ssaa, h * ssaa);
    expect(Buffer.compare(Buffer.from(resolvePixels(glOrder, w, h, ssaa, undefined, true)), Buffer.from(expected))).toBe(0);
    // Unaligned buffers take the byte-at-a-time path: same result.
    const unaligned = new Uint8Array(glOrder.length + 1).subarray(1);
    unaligned.set(glOrder);
    expect(Buffer.compare(Buffer.from(resolvePixels(unaligned, w, h, ssaa, undefined, true)), Buffer.from(expected))).toBe(0);
  });
});
