import type { SceneLimits, TileRect, ViewSpec } from '../../api/protocol/render-spec.ts';
import type { GLBackendInfo } from '../gl/gl-backend.ts';
import type { LoadedScene } from '../scene/load-scene.ts';
import type { FrameRenderer, RenderResult } from './frame-renderer.ts';

/** A scene loaded into a SceneRenderer: what the caller may read of it. */
export interface SceneHandle {
  /** What the renderer could not reproduce exactly in this scene. */
  readonly warnings: string[];
}

/**
 * The render pipeline as `tessera render --local` drives it, wherever it runs: in this process on headless-gl
 * (frameRendererScenes) or in headless Chromium on WebGL 2 (render-node/chromium/chromium-render-host.ts).
 * Asynchronous, since the Chromium one crosses a process boundary on every call.
 */
export interface SceneRenderer {
  /** The renderer identity (cards, output metadata): it names the backend. */
  readonly version: string;
  readonly info: GLBackendInfo;
  load(glb: Uint8Array, limits: Pick<SceneLimits, 'maxTexturePixels'>): Promise<SceneHandle>;
  lastFrame(scene: SceneHandle, view: ViewSpec): Promise<number>;
  /** Check the scene index, clip and frame without rendering; throws the documented errors. */
  plan(scene: SceneHandle, view: ViewSpec, frame: number): Promise<void>;
  render(scene: SceneHandle, view: ViewSpec, frame: number, tile?: TileRect): Promise<RenderResult>;
  dispose(): Promise<void>;
}

/** A FrameRenderer in this process as a SceneRenderer. */
export function frameRendererScenes(renderer: FrameRenderer): SceneRenderer {
  return {
    version: renderer.version,
    info: renderer.backend.info,
    load: (glb, limits) => renderer.loadScene(glb, limits),
    lastFrame: async (scene, view) => renderer.lastFrame(scene as LoadedScene, view),
    plan: async (scene, view, frame) => void renderer.plan(scene as LoadedScene, view, frame),
    render: async (scene, view, frame, tile) => renderer.render(scene as LoadedScene, view, frame, tile),
    dispose: async () => renderer.dispose(),
  };
}
