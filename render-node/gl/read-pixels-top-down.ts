import { flipRows } from './flip-rows.ts';

/**
 * Read `w × h` RGBA8 pixels at (`x`, `y`) from the top-left of the default framebuffer (`framebufferHeight` tall),
 * rows top-down, into `out` when it is large enough. GL's origin is bottom-left: this reads the mirrored rectangle,
 * then flips the rows (unless `flip` is false: the caller reverses them itself). Shared by every GL backend
 * (headless-gl, a browser canvas).
 */
export function readPixelsTopDown(gl: WebGLRenderingContext | WebGL2RenderingContext, framebufferHeight: number, x: number, y: number, w: number, h: number, out?: Uint8Array, flip = true): Uint8Array {
  const bytes = w * h * 4;
  const buf = out && out.length >= bytes ? out : new Uint8Array(bytes);
  gl.bindFramebuffer(gl.FRAMEBUFFER, null);
  gl.readPixels(x, framebufferHeight - y - h, w, h, gl.RGBA, gl.UNSIGNED_BYTE, buf);
  if (flip) flipRows(buf, w, h);
  return buf;
}
