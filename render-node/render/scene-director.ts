import { AnimationMixer, Box3, DirectionalLight, LoopOnce, Vector3, type AnimationClip, type Camera, type InstancedMesh, type Light, type Material, type Mesh, type Scene, type SkinnedMesh } from 'three';
import { TesseraError } from '../../api/protocol/errors.ts';
import type { ViewSpec } from '../../api/protocol/render-spec.ts';
import type { LoadedScene } from '../scene/load-scene.ts';
import { boundsSphere, createCamera } from './camera-rig.ts';
import { GROUND_NAME, SHADOW_DEFAULTS, createGround, enableMeshShadows, fitShadow, placeGround, sceneLights, type ShadowOptions } from './shadow-rig.ts';

/** The frame time of `frame` and the clip it samples, after checking both against the scene. */
export interface FramePlan {
  sceneIndex: number;
  clips: AnimationClip[];
  time: number;
  duration: number;
}

const AUTO_BOUNDS_SAMPLES = 16;
/** The key light's intensity (a directional light, in three's physical units). */
export const KEY_LIGHT_INTENSITY = 1.2;
/** Key light offset in camera space: up and to the right of the viewer. */
const KEY_LIGHT_OFFSET = new Vector3(1, 1.6, 0.8);

interface SceneState {
  mixers: Map<string, { mixer: AnimationMixer; clips: AnimationClip[] }>;
  autoBounds: Map<string, Box3>;
  keyLight: DirectionalLight;
  /** The ShadowMaterial plane of `ground: 'shadow'`. */
  ground: Mesh;
  /** The glTF punctual lights of this scene. */
  lights: Light[];
  envIntensity: number;
}

/**
 * Everything about a frame except the GL work: which glTF scene and clip, the pose at the frame's time, the
 * camera and the lights. Deterministic, and shared by the renderer and by anything that must see exactly what
 * the renderer sees (the benchmark's baselines).
 */
export class SceneDirector {
  private readonly states = new WeakMap<Scene, SceneState>();

  /** Check the scene index, clip and frame of a request without rendering; throws the documented errors. */
  plan(loaded: LoadedScene, view: ViewSpec, frame: number): FramePlan {
    const sceneIndex = resolveSceneIndex(loaded, view.scene);
    const clips = resolveClips(loaded, view.clip);
    const duration = clips.reduce((d, c) => Math.max(d, c.duration), 0);
    const time = frame / view.fps;
    const last = Math.floor(duration * view.fps + 1e-9);
    if (!Number.isInteger(frame) || frame < 0 || frame > last) {
      const what = clips.length ? `clip ${clips.map((c) => `"${c.name}"`).join('+')} lasts ${duration.toFixed(3)} s` : 'the scene has no animation';
      throw new TesseraError('FRAME_OUT_OF_RANGE', `Frame ${frame} is outside the animation: ${what}, so at ${view.fps} fps the frames are 0–${last}.`);
    }
    return { sceneIndex, clips, time, duration };
  }

  /** The last frame number of the selected clip at the view's fps (0 for a still scene). */
  lastFrame(loaded: LoadedScene, view: ViewSpec): number {
    const clips = resolveClips(loaded, view.clip);
    const duration = clips.reduce((d, c) => Math.max(d, c.duration), 0);
    return Math.floor(duration * view.fps + 1e-9);
  }

  /**
   * Pose the scene for `frame` and place the camera and lights; returns what to render. `aspect` is the camera's
   * (default: the frame's; one eye's for stereo). `shadowOptions`: shadow map sizes and filtering (sessions' `fast`
   * look uses smaller maps).
   */
  setUp(
    loaded: LoadedScene,
    view: ViewSpec,
    frame: number,
    aspect = view.width / view.height,
    shadowOptions: ShadowOptions = SHADOW_DEFAULTS,
  ): { scene: Scene; camera: Camera; target: Vector3; keyLightDirection: Vector3 | null; bounds: Box3 } {
    const plan = this.plan(loaded, view, frame);
    const scene = loaded.scenes[plan.sceneIndex];
    const state = this.stateFor(scene);
    this.pose(loaded, scene, state, plan);
    const bounds = this.framingBounds(loaded, scene, state, view, plan);
    const camera = createCamera(loaded, view.camera, aspect, bounds);
    this.light(loaded, scene, state, view, camera, bounds, shadowOptions);
    const target = camera.getWorldDirection(new Vector3()).multiplyScalar(camera.position.distanceTo(boundsSphere(bounds).center)).add(camera.position);
    const key = state.keyLight;
    const keyLightDirection = key.visible ? key.target.position.clone().sub(key.position).normalize() : null;
    return { scene, camera, target, keyLightDirection, bounds };
  }

  private stateFor(scene: Scene): SceneState {
    let state = this.states.get(scene);
    if (!state) {
      const keyLight = new DirectionalLight(0xffffff, KEY_LIGHT_INTENSITY);
      keyLight.name = 'tessera.key-light';
      scene.add(keyLight, keyLight.target);
      enableMeshShadows(scene);
      const ground = createGround();
      scene.add(ground);
      state = { mixers: new Map(), autoBounds: new Map(), keyLight, ground, lights: sceneLights(scene, keyLight), envIntensity: 1 };
      this.states.set(scene, state);
    }
    return state;
  }

  /** Put the scene in the pose of `plan.time`: rest pose, then every selected clip sampled at that time. */
  private pose(loaded: LoadedScene, scene: Scene, state: SceneState, plan: FramePlan): void {
    loaded.restorePose();
    if (plan.clips.length) {
      const key = plan.clips.map((c) => c.uuid).join(',');
      let entry = state.mixers.get(key);
      if (!entry) {
        const mixer = new AnimationMixer(scene);
        for (const clip of plan.clips) {
          const action = mixer.clipAction(clip);
          action.setLoop(LoopOnce, 1);
          action.clampWhenFinished = true;
          action.play();
        }
        entry = { mixer, clips: plan.clips };
        state.mixers.set(key, entry);
      }
      for (const clip of entry.clips) {
        const action = entry.mixer.existingAction(clip)!;
        action.reset();
        action.play();
      }
      // A PropertyMixer writes to the scene only when its value differs from the last one it wrote; the rest
      // pose was just restored behind its back, so forget what it wrote (r162 layout: [incoming|accu0|accu1|…]).
      for (const binding of (entry.mixer as unknown as { _bindings: { buffer: Float64Array; valueSize: number }[] })._bindings) {
        binding.buffer.fill(NaN, binding.valueSize, 3 * binding.valueSize);
      }
      entry.mixer.setTime(plan.time);
    }
    loaded.updateMorphs();
    scene.updateMatrixWorld(true);
  }

  /** Bounds that frame the camera: for auto cameras the union over the whole clip, so the camera holds still. */
  private framingBounds(loaded: LoadedScene, scene: Scene, state: SceneState, view: ViewSpec, plan: FramePlan): Box3 {
    if (view.camera.kind === 'gltf' && !plan.clips.length) return new Box3().setFromObject(scene);
    const key = plan.clips.map((c) => c.uuid).join(',');
    let box = state.autoBounds.get(key);
    if (!box) {
      box = new Box3();
      const samples = plan.clips.length ? AUTO_BOUNDS_SAMPLES : 0;
      for (let i = 0; i <= samples; i++) {
        if (samples) this.pose(loaded, scene, state, { ...plan, time: (plan.duration * i) / samples });
        box.union(meshBounds(scene));
      }
      if (samples) this.pose(loaded, scene, state, plan);
      state.autoBounds.set(key, box);
    }
    return box;
  }

  private light(loaded: LoadedScene, scene: Scene, state: SceneState, view: ViewSpec, camera: Camera, bounds: Box3, shadowOptions: ShadowOptions): void {
    const wantKey = view.keyLight === 'auto' ? !loaded.hasPunctualLights : view.keyLight;
    state.keyLight.visible = wantKey;
    if (wantKey) {
      const sphere = boundsSphere(bounds);
      const offset = KEY_LIGHT_OFFSET.clone().normalize().transformDirection(camera.matrixWorld);
      state.keyLight.position.copy(sphere.center).addScaledVector(offset, sphere.radius * 4);
      state.keyLight.target.position.copy(sphere.center);
      state.keyLight.updateMatrixWorld(true);
      state.keyLight.target.updateMatrixWorld(true);
    }
    // Shadow cameras fit the framing bounds (for an auto camera: the whole clip), so they hold still in an animation.
    const radius = boundsSphere(bounds).radius;
    state.ground.visible = view.ground === 'shadow' && !bounds.isEmpty();
    if (state.ground.visible) placeGround(state.ground, bounds, radius);
    const shadowBounds = state.ground.visible ? bounds.clone().expandByPoint(state.ground.position) : bounds;
    for (const light of [state.keyLight, ...state.lights]) {
      if (view.shadows && light.visible) fitShadow(light, shadowBounds, radius, shadowOptions);
      else light.castShadow = false;
    }
    if (state.envIntensity !== view.environmentIntensity) {
      state.envIntensity = view.environmentIntensity;
      scene.traverse((o) => {
        const mesh = o as Mesh;
        const mats = Array.isArray(mesh.material) ? mesh.material : mesh.material ? [mesh.material] : [];
        for (const m of mats as (Material & { envMapIntensity?: number })[]) if (m.envMapIntensity !== undefined) m.envMapIntensity = view.environmentIntensity;
      });
    }
  }
}

/**
 * Bounds of the visible geometry only (lights and cameras carry no size). An InstancedMesh (EXT_mesh_gpu_instancing)
 * counts every instance: its own bounding box spans them all, its geometry's only the mesh at the node's origin.
 */
function meshBounds(scene: Scene): Box3 {
  const box = new Box3();
  const part = new Box3();
  scene.updateMatrixWorld(true);
  scene.traverseVisible((o) => {
    const mesh = o as Mesh;
    if (!mesh.geometry || (o as any).isLight || o.name === 'tessera.key-light' || o.name === GROUND_NAME) return;
    const instanced = o as InstancedMesh;
    if (instanced.isInstancedMesh) {
      instanced.computeBoundingBox(); // instance matrices may have changed since the last frame
      part.copy(instanced.boundingBox!);
    } else if ((o as SkinnedMesh).isSkinnedMesh) {
      posedSkinBounds(o as SkinnedMesh, part);
    } else {
      if (!mesh.geometry.boundingBox) mesh.geometry.computeBoundingBox();
      part.copy(mesh.geometry.boundingBox!);
    }
    part.applyMatrix4(o.matrixWorld);
    if (part.min.toArray().every(Number.isFinite) && part.max.toArray().every(Number.isFinite)) box.union(part);
  });
  return box;
}

/** Vertices a skinned mesh's posed bounds are taken from, at most (evenly spread; the camera's framing has margin). */
const SKINNED_BOUNDS_VERTICES = 20_000;
const _vertex = new Vector3();

/**
 * A skinned mesh's bounds as its skeleton poses it now, in the mesh's local space. Its geometry's bounds are the
 * bind pose's, which can lie anywhere: Z-up models stood up by their root joint (CesiumMan, BrainStem) were framed
 * lying down, their top half cut off.
 */
function posedSkinBounds(mesh: SkinnedMesh, target: Box3): Box3 {
  target.makeEmpty();
  const count = mesh.geometry.getAttribute('position')?.count ?? 0;
  const step = Math.max(1, Math.ceil(count / SKINNED_BOUNDS_VERTICES));
  for (let i = 0; i < count; i += step) target.expandByPoint(mesh.getVertexPosition(i, _vertex));
  return target;
}

function resolveSceneIndex(loaded: LoadedScene, scene: ViewSpec['scene']): number {
  if (scene === undefined) return Math.min(loaded.defaultScene, loaded.scenes.length - 1);
  const index = typeof scene === 'number' ? scene : loaded.sceneNames.indexOf(scene);
  if (index < 0 || index >= loaded.scenes.length) {
    const names = loaded.sceneNames.map((n, i) => (n ? `${i} "${n}"` : `${i}`)).join(', ');
    throw new TesseraError('SCENE_INDEX_NOT_FOUND', `The file has no scene ${typeof scene === 'number' ? scene : `named "${scene}"`}; its scenes are: ${names}.`);
  }
  return index;
}

function resolveClips(loaded: LoadedScene, clip: ViewSpec['clip']): AnimationClip[] {
  const clips = loaded.clips;
  if (clip === 'none') return [];
  if (clip === 'all') return clips;
  if (clip === undefined) return clips.length ? [clips[0]] : [];
  const found = typeof clip === 'number' ? clips[clip] : clips.find((c) => c.name === clip);
  if (!found) {
    const names = clips.map((c, i) => (c.name ? `${i} "${c.name}"` : `${i}`)).join(', ');
    throw new TesseraError('CLIP_NOT_FOUND', `The scene has no animation ${typeof clip === 'number' ? clip : `named "${clip}"`}; its clips are: ${names || '(none)'}.`);
  }
  return [found];
}
