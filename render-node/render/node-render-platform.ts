import { sharpImageDecoder } from '../scene/sharp-image-decoder.ts';
import { RENDERER_VERSION } from '../version.ts';
import type { RenderPlatform } from './render-platform.ts';

/** The render platform on Node: textures decoded with sharp, the identity of the installed three, gl and sharp. */
export const NODE_RENDER_PLATFORM: RenderPlatform = { images: sharpImageDecoder, version: RENDERER_VERSION };
