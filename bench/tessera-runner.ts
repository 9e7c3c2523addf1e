import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchOptions } from './bench-options.ts';
import { emptyRow, type BenchRow, type FrameSample } from './bench-result.ts';
import { summarizeFrames } from './frame-stats.ts';
import type { ScenePlan } from './scene-plan.ts';
import { readSceneBytes } from './scene-source.ts';
import { frameSequence, tesseraView } from './shared-view.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { encodeImage } from '../render-node/output/encode-image.ts';
import { FrameRenderer } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import type { LoadedScene } from '../render-node/scene/load-scene.ts';
import type { ViewSpec } from '../api/protocol/render-spec.ts';

export const TESSERA_LABEL = 'Tessera (headless-gl)';
/** Frames in the pipelined animation pass (at least --frames). */
const ANIMATION_FRAMES = 12;

/**
 * Render `frames` one after another and encode each as PNG with `effort`, pipelined: sharp encodes frame N on its
 * libuv threads while this thread draws frame N+1 (at most one frame waits). Frames/s end to end, bytes summed.
 */
async function renderAnimation(fr: FrameRenderer, loaded: LoadedScene, view: ViewSpec, frames: number[], effort: 'fast' | 'small') {
  const spec = { format: 'png', quality: 90, lossless: true, effort } as const;
  const sizes: number[] = [];
  let pending: Promise<void> = Promise.resolve();
  const t0 = performance.now();
  for (const [i, frame] of frames.entries()) {
    const encoding = encodeImage(fr.render(loaded, view, frame), spec, { software: fr.version }).then((b) => {
      sizes[i] = b.length;
    });
    await pending;
    pending = encoding;
  }
  await pending;
  const ms = performance.now() - t0;
  return { fps: (frames.length * 1000) / ms, ms, bytes: sizes.reduce((a, b) => a + b, 0), firstBytes: sizes[0] };
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
      for (const size of opts.sizes) {
        const row = base(size);
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
          // The whole animation as a node or `tessera render` runs it: pipelined, once per PNG effort.
          const anim = frameSequence(plan.lastFrame, Math.max(ANIMATION_FRAMES, opts.frames));
          const small = await renderAnimation(fr, loaded, view, anim, 'small');
          const fast = await renderAnimation(fr, loaded, view, anim, 'fast');
          row.animationFps = small.fps;
          row.animationFpsFast = fast.fps;
          row.pngBytesFast = fast.firstBytes;
          row.info = { ...row.info, animation: { frames: anim.length, small, fast } };
        } catch (err) {
          row.status = 'failed';
          row.reason = `render failed: ${(err as Error).message}`;
        }
        rows.push(row);
        log(`  tessera ${plan.scene.name} ${size.label}: ${row.status === 'ok' ? `${row.totalMs?.toFixed(1)} ms/frame` : row.reason}`);
      }
      loaded.dispose();
    }
  } finally {
    fr.dispose();
  }
  return { rows, info };
}
