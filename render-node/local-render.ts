import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { TesseraError } from '../api/protocol/errors.ts';
import { SCENE_LIMITS_DEFAULTS, type EncodeSpec, type SceneLimits, type ViewSpec } from '../api/protocol/render-spec.ts';
import { chooseBackend, type RenderBackend, type RenderBackendChoice } from './chromium/choose-backend.ts';
import { chromiumUnavailable, startChromiumRenderHost } from './chromium/chromium-render-host.ts';
import { createHeadlessGLBackend } from './gl/headless-gl-backend.ts';
import { drainInProcess, FrameQueue, type LocalFrameDone, type LocalFrameJob } from './local-frames.ts';
import { LocalRenderHelper } from './local-render-helper.ts';
import { encodeAnimatedWebp } from './output/encode-image.ts';
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
  /**
   * Render processes for an animation: this one plus `processes - 1` helpers, frames handed out one by one to
   * whichever is free (default: one per core; 1 = this process alone). headless-gl only; the pixels are the
   * same whatever the count.
   */
  processes?: number;
  /** A frame was written; frames of several processes finish out of order (`completed` counts them). */
  onFrame?(event: { frame: number; index: number; completed: number; total: number; file: string; ms: number }): void;
  onPlan?(event: { frames: number[]; tiles: number }): void;
}

export const LOCAL_RENDER_DEFAULTS = {
  /**
   * One render process per core, as a node with one slot per core renders an animation; at most 8 (each holds
   * a GL context, the scene and frame buffers, and llvmpipe already spreads one process's draw over threads).
   */
  processes: Math.min(availableParallelism(), 8),
} as const;

/** Each render process holds a GL context, the scene and frame buffers: a bound on what one command starts. */
export const MAX_LOCAL_PROCESSES = 64;

export interface LocalRenderSummary {
  files: string[];
  frames: number[];
  tilesPerFrame: number;
  renderer: string;
  gl: string;
  /** The backend that rendered. */
  backend: RenderBackend;
  /** Render processes that rendered frames (this one and the helpers that did). */
  processes: number;
  /** What the renderer could not reproduce exactly in this scene. */
  warnings: string[];
  /** Load and total are wall time; the others are summed over frames (and processes). */
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
  if (opts.processes !== undefined && (!Number.isInteger(opts.processes) || opts.processes < 1 || opts.processes > MAX_LOCAL_PROCESSES)) {
    throw new TesseraError('BAD_SPEC', `Render processes must be a whole number from 1 to ${MAX_LOCAL_PROCESSES} (got ${opts.processes}).`);
  }
  const read = await readScene({ path: opts.scene }, limits);
  const choice = opts.backend ?? 'auto';
  const decision = chooseBackend(choice, read.extensionsUsed, choice === 'headless-gl' ? null : chromiumUnavailable());
  const renderer = await startSceneRenderer(decision.backend);
  // More render processes, one per core, for an animation (headless-gl only: the Chromium backend is one
  // browser, and an animated WebP needs every frame's pixels here). They start as early as the frame count is
  // known, so their start-up overlaps this process's loading and first frames; they use this process's Xvfb.
  const wanted = decision.backend === 'headless-gl' && !opts.animated ? Math.max(1, opts.processes ?? LOCAL_RENDER_DEFAULTS.processes) : 1;
  const helpers: LocalRenderHelper[] = [];
  const startHelpers = (frameCount: number) => {
    for (let i = helpers.length + 1; i < Math.min(wanted, frameCount); i++) helpers.push(new LocalRenderHelper({ scene: opts.scene, limits }));
  };
  try {
    if (opts.frames) startHelpers(opts.frames.length);
    const loaded = await renderer.load(read.glb, limits);
    const warnings = decision.warning ? [decision.warning, ...loaded.warnings] : [...loaded.warnings];
    const tLoaded = performance.now();
    const frames = opts.frames ?? range((await renderer.lastFrame(loaded, view)) + 1);
    // Check every frame (and the camera, scene and clip) before spending time on any.
    for (const f of frames) await renderer.plan(loaded, view, f);
    const tiles = tileGrid(view.width, view.height, opts.tile ?? null);
    opts.onPlan?.({ frames, tiles: tiles.length });
    await mkdir(opts.outDir, { recursive: true });
    const ms = { load: tLoaded - t0, render: 0, readback: 0, resolve: 0, stitch: 0, encode: 0, total: 0 };
    const kept: RawImage[] = [];
    const job: LocalFrameJob = {
      view,
      encode: opts.encode,
      tiles,
      outDir: opts.outDir,
      lastFrame: frames[frames.length - 1] ?? 0,
      flatten: view.background.startsWith('#') ? view.background : '#ffffff',
    };
    const queue = new FrameQueue(frames);
    const written: LocalFrameDone[] = [];
    const onDone = (d: LocalFrameDone) => {
      written.push(d);
      for (const k of ['render', 'readback', 'resolve', 'stitch', 'encode'] as const) ms[k] += d.times[k];
      opts.onFrame?.({ frame: d.frame, index: d.index, completed: written.length, total: frames.length, file: d.file, ms: d.ms });
    };
    startHelpers(frames.length);
    for (const h of helpers) h.attach(queue, job, onDone);
    // This process renders too (it has the scene loaded already); a helper's frames come back here if it dies.
    do {
      await drainInProcess(renderer, loaded, job, queue, onDone, opts.animated ? (index, image) => void (kept[index] = image) : undefined);
      for (const h of helpers) await h.settle();
    } while (queue.size);
    for (const h of helpers) if (h.lostReason) warnings.push(h.lostReason);
    const processes = 1 + helpers.filter((h) => h.framesDone > 0).length;
    written.sort((a, b) => a.index - b.index);
    const files = written.map((d) => d.file);
    if (opts.animated && kept.length) {
      const file = join(opts.outDir, 'animation.webp');
      await writeAtomic(file, await encodeAnimatedWebp(kept, view.fps, opts.encode, { software: renderer.version }));
      files.push(file);
    }
    ms.total = performance.now() - t0;
    return { files, frames, tilesPerFrame: tiles.length, renderer: renderer.version, gl: renderer.info.renderer, backend: decision.backend, processes, warnings, ms };
  } finally {
    for (const h of helpers) h.stop();
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
