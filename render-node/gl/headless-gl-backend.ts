import { createRequire } from 'node:module';
import { TesseraError } from '../../api/protocol/errors.ts';
import type { GLBackend } from './gl-backend.ts';
import { createFakeCanvas } from './fake-canvas.ts';
import { glContextBackend } from './gl-context-backend.ts';
import { GL_CONTEXT_ATTRIBUTES } from './gl-context-attributes.ts';
import { acquireDisplay } from './xvfb.ts';

const require = createRequire(import.meta.url);

/** The GL backend on headless-gl (WebGL 1 through ANGLE/Mesa), with Xvfb started when DISPLAY is unset. */
export async function createHeadlessGLBackend(width = 64, height = 64): Promise<GLBackend> {
  const display = await acquireDisplay();
  let createGL: (w: number, h: number, attrs?: object) => WebGLRenderingContext | null;
  try {
    createGL = require('gl');
  } catch (cause) {
    throw new TesseraError('GL_UNAVAILABLE', 'The headless-gl module (gl) is not built; run the README set-up command.', { cause });
  }
  const gl = createGL(width, height, GL_CONTEXT_ATTRIBUTES);
  if (!gl) {
    throw new TesseraError('GL_UNAVAILABLE', `headless-gl could not create a context on display ${display}.`);
  }
  const resizer = gl.getExtension('STACKGL_resize_drawingbuffer') as { resize(w: number, h: number): void } | null;
  const destroyer = gl.getExtension('STACKGL_destroy_context') as { destroy(): void } | null;
  const canvas = createFakeCanvas(width, height);
  const viewport = gl.getParameter(gl.MAX_VIEWPORT_DIMS) as Int32Array;
  return glContextBackend({
    identity: {
      backend: 'headless-gl',
      vendor: String(gl.getParameter(gl.VENDOR)),
      renderer: String(gl.getParameter(gl.RENDERER)),
      version: String(gl.getParameter(gl.VERSION)),
      webgl2: false,
      maxViewport: [viewport[0], viewport[1]],
    },
    gl,
    canvas,
    resizeDrawingBuffer(w, h) {
      if (!resizer) throw new TesseraError('GL_UNAVAILABLE', 'headless-gl lacks STACKGL_resize_drawingbuffer.');
      resizer.resize(w, h);
    },
    release: () => destroyer?.destroy(),
  });
}
