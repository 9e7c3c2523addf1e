/**
 * Renders both eyes of a head pose in one pass: one framebuffer twice the eye width, each eye drawn into
 * its half through its own viewport and scissor rectangle (the tiles' scissor approach), then one readback.
 * The scene is posed and lit once per session (`prepare`); each frame only moves the eye cameras.
 */
import { Matrix4, PerspectiveCamera, Vector3, type Scene } from 'three';
import type { EyePose, SessionRender } from '../../api/protocol/session.ts';
import type { ViewSpec } from '../../api/protocol/render-spec.ts';
import type { LoadedScene } from '../scene/load-scene.ts';
import type { FrameRenderer, RawImage } from './frame-renderer.ts';
import { resolvePixels } from './resolve-pixels.ts';

/** Where a session starts looking (the request's camera), for clients to build their first poses from. */
export interface StartView {
  position: [number, number, number];
  target: [number, number, number];
  /** Vertical field of view, degrees. */
  fov: number;
}

export interface StereoFrame extends RawImage {
  renderMs: number;
  readbackMs: number;
}

/** The ViewSpec a session's settings mean for the scene director (lights, environment, clip). */
export function sessionViewSpec(render: SessionRender): ViewSpec {
  return {
    width: render.eye.width * 2,
    height: render.eye.height,
    scene: render.scene,
    camera: render.camera,
    clip: render.clip,
    fps: 24,
    ssaa: 1,
    toneMapping: render.toneMapping,
    exposure: render.exposure,
    background: render.background,
    environmentIntensity: render.environmentIntensity,
    keyLight: render.keyLight,
    projection: 'perspective',
    ipd: 0.064,
    // Shadow maps cost a pass per light per eye: not in a headset's frame budget (sessions do not offer them yet).
    shadows: false,
    ground: 'none',
  };
}

export class StereoRenderer {
  readonly #frames: FrameRenderer;
  readonly #render: SessionRender;
  readonly #scene: Scene;
  readonly #view: ViewSpec;
  readonly start: StartView;
  readonly #eyes = [new PerspectiveCamera(), new PerspectiveCamera()];
  readonly #m = new Matrix4();
  #scratch = new Uint8Array(0);

  /** Pose and light `loaded` for the session (frame 0 of its clip) and remember its start view. */
  constructor(frames: FrameRenderer, loaded: LoadedScene, render: SessionRender) {
    this.#frames = frames;
    this.#render = render;
    const view = sessionViewSpec(render);
    // setUp checks the scene index and clip, poses the scene, places the key light, and applies the background settings below.
    const { scene, camera, target } = frames.director.setUp(loaded, view, 0, render.eye.width / render.eye.height);
    this.#scene = scene;
    this.#view = view;
    const p = camera.getWorldPosition(new Vector3());
    this.start = { position: [p.x, p.y, p.z], target: [target.x, target.y, target.z], fov: (camera as PerspectiveCamera).fov ?? 40 };
    for (const eye of this.#eyes) eye.matrixAutoUpdate = true;
  }

  /** Render one or two eyes side by side; straight-alpha RGBA rows top-down, eyes × width by height. */
  render(eyes: readonly EyePose[]): StereoFrame {
    const { width: ew, height: eh } = this.#render.eye;
    const w = ew * eyes.length;
    const r = this.#frames.renderer;
    const backend = this.#frames.backend;
    const t0 = performance.now();
    this.#frames.prepareScene(this.#scene, this.#view);
    backend.resize(w, eh);
    r.setSize(w, eh, false);
    r.setScissorTest(true);
    for (let i = 0; i < eyes.length; i++) {
      const cam = this.#eyes[i];
      // The camera's world matrix is the inverse of the view matrix; three derives the view from it.
      this.#m.fromArray(eyes[i].view).invert();
      this.#m.decompose(cam.position, cam.quaternion, cam.scale);
      cam.updateMatrixWorld(true);
      cam.projectionMatrix.fromArray(eyes[i].projection);
      cam.projectionMatrixInverse.copy(cam.projectionMatrix).invert();
      // GL origin is bottom-left; both eyes span the full height.
      r.setViewport(i * ew, 0, ew, eh);
      r.setScissor(i * ew, 0, ew, eh);
      r.render(this.#scene, cam);
    }
    const gl = backend.context;
    gl.finish();
    const t1 = performance.now();
    const n = w * eh * 4;
    if (this.#scratch.length < n) this.#scratch = new Uint8Array(n);
    const raw = backend.readPixels(0, 0, w, eh, this.#scratch);
    const data = resolvePixels(raw, w, eh, 1, new Uint8Array(n));
    const t2 = performance.now();
    return { data, width: w, height: eh, renderMs: t1 - t0, readbackMs: t2 - t1 };
  }
}

