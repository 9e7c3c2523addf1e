import type { PerspectiveCamera } from 'three';
import { ViewSpec } from '../api/protocol/render-spec.ts';
import { KEY_LIGHT_INTENSITY as TESSERA_KEY_LIGHT_INTENSITY, SceneDirector } from '../render-node/render/scene-director.ts';
import type { LoadedScene } from '../render-node/scene/load-scene.ts';

/**
 * The view every system renders: Tessera's auto camera (yaw 30°, pitch 15°, fov 40°, framing the scene's
 * bounds over the whole first clip) and its camera-relative key light, computed once from Tessera's loaded
 * scene so that Blender and three.js in Chromium get exactly the same camera and light direction.
 * All vectors are in glTF space (Y up).
 */
export interface SharedCamera {
  position: [number, number, number];
  target: [number, number, number];
  fovDeg: number;
  near: number;
  far: number;
}

export interface SharedView {
  width: number;
  height: number;
  camera: SharedCamera;
  /** Direction the key light shines (from light towards the scene), or null when the file has its own lights. */
  keyLight: { direction: [number, number, number] } | null;
}

/** What the bench asks of every system; the ViewSpec input Tessera is given. */
export const VIEW_DEFAULTS = {
  camera: { kind: 'auto', yaw: 30, pitch: 15, fov: 40 },
  toneMapping: 'neutral',
  background: '#808080',
  fps: 24,
  // The baselines (Blender Workbench/EEVEE settings, three.js in Chromium) draw no shadow maps: compare like with like.
  shadows: false,
} as const;

/** Tessera's key light intensity, for the baselines to match. */
export const KEY_LIGHT_INTENSITY = TESSERA_KEY_LIGHT_INTENSITY;

export function tesseraView(width: number, height: number): ViewSpec {
  return ViewSpec.parse({ width, height, ...VIEW_DEFAULTS });
}

/** Background color #808080 in linear light (what Blender's world color wants). */
export function backgroundLinear(): [number, number, number] {
  const c = 0x80 / 255;
  const l = ((c + 0.055) / 1.055) ** 2.4;
  return [l, l, l];
}

/** Frame indices to render: `warmup + timed` frames walking through the first clip (0 for a still scene). */
export function frameSequence(lastFrame: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => (lastFrame > 0 ? i % (lastFrame + 1) : 0));
}

/** Compute the shared view of `loaded` at `width × height`: the camera and key light Tessera itself uses. */
export function sharedView(loaded: LoadedScene, width: number, height: number): SharedView {
  const { camera, target, keyLightDirection } = new SceneDirector().setUp(loaded, tesseraView(width, height), 0);
  const perspective = camera as PerspectiveCamera;
  loaded.restorePose();
  return {
    width,
    height,
    camera: {
      position: camera.position.toArray() as [number, number, number],
      target: target.toArray() as [number, number, number],
      fovDeg: perspective.fov,
      near: perspective.near,
      far: perspective.far,
    },
    keyLight: keyLightDirection ? { direction: keyLightDirection.toArray() as [number, number, number] } : null,
  };
}
