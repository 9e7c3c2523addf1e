import { ACESFilmicToneMapping, Box3, Color, Matrix4, NeutralToneMapping, PerspectiveCamera, NoToneMapping, Quaternion, SRGBColorSpace, Vector3, WebGLRenderer, type Camera, type Scene, type Texture } from 'three';
import { projectionSizeProblem } from '../../api/protocol/projection.ts';
import { TesseraError } from '../../api/protocol/errors.ts';
import type { TileRect, ViewSpec } from '../../api/protocol/render-spec.ts';
import type { GLBackend } from '../gl/gl-backend.ts';
import { loadScene, type LoadedScene } from '../scene/load-scene.ts';
import type { RenderPlatform } from './render-platform.ts';
import { resolvePixels } from './resolve-pixels.ts';
import { SceneDirector, type FramePlan } from './scene-director.ts';
import { createStudioEnvironment } from './studio-environment.ts';
import { setupThree } from './three-setup.ts';
import { softShadowMapType } from './three-compat.ts';
import { tileFits } from '../../api/protocol/tile-grid.ts';
import { boundsSphere } from './camera-rig.ts';
import { panoramaFrame, sourceCamera } from './source-camera.ts';
import { cubePanes, equirectFaces, intersect, majorFace, odsSourcesFor, type SourceView } from './projection-sources.ts';
import { resampleRect, sourceSampler, type SourceImage, type SourceSampler } from './panorama-resample.ts';

/** Where the time of one render went, in milliseconds. */
export interface RenderTimings {
  pose: number;
  render: number;
  readback: number;
  resolve: number;
}

/** Straight-alpha sRGB RGBA8 pixels, rows top-down. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export { KEY_LIGHT_INTENSITY, type FramePlan } from './scene-director.ts';

export interface RenderResult extends RawImage {
  timings: RenderTimings;
}

const TONE_MAPPING = { aces: ACESFilmicToneMapping, neutral: NeutralToneMapping, none: NoToneMapping } as const;

/**
 * Renders frames and tiles of loaded glTF scenes on one GL backend. A tile is the scissored part of a
 * full-size framebuffer, so stitched tiles equal the whole frame pixel for pixel.
 */
export class FrameRenderer {
  readonly backend: GLBackend;
  readonly renderer: WebGLRenderer;
  /** The renderer identity (cards, output metadata): the platform's. */
  readonly version: string;
  private readonly platform: RenderPlatform;
  private readonly environment: Texture;
  /** Poses scenes and places cameras and lights; no GL. */
  readonly director = new SceneDirector();
  private readonly environments = new WeakSet<Scene>();
  private scratch = new Uint8Array(0);

  /** `platform`: the runtime's image decoder and identity (NODE_RENDER_PLATFORM on Node). */
  constructor(backend: GLBackend, platform: RenderPlatform) {
    setupThree();
    this.backend = backend;
    this.platform = platform;
    this.version = platform.version;
    this.renderer = new WebGLRenderer({
      canvas: backend.canvas,
      context: backend.context as unknown as WebGLRenderingContext,
      antialias: false,
      alpha: true,
      premultipliedAlpha: true,
      preserveDrawingBuffer: true,
      precision: 'highp',
    });
    this.renderer.setPixelRatio(1);
    this.renderer.outputColorSpace = SRGBColorSpace;
    this.renderer.shadowMap.type = softShadowMapType();
    // Shadow maps are drawn once per render() (prepare sets needsUpdate), not once per draw: a panorama or a
    // stereo pair draws many views of the same posed scene, and the maps depend on the lights, not the view.
    this.renderer.shadowMap.autoUpdate = false;
    this.environment = createStudioEnvironment();
  }

  /** Parse a normalized GLB into a scene for this renderer. */
  loadScene(glb: Uint8Array, limits: { maxTexturePixels: number }): Promise<LoadedScene> {
    return loadScene(glb, { images: this.platform.images, maxTextureSize: this.backend.info.maxTextureSize, maxTexturePixels: limits.maxTexturePixels, webgl2: this.backend.info.webgl2 && this.platform.transmission === true, morphTextures: this.backend.info.webgl2 });
  }

  /** Check the scene index, clip and frame of a request without rendering; throws the documented errors. */
  plan(loaded: LoadedScene, view: ViewSpec, frame: number): FramePlan {
    return this.director.plan(loaded, view, frame);
  }

  /** The last frame number of the selected clip at the view's fps (0 for a still scene). */
  lastFrame(loaded: LoadedScene, view: ViewSpec): number {
    return this.director.lastFrame(loaded, view);
  }

  /** Render `tile` (default: the whole frame) of frame `frame` of `loaded` as seen by `view`. */
  render(loaded: LoadedScene, view: ViewSpec, frame: number, tile?: TileRect): RenderResult {
    const { width, height, ssaa } = view;
    const projection = view.projection ?? 'perspective';
    const rect = tile ?? { x: 0, y: 0, width, height };
    if (!tileFits(rect, width, height)) {
      throw new TesseraError('BAD_SPEC', `Tile ${rect.width}×${rect.height} at ${rect.x},${rect.y} lies outside the ${width}×${height} frame.`);
    }
    const problem = projectionSizeProblem(projection, width, height, ssaa);
    if (problem) throw new TesseraError('BAD_SPEC', `Cannot render ${projection}: ${problem}.`);
    const t0 = performance.now();
    const aspect = projection === 'stereo' ? width / 2 / height : projection === 'perspective' ? width / height : 1;
    if (view.pose && projection !== 'perspective') throw new TesseraError('BAD_SPEC', 'A session pose is drawn in the perspective projection only.');
    const posed = this.director.setUp(loaded, view, frame, aspect);
    const { scene, bounds } = posed;
    const camera = view.pose ? poseCamera(view.pose) : posed.camera;
    if (!this.environments.has(scene)) {
      this.environments.add(scene);
      scene.environment = this.environment;
    }
    this.prepare(view, scene);
    const timings: RenderTimings = { pose: performance.now() - t0, render: 0, readback: 0, resolve: 0 };
    const data = new Uint8Array(rect.width * rect.height * 4);
    const context = { scene, frame, timings, ssaa };
    if (projection === 'perspective' || projection === 'stereo' || projection === 'cube') {
      for (const pane of this.panes(view, camera, bounds)) {
        const part = intersect(pane.rect, rect);
        if (!part) continue;
        // The pane's own pixels, mirrored for GL cube faces; the framebuffer is always the whole pane.
        const local = { x: part.x - pane.rect.x, y: part.y - pane.rect.y, width: part.width, height: part.height };
        if (pane.mirrored) local.x = pane.rect.width - local.x - local.width;
        // Read back in GL's row order: resolvePixels reverses the rows in its own pass (no separate flip).
        const raw = this.draw(context, pane.camera, pane.rect.width * ssaa, pane.rect.height * ssaa, { x: local.x * ssaa, y: local.y * ssaa, width: local.width * ssaa, height: local.height * ssaa }, this.scratch, 'bottom-up');
        const t = performance.now();
        const piece = resolvePixels(raw, local.width, local.height, ssaa, part.width === rect.width && !pane.mirrored ? data.subarray(((part.y - rect.y) * rect.width) * 4) : undefined, true);
        if (!(part.width === rect.width && !pane.mirrored)) placePiece(data, rect, part, piece, pane.mirrored);
        timings.resolve += performance.now() - t;
      }
    } else {
      const base = panoramaFrame(camera);
      const sphere = boundsSphere(bounds);
      // Draw `region` of a source's framebuffer (scissored: the same pixels as drawing it whole).
      const renderSource = (source: SourceView, region: TileRect = { x: 0, y: 0, width: source.width, height: source.height }): SourceImage => {
        const cam = sourceCamera(base, source, sphere);
        const pixels = this.draw(context, cam, source.width, source.height, region, new Uint8Array(region.width * region.height * 4));
        return { view: source, data: pixels, region };
      };
      if (projection === 'equirect') {
        // First find which texels of which faces this tile samples, then draw just those and resample.
        const faces = equirectFaces(width, ssaa);
        const footprints = faces.map((view) => sourceSampler({ view, data: null, region: { x: 0, y: 0, width: view.width, height: view.height } }));
        let t = performance.now();
        const whole = rect.width === width && rect.height === height;
        // The whole panorama needs (nearly) every texel of every face: skip the footprint pass.
        if (!whole) resampleRect(null, rect, rect, width, 0, ssaa, (x, y, z) => footprints[majorFace(x, y, z)]);
        timings.resolve += performance.now() - t;
        const images = footprints.map((f, k) => {
          const n = whole ? [0, 0, f.w - 1, f.h - 1] : f.needed;
          return n ? sourceSampler(renderSource(faces[k], { x: n[0], y: n[1], width: n[2] - n[0] + 1, height: n[3] - n[1] + 1 })) : footprints[k];
        });
        t = performance.now();
        resampleRect(data, rect, rect, width, 0, ssaa, (x, y, z) => images[majorFace(x, y, z)]);
        timings.resolve += performance.now() - t;
      } else {
        for (const source of odsSourcesFor(width, ssaa, view.ipd, rect)) {
          const image = sourceSampler(renderSource(source.view));
          const t = performance.now();
          resampleRect(data, rect, intersect(source.rect, rect)!, width, source.eye * (width / 2), ssaa, () => image);
          timings.resolve += performance.now() - t;
        }
      }
    }
    return { data, width: rect.width, height: rect.height, timings };
  }

  /** The environment, tone mapping, exposure and background of `view` (session renders draw the scene themselves). */
  prepareScene(scene: Scene, view: ViewSpec): void {
    if (!this.environments.has(scene)) {
      this.environments.add(scene);
      scene.environment = this.environment;
    }
    this.prepare(view, scene);
  }

  /** Tone mapping, exposure and background for `view`. */
  private prepare(view: ViewSpec, scene: Scene): void {
    const r = this.renderer;
    r.toneMapping = TONE_MAPPING[view.toneMapping];
    r.toneMappingExposure = view.exposure;
    // The shadow maps are drawn whole (no scissor) for every tile, so each tile sees the same maps.
    r.shadowMap.enabled = view.shadows;
    r.shadowMap.needsUpdate = true;
    if (view.background === 'transparent') {
      r.setClearColor(0x000000, 0);
      scene.background = null;
    } else if (view.background === 'environment') {
      r.setClearColor(0x000000, 1);
      scene.background = this.environment;
      scene.backgroundIntensity = view.environmentIntensity;
    } else {
      r.setClearColor(new Color(view.background), 1);
      scene.background = null;
    }
  }

  /**
   * Draw `scene` from `camera` into a fbW × fbH framebuffer, shading only the scissor rectangle (framebuffer
   * pixels, origin top-left), and read that rectangle back (premultiplied sRGB RGBA8, rows top-down unless
   * `rows` is 'bottom-up') into `out`.
   */
  private draw(
    ctx: { scene: Scene; frame: number; timings: RenderTimings },
    camera: Camera,
    fbW: number,
    fbH: number,
    scissor: TileRect,
    out: Uint8Array,
    rows: 'top-down' | 'bottom-up' = 'top-down',
  ): Uint8Array {
    const r = this.renderer;
    this.backend.resize(fbW, fbH);
    r.setSize(fbW, fbH, false);
    // Scissor, origin bottom-left in GL: only the tile's pixels are shaded and written.
    r.setScissorTest(true);
    r.setScissor(scissor.x, fbH - (scissor.y + scissor.height), scissor.width, scissor.height);
    const t1 = performance.now();
    r.render(ctx.scene, camera);
    const gl = this.backend.context;
    gl.finish();
    const glError = gl.getError();
    if (glError !== gl.NO_ERROR && glError !== gl.CONTEXT_LOST_WEBGL) {
      throw new TesseraError('RENDER_FAILED', `WebGL reported error 0x${glError.toString(16)} while rendering frame ${ctx.frame}.`);
    }
    const t2 = performance.now();
    const samples = scissor.width * scissor.height * 4;
    if (out === this.scratch && this.scratch.length < samples) out = this.scratch = new Uint8Array(samples);
    const raw = this.backend.readPixels(scissor.x, scissor.y, scissor.width, scissor.height, out, rows);
    ctx.timings.render += t2 - t1;
    ctx.timings.readback += performance.now() - t2;
    return raw;
  }

  /** The rectangles of the output drawn straight from one camera each, and those cameras. */
  private panes(view: ViewSpec, camera: Camera, bounds: Box3): { rect: TileRect; camera: Camera; mirrored: boolean }[] {
    const { width, height } = view;
    if (view.projection === 'stereo') {
      const right = new Vector3().setFromMatrixColumn(camera.matrixWorld, 0).normalize();
      return [-1, 1].map((side, i) => {
        const eye = camera.clone();
        eye.position.copy(camera.getWorldPosition(new Vector3())).addScaledVector(right, (side * view.ipd) / 2);
        eye.quaternion.copy(camera.getWorldQuaternion(new Quaternion()));
        eye.scale.set(1, 1, 1);
        eye.updateMatrixWorld(true);
        return { rect: { x: (i * width) / 2, y: 0, width: width / 2, height }, camera: eye, mirrored: false };
      });
    }
    if (view.projection === 'cube') {
      const base = panoramaFrame(camera);
      const sphere = boundsSphere(bounds);
      return cubePanes(height, view.ssaa).map((p) => ({ rect: p.rect, camera: sourceCamera(base, p.source, sphere), mirrored: p.mirrored }));
    }
    return [{ rect: { x: 0, y: 0, width, height }, camera, mirrored: false }];
  }

  dispose(): void {
    this.environment.dispose();
    try {
      this.renderer.dispose();
    } catch {
      // three's animation loop has no requestAnimationFrame host in Node; everything else was released first.
    }
    this.backend.dispose();
  }

}

/** Copy a resolved piece into the tile's pixels at `part`, flipping its columns when `mirrored`. */
function placePiece(data: Uint8Array, rect: TileRect, part: TileRect, piece: Uint8Array, mirrored: boolean): void {
  for (let row = 0; row < part.height; row++) {
    const dst = ((part.y - rect.y + row) * rect.width + (part.x - rect.x)) * 4;
    const src = row * part.width * 4;
    if (!mirrored) {
      data.set(piece.subarray(src, src + part.width * 4), dst);
      continue;
    }
    for (let i = 0; i < part.width; i++) {
      const s = src + (part.width - 1 - i) * 4;
      const d = dst + i * 4;
      data[d] = piece[s];
      data[d + 1] = piece[s + 1];
      data[d + 2] = piece[s + 2];
      data[d + 3] = piece[s + 3];
    }
  }
}

/** A camera drawing from a session pose's matrices (ViewSpec `pose`), as the session's StereoRenderer sets its eyes. */
function poseCamera(pose: { view: number[]; projection: number[] }): PerspectiveCamera {
  const cam = new PerspectiveCamera();
  new Matrix4().fromArray(pose.view).invert().decompose(cam.position, cam.quaternion, cam.scale);
  cam.updateMatrixWorld(true);
  cam.projectionMatrix.fromArray(pose.projection);
  cam.projectionMatrixInverse.copy(cam.projectionMatrix).invert();
  return cam;
}
