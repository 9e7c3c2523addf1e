/**
 * The GL backend port: everything the renderer needs from a GPU API, so that a WebGL 2 backend
 * (a browser tab, or a future native binding) can replace headless-gl without touching the renderer.
 */
export interface GLBackendInfo {
  /** Backend id, recorded in output metadata (e.g. `headless-gl`). */
  backend: string;
  vendor: string;
  renderer: string;
  version: string;
  webgl2: boolean;
  maxTextureSize: number;
  maxViewport: [number, number];
  extensions: string[];
}

export interface GLBackend {
  readonly info: GLBackendInfo;
  /** The WebGL context three.js renders into. */
  readonly context: WebGLRenderingContext;
  /** A canvas-like object three.js can hold (size and event listeners only). */
  readonly canvas: HTMLCanvasElement;
  /** Resize the default framebuffer to exactly width × height pixels. */
  resize(width: number, height: number): void;
  /**
   * Read a rectangle of the default framebuffer as RGBA8, rows top-down (or, with `rows: 'bottom-up'`, in GL's
   * own order, for a caller that reverses them in a pass it makes anyway, such as resolvePixels).
   * `x`, `y` are in pixels from the top-left of the framebuffer.
   */
  readPixels(x: number, y: number, width: number, height: number, out?: Uint8Array, rows?: 'top-down' | 'bottom-up'): Uint8Array;
  /** Release the context (and anything the backend started for it). */
  dispose(): void;
}
