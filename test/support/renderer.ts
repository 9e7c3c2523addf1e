import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ViewSpec, type ViewSpecInput, type TileRect } from '../../api/protocol/render-spec.ts';
import { createHeadlessGLBackend } from '../../render-node/gl/headless-gl-backend.ts';
import { FrameRenderer, type RenderResult } from '../../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../../render-node/render/node-render-platform.ts';
import type { LoadedScene } from '../../render-node/scene/load-scene.ts';
import { readScene } from '../../scene-check/read-scene.ts';

export const SCENES = fileURLToPath(new URL('../../scenes/', import.meta.url));
export const scenePath = (name: string) => join(SCENES, name.includes('.') ? name : `${name}.glb`);

/** One renderer per test file, with scenes read through the real pipeline (readScene → loadScene) and cached. */
export async function createTestRenderer() {
  const renderer = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
  const cache = new Map<string, Promise<LoadedScene>>();
  const load = (name: string) => {
    let p = cache.get(name);
    if (!p) {
      p = readScene({ path: scenePath(name) }).then((r) => renderer.loadScene(r.glb, { maxTexturePixels: 256 * 1024 * 1024 }));
      cache.set(name, p);
    }
    return p;
  };
  return {
    renderer,
    load,
    async render(name: string, view: ViewSpecInput, frame = 0, tile?: TileRect): Promise<RenderResult> {
      return renderer.render(await load(name), ViewSpec.parse(view), frame, tile);
    },
    dispose: () => renderer.dispose(),
  };
}
