import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../api/protocol/errors.ts';
import { frameFileName } from '../api/protocol/frame-list.ts';
import { SCENE_LIMITS_DEFAULTS, type EncodeSpec, type SceneLimits, type ViewSpec } from '../api/protocol/render-spec.ts';
import { chooseBackend, type RenderBackend, type RenderBackendChoice } from './chromium/choose-backend.ts';
import { chromiumUnavailable, startChromiumRenderHost } from './chromium/chromium-render-host.ts';
import { createHeadlessGLBackend } from './gl/headless-gl-backend.ts';
import { encodeAnimatedWebp, encodeImage, EXTENSIONS } from './output/encode-image.ts';
import { stitchTiles } from './output/stitch-tiles.ts';
import { writeAtomic } from './output/write-atomic.ts';
import { FrameRenderer, type RawImage } from './render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from './render/node-render-platform.ts';
import { frameRendererScenes, type SceneRenderer } from './render/scene-renderer.ts';
import { tileGrid } from '../api/protocol/tile-grid.ts';
import { readScene } from '../scene-check/read-scene.ts';

export interface LocalRenderOptions {
  /** Path of a .glb or .gltf file. */
  scene: string;
  /** Frames to render; `undefined` renders every frame of the clip (frame 0 for a still scene). */
  frames?: number[];
  view: ViewSpec;
  encode: EncodeSpec;
  /** Tile edge in pixels; tiles are rendered one by one and stitched. */
  tile?: number;
  outDir: string;
  /** Also write the frames as one looping animated WebP (`animation.webp`). */
  animated?: boolean;
  limits?: Partial<SceneLimits>;
  /**
   * The GL backend: headless-gl (WebGL 1, in process), chromium (WebGL 2 in headless Chromium), or auto
   * (chromium for scenes that need WebGL 2 when it can start here, else headless-gl with a warning). Default auto.
   */
  backend?: RenderBackendChoice;
  onFrame?(event: { frame: number; index: number; total: number; file: string; ms: number }): void;
  onPlan?(event: { frames: number[]; tiles: number }): void;
}

export interface LocalRenderSummary {
  files: string[];
  frames: number[];
  tilesPerFrame: number;
  renderer: string;
  gl: string;
  /** The backend that rendered. */
  backend: RenderBackend;
  /** What the renderer could not reproduce exactly in this scene. */
  warnings: string[];
  ms: { load: number; render: number; readback: number; resolve: number; stitch: number; encode: number; total: number };
}

/** Render frames of a scene on this machine (no farm): read, check, load, render tile by tile, stitch, encode, write. */
export async function renderLocal(opts: LocalRenderOptions): Promise<LocalRenderSummary> {
  const t0 = performance.now();
  const limits = { ...SCENE_LIMITS_DEFAULTS, ...opts.limits };
  const { view } = opts;
  if (opts.tile !== undefined && (!Number.isInteger(opts.tile) || opts.tile < 16)) {
    throw new TesseraError('BAD_SPEC', `Tile size ${opts.tile} is too small; use 16 pixels or more.`);
  }
  if (opts.tile !== undefined && opts.tile > Math.max(view.width, view.height)) {
    throw new TesseraError('BAD_SPEC', `Tile size ${opts.tile} is larger than the ${view.width}×${view.height} frame.`);
  }
  const read = await readScene({ path: opts.scene }, limits);
  const choice = opts.backend ?? 'auto';
  const decision = chooseBackend(choice, read.extensionsUsed, choice === 'headless-gl' ? null : chromiumUnavailable());
  const renderer = await startSceneRenderer(decision.backend);
  try {
    const loaded = await renderer.load(read.glb, limits);
    const warnings = decision.warning ? [decision.warning, ...loaded.warnings] : loaded.warnings;
    const tLoaded = performance.now();
    const frames = opts.frames ?? range((await renderer.lastFrame(loaded, view)) + 1);
    // Check every frame (and the camera, scene and clip) before spending time on any.
    for (const f of frames) await renderer.plan(loaded, view, f);
    const tiles = tileGrid(view.width, view.height, opts.tile ?? null);
    opts.onPlan?.({ frames, tiles: tiles.length });
    await mkdir(opts.outDir, { recursive: true });
    const ms = { load: tLoaded - t0, render: 0, readback: 0, resolve: 0, stitch: 0, encode: 0, total: 0 };
    const files: string[] = [];
    const kept: RawImage[] = [];
    const lastFrame = frames[frames.length - 1] ?? 0;
    const flatten = view.background.startsWith('#') ? view.background : '#ffffff';
    // Encoding runs on sharp's threads while the next frame renders on this one: at most one frame waits.
    let previous: Promise<void> = Promise.resolve();
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      const tf = performance.now();
      const parts: { x: number; y: number; image: RawImage }[] = [];
      for (const tile of tiles) {
        const r = await renderer.render(loaded, view, frame, tile);
        ms.render += r.timings.pose + r.timings.render;
        ms.readback += r.timings.readback;
        ms.resolve += r.timings.resolve;
        parts.push({ x: tile.x, y: tile.y, image: r });
      }
      const ts = performance.now();
      const image = parts.length === 1 ? parts[0].image : await stitchTiles(view.width, view.height, parts);
      ms.stitch += performance.now() - ts;
      if (opts.animated) kept.push(image);
      const file = join(opts.outDir, frameFileName(frame, lastFrame, EXTENSIONS[opts.encode.format]));
      const written = (async () => {
        const te = performance.now();
        const bytes = await encodeImage(image, opts.encode, { software: renderer.version, description: `frame ${frame}` }, flatten);
        await writeAtomic(file, bytes);
        ms.encode += performance.now() - te;
      })();
      await previous;
      previous = written.then(() => {
        files.push(file);
        opts.onFrame?.({ frame, index: i, total: frames.length, file, ms: performance.now() - tf });
      });
    }
    await previous;
    if (opts.animated && kept.length) {
      const file = join(opts.outDir, 'animation.webp');
      await writeAtomic(file, await encodeAnimatedWebp(kept, view.fps, opts.encode, { software: renderer.version }));
      files.push(file);
    }
    ms.total = performance.now() - t0;
    return { files, frames, tilesPerFrame: tiles.length, renderer: renderer.version, gl: renderer.info.renderer, backend: decision.backend, warnings, ms };
  } finally {
    await renderer.dispose();
  }
}

/** The render pipeline on `backend`: in this process on headless-gl, or in headless Chromium. */
export async function startSceneRenderer(backend: RenderBackend): Promise<SceneRenderer> {
  if (backend === 'chromium') return startChromiumRenderHost();
  return frameRendererScenes(new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM));
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
