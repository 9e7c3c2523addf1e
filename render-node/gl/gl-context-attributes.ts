/**
 * The context attributes every GL backend asks for, so that headless-gl and a browser canvas draw the same way:
 * no multisampling (supersampling is the renderer's), premultiplied alpha, and a drawing buffer kept for readPixels.
 */
export const GL_CONTEXT_ATTRIBUTES = {
  alpha: true,
  depth: true,
  stencil: true,
  antialias: false,
  premultipliedAlpha: true,
  preserveDrawingBuffer: true,
} as const satisfies WebGLContextAttributes;
