import { TesseraError } from '../../api/protocol/errors.ts';
import type { GLBackendInfo } from './gl-backend.ts';

/** Throws RENDER_FAILED before a resize when `w × h` exceeds the GL's viewport limit. */
export function checkFramebufferFits(info: GLBackendInfo, w: number, h: number): void {
  if (w > info.maxViewport[0] || h > info.maxViewport[1]) {
    throw new TesseraError('RENDER_FAILED', `A ${w}×${h} framebuffer exceeds this GL's limit of ${info.maxViewport.join('×')}; lower the size or the supersampling.`);
  }
}

/** Throws RENDER_FAILED after a resize when the GL did not give a `w × h` drawing buffer. */
export function checkFramebufferAllocated(gl: WebGLRenderingContext | WebGL2RenderingContext, w: number, h: number): void {
  if (gl.drawingBufferWidth !== w || gl.drawingBufferHeight !== h) {
    throw new TesseraError('RENDER_FAILED', `Could not allocate a ${w}×${h} framebuffer (got ${gl.drawingBufferWidth}×${gl.drawingBufferHeight}); lower the size or the supersampling.`);
  }
}
