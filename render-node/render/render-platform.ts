import type { ImageDecoder } from '../scene/image-decoder.ts';

/**
 * What the shared render pipeline needs from its runtime beyond the GL backend: an image decoder for textures
 * and the renderer identity recorded in cards and outputs. Node: node-render-platform.ts; a browser tab builds
 * its own (web/src/join).
 */
export interface RenderPlatform {
  images: ImageDecoder;
  /** The renderer identity (see renderer-identity.ts): equal identities must give equal bytes. */
  version: string;
  /**
   * Render KHR_materials_transmission (and volume) when the backend is WebGL 2 (default false: dropped with a
   * warning, as on WebGL 1). `tessera render --local --backend chromium` sets it; farm nodes leave it off, since
   * the API does not yet route WebGL 2 scenes to WebGL 2 nodes, and a frame's tiles (and their verification)
   * must come out the same on every node: a /join tab next to headless-gl nodes renders glass opaque as they do.
   */
  transmission?: boolean;
}
