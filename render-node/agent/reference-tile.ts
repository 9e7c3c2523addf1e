import { ViewSpec } from '../../api/protocol/render-spec.ts';
import type { TileRect, ViewSpec as View } from '../../api/protocol/render-spec.ts';
import type { RenderResult } from '../render/frame-renderer.ts';

/** What can measure the reference tile: a FrameRenderer, or a node's backends (its default one renders). */
export interface MeasurableRenderer<S extends { dispose(): void }> {
  loadScene(glb: Uint8Array, limits: { maxTexturePixels: number }): Promise<S>;
  render(scene: S, view: View, frame: number, tile?: TileRect): RenderResult | Promise<RenderResult>;
}

/** The reference tile: 256×256 of the textured sample scene (scenes/textured-pbr.glb) in a 1024×1024 frame, as a task would render it. */
export const REFERENCE_VIEW = ViewSpec.parse({ width: 1024, height: 1024 });
export const REFERENCE_TILE = { x: 384, y: 384, width: 256, height: 256 };

/** Tiles per second on the reference tile of the reference scene `glb` (after one warm-up render), on any runtime. */
export async function measureReferenceTile<S extends { dispose(): void }>(renderer: MeasurableRenderer<S>, glb: Uint8Array, samples = 5): Promise<number> {
  const loaded = await renderer.loadScene(glb, { maxTexturePixels: 64 * 1024 * 1024 });
  try {
    await renderer.render(loaded, REFERENCE_VIEW, 0, REFERENCE_TILE);
    const t0 = performance.now();
    for (let i = 0; i < samples; i++) await renderer.render(loaded, REFERENCE_VIEW, 0, REFERENCE_TILE);
    return Math.round((samples / ((performance.now() - t0) / 1000)) * 10) / 10;
  } finally {
    loaded.dispose();
  }
}
