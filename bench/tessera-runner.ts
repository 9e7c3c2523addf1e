import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions } from './bench-options.ts';
import { emptyRow, type BenchRow, type FrameSample } from './bench-result.ts';
import { summarizeFrames } from './frame-stats.ts';
import type { ScenePlan } from './scene-plan.ts';
import { readSceneBytes } from './scene-source.ts';
import { frameSequence, tesseraView } from './shared-view.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { drainInProcess, FrameQueue, type LocalFrameDone, type LocalFrameJob } from '../render-node/local-frames.ts';
import { LocalRenderHelper } from '../render-node/local-render-helper.ts';
import { encodeImage } from '../render-node/output/encode-image.ts';
import { frameRendererScenes, type SceneHandle, type SceneRenderer } from '../render-node/render/scene-renderer.ts';
import { processTreeCpuMs } from './process-tree-cpu.ts';
import { FrameRenderer } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import { SCENE_LIMITS_DEFAULTS, type ViewSpec } from '../api/protocol/render-spec.ts';

export const TESSERA_LABEL = 'Tessera (headless-gl)';
/** Frames in each timed animation pass (at least --frames). */
const ANIMATION_FRAMES = 24;
/** Render processes for the animation passes: one per core, as a node with one slot per core (and renderLocal) uses them. */
const ANIMATION_PROCESSES = availableParallelism();

interface AnimationPass {
  processes: number;
  fps: number;
  ms: number;
  /** CPU of this process and its children (helpers, Xvfb) per frame: what the pass cost the machine. */
  cpuMsPerFrame: number | null;
  /** Cores busy on average (CPU ÷ wall). */
  coresUsed: number | null;
  bytesPerFrame: number;
  firstBytes: number;
  /** Frames each process rendered (this one first). */
  framesByProcess: number[];
}

/**
 * A whole animation as renderLocal renders it: frames shared out between this process and `helpers` (warm
 * helper render processes) from one queue, each process drawing frame N+1 while frame N encodes on its libuv
 * threads and is written to `outDir`. Frames/s end to end, CPU of the process tree.
 */
async function renderAnimation(local: SceneRenderer, scene: SceneHandle, helpers: LocalRenderHelper[], view: ViewSpec, frames: number[], effort: 'fast' | 'small', outDir: string): Promise<AnimationPass> {
  await mkdir(outDir, { recursive: true });
  const job: LocalFrameJob = { view, encode: { format: 'png', quality: 90, lossless: true, effort }, tiles: [{ x: 0, y: 0, width: view.width, height: view.height }], outDir, lastFrame: Math.max(...frames), flatten: view.background };
  const queue = new FrameQueue(frames);
  const done: LocalFrameDone[] = [];
  const byProcess = [0, ...helpers.map(() => 0)];
  const cpu0 = processTreeCpuMs();
  const t0 = performance.now();
  helpers.forEach((h, i) => h.attach(queue, job, (d) => (done.push(d), byProcess[i + 1]++)));
  do {
    await drainInProcess(local, scene, job, queue, (d) => (done.push(d), byProcess[0]++));
    for (const h of helpers) await h.settle();
  } while (queue.size);
  const ms = performance.now() - t0;
  const cpu1 = processTreeCpuMs();
  if (done.length !== frames.length) throw new Error(`animation pass wrote ${done.length} of ${frames.length} frames`);
  // Bytes of the frames as written (a still scene's frames share one file name: its size counts for each).
  const sizes = await Promise.all(done.map(async (d) => (await stat(d.file)).size));
  const cpu = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
  return {
    processes: 1 + helpers.length,
    fps: (frames.length * 1000) / ms,
    ms,
    cpuMsPerFrame: cpu === null ? null : cpu / frames.length,
    coresUsed: cpu === null ? null : cpu / ms,
    bytesPerFrame: sizes.reduce((a, b) => a + b, 0) / sizes.length,
    firstBytes: sizes[done.findIndex((d) => d.index === 0)],
    framesByProcess: byProcess,
  };
}

/**
 * Tessera as a render node runs it: one GL backend and FrameRenderer for the whole run; per scene readScene +
 * loadScene (load), then per frame render (pose + draw + finish), read-back (readPixels + resolve) and PNG encode.
 */
export async function runTessera(plans: ScenePlan[], opts: BenchOptions, imagesDir: string, log: (m: string) => void): Promise<{ rows: BenchRow[]; info: Record<string, unknown> }> {
  const rows: BenchRow[] = [];
  const t0 = performance.now();
  const backend = await createHeadlessGLBackend();
  const fr = new FrameRenderer(backend, NODE_RENDER_PLATFORM);
  const info: Record<string, unknown> = {
    backendInitMs: performance.now() - t0,
    version: fr.version,
    glRenderer: backend.info.renderer,
    glVersion: backend.info.version,
    glVendor: backend.info.vendor,
    webgl2: backend.info.webgl2,
  };
  try {
    for (const plan of plans) {
      const base = (s: { width: number; height: number; label: string }) =>
        emptyRow({ scene: plan.scene.name, width: s.width, height: s.height, sizeLabel: s.label, system: 'tessera', label: TESSERA_LABEL });
      let loaded;
      let loadMs = 0;
      let loadInfo: Record<string, unknown> = {};
      try {
        const l0 = performance.now();
        const source = await readSceneBytes(plan.scene.path);
        const l1 = performance.now();
        loaded = await fr.loadScene(source.glb, { maxTexturePixels: 1e9 });
        const l2 = performance.now();
        loadMs = l2 - l0;
        loadInfo = { readSceneMs: l1 - l0, loadSceneMs: l2 - l1, readVia: source.via, ...(source.note ? { readNote: source.note } : {}) };
      } catch (err) {
        for (const s of opts.sizes) rows.push({ ...base(s), status: 'failed', reason: `load failed: ${(err as Error).message}` });
        continue;
      }
      // Warm helper render processes for the animation passes, as a node keeps its render processes.
      const helpers: LocalRenderHelper[] = [];
      for (let i = 1; i < ANIMATION_PROCESSES; i++) helpers.push(new LocalRenderHelper({ scene: plan.scene.path, limits: { ...SCENE_LIMITS_DEFAULTS, maxTexturePixels: 1e9 } }));
      const ready = await Promise.all(helpers.map((h) => h.whenReady()));
      const warmHelpers = helpers.filter((_, i) => ready[i]);
      const helperProblems = helpers.filter((h) => h.lostReason).map((h) => h.lostReason!);
      for (const size of opts.sizes) {
        const row = base(size);
        row.notes.push(...helperProblems);
        row.loadMs = loadMs;
        row.info = loadInfo;
        if (typeof loadInfo.readNote === 'string') row.notes.push(loadInfo.readNote);
        try {
          const view = tesseraView(size.width, size.height);
          const frames = frameSequence(plan.lastFrame, 1 + opts.frames);
          const samples: FrameSample[] = [];
          for (let i = 0; i < frames.length; i++) {
            const s0 = performance.now();
            const r = fr.render(loaded, view, frames[i]);
            const e0 = performance.now();
            const png = await encodeImage(r, { format: 'png', quality: 90, lossless: true }, { software: fr.version });
            const s1 = performance.now();
            const t = r.timings;
            const sample: FrameSample = {
              frame: frames[i],
              renderMs: t.pose + t.render,
              readbackMs: t.readback + t.resolve,
              encodeMs: s1 - e0,
              totalMs: s1 - s0,
              detail: { poseMs: t.pose, drawMs: t.render, readPixelsMs: t.readback, resolveMs: t.resolve },
            };
            if (i === 0) {
              row.firstFrameMs = sample.totalMs;
              row.image = join(imagesDir, `${plan.scene.name}-${size.width}x${size.height}-tessera.png`);
              row.pngBytes = png.length;
              await writeFile(row.image, png);
            } else samples.push(sample);
          }
          summarizeFrames(row, samples);
          // The whole animation as renderLocal (and a node with one slot per core) runs it: this process and the
          // warm helpers share the frames, each pipelined. Then this process alone, for comparison. Order
          // ABBA (multi fast, single fast, single small, multi small) so a load drifting under the run biases neither.
          const anim = frameSequence(plan.lastFrame, Math.max(ANIMATION_FRAMES, opts.frames));
          const scenes = frameRendererScenes(fr);
          const dir = (pass: string) => join(opts.tmpDir, 'animation', `${plan.scene.name}-${size.width}x${size.height}`, pass);
          // Warm-up at this size in every process (shader compiles, buffers): not timed.
          await renderAnimation(scenes, loaded, warmHelpers, view, frameSequence(plan.lastFrame, 2 * ANIMATION_PROCESSES), 'fast', dir('warm-up'));
          const fast = await renderAnimation(scenes, loaded, warmHelpers, view, anim, 'fast', dir('fast'));
          const fast1 = await renderAnimation(scenes, loaded, [], view, anim, 'fast', dir('fast-1'));
          const small1 = await renderAnimation(scenes, loaded, [], view, anim, 'small', dir('small-1'));
          const small = await renderAnimation(scenes, loaded, warmHelpers, view, anim, 'small', dir('small'));
          await rm(join(opts.tmpDir, 'animation'), { recursive: true, force: true });
          row.animationFps = small.fps;
          row.animationFpsFast = fast.fps;
          row.pngBytesFast = fast.firstBytes;
          row.info = { ...row.info, animation: { frames: anim.length, processes: small.processes, small, fast, singleProcess: { small: small1, fast: fast1 } } };
          const one = (p: AnimationPass) => `${p.fps.toFixed(1)} fps${p.cpuMsPerFrame === null ? '' : ` (CPU ${p.cpuMsPerFrame.toFixed(0)} ms/frame, ${p.coresUsed!.toFixed(2)} cores)`}`;
          log(`  tessera ${plan.scene.name} ${size.label} animation, ${anim.length} frames: ${small.processes} processes default PNG ${one(small)}, fast PNG ${one(fast)}; 1 process ${one(small1)} / ${one(fast1)}`);
        } catch (err) {
          row.status = 'failed';
          row.reason = `render failed: ${(err as Error).message}`;
        }
        rows.push(row);
        log(`  tessera ${plan.scene.name} ${size.label}: ${row.status === 'ok' ? `${row.totalMs?.toFixed(1)} ms/frame` : row.reason}`);
      }
      for (const h of helpers) h.stop();
      loaded.dispose();
    }
  } finally {
    fr.dispose();
  }
  return { rows, info };
}
