/**
 * The GL backend on a browser canvas (a tab joining the farm, or headless Chromium): a WebGL 2 context on an
 * HTMLCanvasElement or OffscreenCanvas, with the attributes headless-gl's context has, so the shared renderer
 * draws the same way. Its identity is what the browser reports unmasked (WEBGL_debug_renderer_info), since
 * that decides the pixels.
 */
import { TesseraError } from '../../api/protocol/errors.ts';
import type { GLBackend } from './gl-backend.ts';
import { glContextBackend } from './gl-context-backend.ts';
import { GL_CONTEXT_ATTRIBUTES } from './gl-context-attributes.ts';

export interface CanvasGLBackendOptions {
  /** Backend id in cards and outputs (default `browser-webgl2`). */
  backend?: string;
}

/** Create the backend on `canvas`; throws GL_UNAVAILABLE when the browser gives no WebGL 2 context. */
export function createCanvasGLBackend(canvas: HTMLCanvasElement | OffscreenCanvas, options: CanvasGLBackendOptions = {}): GLBackend {
  const gl = canvas.getContext('webgl2', { ...GL_CONTEXT_ATTRIBUTES, powerPreference: 'high-performance' }) as WebGL2RenderingContext | null;
  if (!gl) throw new TesseraError('GL_UNAVAILABLE', 'This browser gives no WebGL 2 context (hardware acceleration off, or the GPU is blocklisted).');
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const viewport = gl.getParameter(gl.MAX_VIEWPORT_DIMS) as Int32Array;
  return glContextBackend({
    identity: {
      backend: options.backend ?? 'browser-webgl2',
      vendor: String(debug ? gl.getParameter(debug.UNMASKED_VENDOR_WEBGL) : gl.getParameter(gl.VENDOR)),
      renderer: String(debug ? gl.getParameter(debug.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER)),
      version: String(gl.getParameter(gl.VERSION)),
      webgl2: true,
      maxViewport: [Math.min(viewport[0], gl.getParameter(gl.MAX_RENDERBUFFER_SIZE) as number), Math.min(viewport[1], gl.getParameter(gl.MAX_RENDERBUFFER_SIZE) as number)],
    },
    gl,
    canvas,
    resizeDrawingBuffer(w, h) {
      canvas.width = w;
      canvas.height = h;
    },
    release: () => gl.getExtension('WEBGL_lose_context')?.loseContext(),
  });
}
