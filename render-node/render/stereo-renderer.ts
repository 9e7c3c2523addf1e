/**
 * Renders both eyes of a head pose in one pass: one framebuffer twice the eye width, each eye drawn into
 * its half through its own viewport and scissor rectangle (the tiles' scissor approach), then one readback.
 * The scene is posed and lit once per session (`prepare`); each frame only moves the eye cameras.
 */
import { Color, Matrix4, PerspectiveCamera, Vector3, type Scene, type ShaderMaterial } from 'three';
import type { EyePose, SessionRender } from '../../api/protocol/session.ts';
import type { ViewSpec } from '../../api/protocol/render-spec.ts';
import type { LoadedScene } from '../scene/load-scene.ts';
import type { FrameRenderer, RawImage } from './frame-renderer.ts';
import { BakedBackground } from './baked-background.ts';
import { DepthTestedBackground } from './depth-tested-background.ts';
import { createLinearDepthMaterial } from './linear-depth-material.ts';
import { resolvePixels } from './resolve-pixels.ts';
import { SHADOW_DEFAULTS, type ShadowOptions } from './shadow-rig.ts';

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
  /**
   * With `depth` on: the depth pass's framebuffer pixels, RGBA8 rows top-down like `data`, R·256 + G = linear eye
   * depth in millimetres (see api/protocol/session-depth.ts); B 0, A 255. Null without.
   */
  depth: Uint8Array | null;
  /** Time of the depth pass and its readback (ms; also counted in renderMs/readbackMs). */
  depthMs: number;
}

export interface StereoRendererOptions {
  /**
   * Draw the environment background after the opaque surfaces, depth-tested (DepthTestedBackground): the same
   * pixels, without shading the background under the scene (~⅓ of a frame's CPU on llvmpipe for the textured sample).
   */
  depthTestedBackground?: boolean;
}

export const STEREO_RENDERER_DEFAULTS: Required<StereoRendererOptions> = { depthTestedBackground: true };

/**
 * Shadow maps for a session's look. `full`: as batch renders (2048², PCF soft). `fast`: the same filter on maps about
 * one texel per eye pixel (the eye's larger edge rounded up to a power of two, 512 to 2048): on llvmpipe a 2048² map's
 * 16 lookups per pixel miss the cache at every pixel (~9 ms of a 2×512² frame of the textured sample; 512²: ~4 ms).
 */
export function sessionShadowOptions(render: Pick<SessionRender, 'eye' | 'fidelity'>): ShadowOptions {
  if (render.fidelity !== 'fast') return SHADOW_DEFAULTS;
  const edge = Math.max(render.eye.width, render.eye.height);
  const mapSize = Math.min(SHADOW_DEFAULTS.mapSize, Math.max(512, 2 ** Math.ceil(Math.log2(edge))));
  return { ...SHADOW_DEFAULTS, mapSize, pointMapSize: Math.min(SHADOW_DEFAULTS.pointMapSize, mapSize / 2) };
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
    // Shadow maps as in batch renders: the key light stays where the request's camera put it and each shadow
    // camera is fitted to the scene's bounds (not to the view), so shadows hold still while the head moves; the
    // scene does not change during a session, so the maps are drawn on the first frame only (StereoRenderer).
    shadows: render.shadows,
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
  #depthMaterial: ShaderMaterial | null = null;
  /**
   * The environment background, drawn after the opaque surfaces: three's shader (`full`), or a cube of its colours
   * baked on the first frame (`fast`); null: three's own, drawn under everything.
   */
  readonly #background: DepthTestedBackground | BakedBackground | null;
  /** Shadow maps are drawn (on the first frame) and then reused: the posed scene and its lights do not move. */
  #shadowsDrawn = false;
  /** Eyes the last drawColour drew. */
  #drawn = 2;
  readonly #clear = new Color();
  static readonly #FAR = new Color(1, 1, 0);

  /** Pose and light `loaded` for the session (frame 0 of its clip) and remember its start view. */
  constructor(frames: FrameRenderer, loaded: LoadedScene, render: SessionRender, options: StereoRendererOptions = {}) {
    this.#frames = frames;
    this.#background =
      render.fidelity === 'fast'
        ? new BakedBackground({ faceSize: Math.min(512, Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(render.eye.width, render.eye.height) / 2)))) })
        : { ...STEREO_RENDERER_DEFAULTS, ...options }.depthTestedBackground
          ? new DepthTestedBackground()
          : null;
    this.#render = render;
    const view = sessionViewSpec(render);
    // setUp checks the scene index and clip, poses the scene, places the key light (and fits its shadow map to the
    // look's size), and applies the background settings below.
    const { scene, camera, target } = frames.director.setUp(loaded, view, 0, render.eye.width / render.eye.height, sessionShadowOptions(render));
    this.#scene = scene;
    this.#view = view;
    const p = camera.getWorldPosition(new Vector3());
    this.start = { position: [p.x, p.y, p.z], target: [target.x, target.y, target.z], fov: (camera as PerspectiveCamera).fov ?? 40 };
    for (const eye of this.#eyes) eye.matrixAutoUpdate = true;
  }

  /**
   * Render one or two eyes side by side; straight-alpha RGBA rows top-down, eyes × width by height, into `out` when
   * it is exactly that size (the caller's buffer: read back and resolved in place, no per-frame allocation).
   */
  render(eyes: readonly EyePose[], out?: Uint8Array): StereoFrame {
    const { width: w, height: eh, ms } = this.drawColour(eyes);
    const t1 = performance.now();
    const data = this.readColour(out);
    const t2 = performance.now();
    const depth = this.#render.depth ? this.drawDepth(eyes.length) : null;
    const t3 = performance.now();
    return { data, width: w, height: eh, renderMs: ms + (t3 - t2), readbackMs: t2 - t1, depth, depthMs: t3 - t2 };
  }

  /**
   * Draw both eyes' colour into the framebuffer (eyes × eye width by eye height) and wait for GL to finish; nothing is
   * read back. A page can then encode the canvas itself (the Chromium backend's sessions) or `readColour` it.
   */
  drawColour(eyes: readonly EyePose[]): { width: number; height: number; ms: number } {
    const { width: ew, height: eh } = this.#render.eye;
    const w = ew * eyes.length;
    const r = this.#frames.renderer;
    const backend = this.#frames.backend;
    const t0 = performance.now();
    this.#frames.prepareScene(this.#scene, this.#view);
    if (this.#background instanceof BakedBackground && !this.#background.baked && DepthTestedBackground.handles(this.#scene)) this.#background.bake(this.#frames, this.#scene);
    r.shadowMap.needsUpdate = !this.#shadowsDrawn;
    this.#shadowsDrawn = true;
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
    }
    this.#drawn = eyes.length;
    if (this.#background) this.#background.around(this.#scene, () => this.#drawEyes(eyes.length));
    else this.#drawEyes(eyes.length);
    backend.context.finish();
    return { width: w, height: eh, ms: performance.now() - t0 };
  }

  /** Read back what `drawColour` drew: straight-alpha RGBA rows top-down, into `out` when it is exactly that size. */
  readColour(out?: Uint8Array): Uint8Array {
    const { width: ew, height: eh } = this.#render.eye;
    const w = ew * this.#drawn;
    const n = w * eh * 4;
    // Read straight into the frame's buffer and un-premultiply in place (resolvePixels allows it at ssaa 1).
    const data: Uint8Array = out?.length === n ? out : new Uint8Array(n);
    resolvePixels(this.#frames.backend.readPixels(0, 0, w, eh, data), w, eh, 1, data as Uint8Array<ArrayBuffer>);
    return data;
  }

  /**
   * The depth pass over the eyes `drawColour` last posed (it replaces the colour in the framebuffer): read back as
   * RGBA8 rows top-down, or left in the framebuffer (`readBack: false`) for a page to encode.
   */
  drawDepth(count: number, readBack = true): Uint8Array | null {
    const { width: ew, height: eh } = this.#render.eye;
    return this.#depthPass(count, ew * count, eh, readBack);
  }

  /** Draw the scene once per eye into its half of the framebuffer (viewport and scissor per eye). */
  #drawEyes(count: number): void {
    const { width: ew, height: eh } = this.#render.eye;
    const r = this.#frames.renderer;
    for (let i = 0; i < count; i++) {
      // GL origin is bottom-left; both eyes span the full height.
      r.setViewport(i * ew, 0, ew, eh);
      r.setScissor(i * ew, 0, ew, eh);
      r.render(this.#scene, this.#eyes[i]);
    }
  }

  /**
   * The same eyes again with every surface drawn by the linear-depth material over a "far" clear (R = G = 255:
   * 65535 mm), no background, no shadow-map update; read back as RGBA8 rows top-down.
   */
  #depthPass(count: number, w: number, h: number, readBack: boolean): Uint8Array | null {
    const r = this.#frames.renderer;
    const scene = this.#scene;
    this.#depthMaterial ??= createLinearDepthMaterial();
    const background = scene.background;
    const clearAlpha = r.getClearAlpha();
    r.getClearColor(this.#clear);
    scene.background = null;
    scene.overrideMaterial = this.#depthMaterial;
    r.setClearColor(StereoRenderer.#FAR, 1);
    r.shadowMap.needsUpdate = false;
    try {
      this.#drawEyes(count);
      this.#frames.backend.context.finish();
      return readBack ? this.#frames.backend.readPixels(0, 0, w, h, new Uint8Array(w * h * 4)) : null;
    } finally {
      scene.overrideMaterial = null;
      scene.background = background;
      r.setClearColor(this.#clear, clearAlpha);
    }
  }
}

