/**
 * What every GL backend does alike once it has a context: resize with the same limits and checks, read pixels
 * top-down, dispose once. A backend gives only how its drawing buffer is resized and how the context is released.
 */
import { TesseraError } from '../../api/protocol/errors.ts';
import type { GLBackend, GLBackendInfo } from './gl-backend.ts';
import { readPixelsTopDown } from './read-pixels-top-down.ts';

export interface GLContextBackendOptions {
  /** Who the backend is; the limits and extensions are read from `gl`, except the viewport (backends bound it differently). */
  identity: Omit<GLBackendInfo, 'maxTextureSize' | 'extensions'>;
  gl: WebGLRenderingContext | WebGL2RenderingContext;
  /** The canvas three.js holds; its size follows the drawing buffer's. */
  canvas: HTMLCanvasElement | OffscreenCanvas;
  /** Resize the drawing buffer to `w × h` (checked after: the GL may give less). */
  resizeDrawingBuffer(w: number, h: number): void;
  /** Release the context; called once. */
  release(): void;
}

/** The GLBackend over a created context `gl` whose drawing buffer is `canvas`'s current size. */
export function glContextBackend(options: GLContextBackendOptions): GLBackend {
  const { identity, gl, canvas } = options;
  const info: GLBackendInfo = {
    backend: identity.backend,
    vendor: identity.vendor,
    renderer: identity.renderer,
    version: identity.version,
    webgl2: identity.webgl2,
    maxTextureSize: gl.getParameter(gl.MAX_TEXTURE_SIZE) as number,
    maxViewport: identity.maxViewport,
    extensions: gl.getSupportedExtensions() ?? [],
  };
  let cur = { width: canvas.width, height: canvas.height };
  let disposed = false;
  return {
    info,
    context: gl as WebGLRenderingContext,
    canvas: canvas as HTMLCanvasElement,
    resize(w, h) {
      if (w === cur.width && h === cur.height) return;
      if (w > info.maxViewport[0] || h > info.maxViewport[1]) {
        throw new TesseraError('RENDER_FAILED', `A ${w}×${h} framebuffer exceeds this GL's limit of ${info.maxViewport.join('×')}; lower the size or the supersampling.`);
      }
      options.resizeDrawingBuffer(w, h);
      if (gl.drawingBufferWidth !== w || gl.drawingBufferHeight !== h) {
        throw new TesseraError('RENDER_FAILED', `Could not allocate a ${w}×${h} framebuffer (got ${gl.drawingBufferWidth}×${gl.drawingBufferHeight}); lower the size or the supersampling.`);
      }
      // A browser canvas is already this size (setting it again would clear it); a stand-in canvas follows here.
      if (canvas.width !== w) canvas.width = w;
      if (canvas.height !== h) canvas.height = h;
      cur = { width: w, height: h };
    },
    readPixels(x, y, w, h, out, rows = 'top-down') {
      return readPixelsTopDown(gl, cur.height, x, y, w, h, out, rows === 'top-down');
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      options.release();
    },
  };
}
