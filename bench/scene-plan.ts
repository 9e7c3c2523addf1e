import type { FrameSize } from './bench-options.ts';
import type { SceneEntry } from './scene-catalog.ts';
import { readSceneBytes } from './scene-source.ts';
import { VIEW_DEFAULTS, sharedView, type SharedView } from './shared-view.ts';
import { loadScene } from '../render-node/scene/load-scene.ts';
import { sharpImageDecoder } from '../render-node/scene/sharp-image-decoder.ts';

/** Everything the systems share about one scene: the views per size and which animation frames to render. */
export interface ScenePlan {
  scene: SceneEntry;
  /** Views keyed by size label. */
  views: Map<string, SharedView>;
  /** Last frame of the first clip at VIEW_DEFAULTS.fps (0 for a still scene). */
  lastFrame: number;
  fps: number;
  triangles: number | null;
  stats?: Record<string, unknown>;
}

/**
 * Parse the scene once with Tessera's own loader (no GL needed) to fix the camera, light and frame range
 * every system will use. The GLB given to Blender and Chromium is the original file, as a user would give it.
 */
export async function planScene(scene: SceneEntry, sizes: FrameSize[]): Promise<ScenePlan> {
  const source = await readSceneBytes(scene.path);
  const loaded = await loadScene(source.glb, { images: sharpImageDecoder, maxTextureSize: 16384, maxTexturePixels: 1e9 });
  try {
    const fps = VIEW_DEFAULTS.fps;
    const clip = loaded.clips[0];
    const lastFrame = clip ? Math.floor(clip.duration * fps + 1e-9) : 0;
    const views = new Map(sizes.map((s) => [s.label, sharedView(loaded, s.width, s.height)] as const));
    let triangles = 0;
    for (const s of loaded.scenes) {
      s.traverse((o) => {
        const g = (o as { geometry?: { index: { count: number } | null; attributes: { position?: { count: number } } } }).geometry;
        if (g && (o as { isMesh?: boolean }).isMesh) triangles += (g.index ? g.index.count : (g.attributes.position?.count ?? 0)) / 3;
      });
    }
    return { scene, views, lastFrame, fps, triangles: Math.round(triangles), stats: source.stats };
  } finally {
    loaded.dispose();
  }
}
