import { AnimationMixer, Box3, LoopOnce, Vector3, type Mesh, type PerspectiveCamera, type Scene } from 'three';
import { ViewSpec } from '../api/protocol/render-spec.ts';
import { boundsSphere, createCamera } from '../render-node/render/camera-rig.ts';
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
} as const;

/** Tessera's key light (render-node/render/frame-renderer.ts): intensity and camera-space offset. */
export const KEY_LIGHT_INTENSITY = 1.5;
const KEY_LIGHT_OFFSET = new Vector3(1, 1.6, 0.8);
/** Samples of the clip used to frame animated scenes (AUTO_BOUNDS_SAMPLES in frame-renderer.ts). */
const AUTO_BOUNDS_SAMPLES = 16;

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

/** Compute the shared view of `loaded` at `width × height`; leaves the scene in its rest pose. */
export function sharedView(loaded: LoadedScene, width: number, height: number): SharedView {
  const view = tesseraView(width, height);
  const scene = loaded.scenes[Math.min(loaded.defaultScene, loaded.scenes.length - 1)];
  const bounds = clipBounds(loaded, scene);
  const camera = createCamera(loaded, view.camera, width / height, bounds) as PerspectiveCamera;
  const center = boundsSphere(bounds).center;
  const offset = KEY_LIGHT_OFFSET.clone().normalize().transformDirection(camera.matrixWorld);
  return {
    width,
    height,
    camera: {
      position: camera.position.toArray() as [number, number, number],
      target: center.toArray() as [number, number, number],
      fovDeg: camera.fov,
      near: camera.near,
      far: camera.far,
    },
    keyLight: loaded.hasPunctualLights ? null : { direction: offset.negate().toArray() as [number, number, number] },
  };
}

/** Union of the visible mesh bounds over the first clip, as Tessera frames auto cameras. */
function clipBounds(loaded: LoadedScene, scene: Scene): Box3 {
  const box = new Box3();
  const clip = loaded.clips[0];
  if (!clip) {
    loaded.restorePose();
    return box.union(meshBounds(scene));
  }
  const mixer = new AnimationMixer(scene);
  const action = mixer.clipAction(clip);
  action.setLoop(LoopOnce, 1);
  action.clampWhenFinished = true;
  for (let i = 0; i <= AUTO_BOUNDS_SAMPLES; i++) {
    loaded.restorePose();
    action.reset();
    action.play();
    mixer.setTime((clip.duration * i) / AUTO_BOUNDS_SAMPLES);
    box.union(meshBounds(scene));
  }
  mixer.stopAllAction();
  mixer.uncacheRoot(scene);
  loaded.restorePose();
  scene.updateMatrixWorld(true);
  return box;
}

function meshBounds(scene: Scene): Box3 {
  const box = new Box3();
  const part = new Box3();
  scene.updateMatrixWorld(true);
  scene.traverseVisible((o) => {
    const mesh = o as Mesh;
    if (!mesh.geometry || (o as { isLight?: boolean }).isLight || o.name === 'tessera.key-light') return;
    if (!mesh.geometry.boundingBox) mesh.geometry.computeBoundingBox();
    part.copy(mesh.geometry.boundingBox!).applyMatrix4(o.matrixWorld);
    if (part.min.toArray().every(Number.isFinite) && part.max.toArray().every(Number.isFinite)) box.union(part);
  });
  return box;
}
