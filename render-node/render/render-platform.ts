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
}
