/**
 * A helper render process of a local animation (see local-render-helper.ts): headless-gl here, the scene read
 * and loaded once, then frames as the parent sends them, drawn one after another with each frame's encode and
 * write overlapping the next draw. It exits when its parent goes away.
 */
import { isTesseraError } from '../api/protocol/errors.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { createHeadlessGLBackend } from './gl/headless-gl-backend.ts';
import { noFrameTimes, renderFrameImage, writeFrameFile } from './local-frames.ts';
import type { HelperReply, HelperRequest } from './local-render-helper.ts';
import { FrameRenderer } from './render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from './render/node-render-platform.ts';
import { frameRendererScenes, type SceneHandle, type SceneRenderer } from './render/scene-renderer.ts';

const send = (reply: HelperReply) => process.send?.(reply);
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

let renderer: SceneRenderer | undefined;
let scene: SceneHandle | undefined;
/** Frames in arrival order; one drawn at a time, the previous one's encode running meanwhile. */
const waiting: Extract<HelperRequest, { type: 'frame' }>[] = [];
let drawing = false;
let previous: Promise<void> = Promise.resolve();

async function drain(): Promise<void> {
  if (drawing) return;
  drawing = true;
  try {
    for (let m = waiting.shift(); m; m = waiting.shift()) {
      const { index, frame, job } = m;
      const t0 = performance.now();
      const times = noFrameTimes();
      try {
        const image = await renderFrameImage(renderer!, scene!, job, frame, times);
        const written = writeFrameFile(image, frame, job, renderer!.version, times).then(
          (file) => void send({ type: 'done', done: { index, frame, file, ms: performance.now() - t0, times } }),
          (err) => fail(err, index),
        );
        await previous;
        previous = written;
      } catch (err) {
        fail(err, index);
      }
    }
  } finally {
    drawing = false;
  }
}

function fail(err: unknown, index?: number): void {
  send({ type: 'failed', index, code: isTesseraError(err) ? err.code : 'RENDER_FAILED', message: (err as Error)?.message ?? String(err) });
}

process.on('message', async (m: HelperRequest) => {
  if (m.type === 'frame') {
    waiting.push(m);
    void drain();
    return;
  }
  try {
    const read = await readScene({ path: m.scene }, m.limits);
    renderer = frameRendererScenes(new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM));
    scene = await renderer.load(read.glb, m.limits);
    send({ type: 'ready', renderer: renderer.version });
  } catch (err) {
    fail(err);
  }
});
