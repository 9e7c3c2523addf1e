import { ACESFilmicToneMapping, Color, NeutralToneMapping, NoToneMapping, SRGBColorSpace, WebGLRenderer, type DataTexture, type Scene } from 'three';
import { TesseraError } from '../../api/protocol/errors.ts';
import type { TileRect, ViewSpec } from '../../api/protocol/render-spec.ts';
import type { GLBackend } from '../gl/gl-backend.ts';
import { loadScene, type LoadedScene } from '../scene/load-scene.ts';
import { RENDERER_VERSION } from '../version.ts';
import { resolvePixels } from './resolve-pixels.ts';
import { SceneDirector, type FramePlan } from './scene-director.ts';
import { createStudioEnvironment } from './studio-environment.ts';
import { setupThree } from './three-setup.ts';
import { tileFits } from '../../api/protocol/tile-grid.ts';

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
  readonly version = RENDERER_VERSION;
  private readonly environment: DataTexture;
  /** Poses scenes and places cameras and lights; no GL. */
  readonly director = new SceneDirector();
  private readonly environments = new WeakSet<Scene>();
  private scratch = new Uint8Array(0);

  constructor(backend: GLBackend) {
    setupThree();
    this.backend = backend;
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
    this.environment = createStudioEnvironment();
  }

  /** Parse a normalized GLB into a scene for this renderer. */
  loadScene(glb: Uint8Array, limits: { maxTexturePixels: number }): Promise<LoadedScene> {
    return loadScene(glb, { maxTextureSize: this.backend.info.maxTextureSize, maxTexturePixels: limits.maxTexturePixels });
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
    const rect = tile ?? { x: 0, y: 0, width, height };
    if (!tileFits(rect, width, height)) {
      throw new TesseraError('BAD_SPEC', `Tile ${rect.width}×${rect.height} at ${rect.x},${rect.y} lies outside the ${width}×${height} frame.`);
    }
    const t0 = performance.now();
    const { scene, camera } = this.director.setUp(loaded, view, frame);
    const fbW = width * ssaa;
    const fbH = height * ssaa;
    const r = this.renderer;
    this.backend.resize(fbW, fbH);
    r.setSize(fbW, fbH, false);
    this.prepareScene(scene, view);
    // Scissor, origin bottom-left in GL: only the tile's pixels are shaded and written.
    r.setScissorTest(true);
    r.setScissor(rect.x * ssaa, fbH - (rect.y + rect.height) * ssaa, rect.width * ssaa, rect.height * ssaa);
    const t1 = performance.now();
    r.render(scene, camera);
    const gl = this.backend.context;
    gl.finish();
    const glError = gl.getError();
    if (glError !== gl.NO_ERROR && glError !== gl.CONTEXT_LOST_WEBGL) {
      throw new TesseraError('RENDER_FAILED', `WebGL reported error 0x${glError.toString(16)} while rendering frame ${frame}.`);
    }
    const t2 = performance.now();
    const samples = rect.width * ssaa * rect.height * ssaa * 4;
    if (this.scratch.length < samples) this.scratch = new Uint8Array(samples);
    const raw = this.backend.readPixels(rect.x * ssaa, rect.y * ssaa, rect.width * ssaa, rect.height * ssaa, this.scratch);
    const t3 = performance.now();
    const data = resolvePixels(raw, rect.width, rect.height, ssaa, new Uint8Array(rect.width * rect.height * 4));
    const t4 = performance.now();
    return { data, width: rect.width, height: rect.height, timings: { pose: t1 - t0, render: t2 - t1, readback: t3 - t2, resolve: t4 - t3 } };
  }

  /** Apply a view's environment, tone mapping, exposure and background to the scene and renderer. */
  prepareScene(scene: Scene, view: ViewSpec): void {
    if (!this.environments.has(scene)) {
      this.environments.add(scene);
      scene.environment = this.environment;
    }

    const r = this.renderer;
    r.toneMapping = TONE_MAPPING[view.toneMapping];
    r.toneMappingExposure = view.exposure;
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

