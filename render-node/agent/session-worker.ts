/**
 * A session's render process: one GL context serving one interactive session. It loads the session's
 * scene (through the node's scene cache on disk), then renders each pose its parent sends (both eyes in one
 * pass), tells the parent at once that the render is done (so the parent can send the next pose), and hands
 * the pixels to its encoder thread (session-encoder.ts: JPEG with libjpeg-turbo, not mozjpeg: ~5× faster per
 * frame, or WebP), which sends the encoded frame to the parent on the frame pipe (fd 4) while this thread
 * draws the next pose: encoding overlaps the next render. It holds no credentials and exits when its parent
 * goes away.
 */
import { Worker } from 'node:worker_threads';
import { isTesseraError } from '../../api/protocol/errors.ts';
import type { SessionRender } from '../../api/protocol/session.ts';
import { stereoPose } from '../../api/protocol/session-pose.ts';
import { createHeadlessGLBackend } from '../gl/headless-gl-backend.ts';
import { FrameRenderer } from '../render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render/node-render-platform.ts';
import { StereoRenderer } from '../render/stereo-renderer.ts';
import { isSceneFault } from './run-task.ts';
import { SceneCache } from './scene-cache.ts';
import type { EncodeRequest, EncoderReturn } from './session-encoder.ts';
import { FRAME_PIPE_FD, type SessionWorkerReply, type SessionWorkerRequest, type SessionWorkerSettings } from './session-process.ts';

const settings = JSON.parse(process.env.TESSERA_SESSION_SETTINGS ?? '{}') as SessionWorkerSettings;
const send = (reply: SessionWorkerReply) => process.send?.(reply);
process.on('disconnect', () => process.exit(0));

const frames = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
const scenes = new SceneCache(frames, { dir: settings.cacheDir, maxLoaded: 1, maxTexturePixels: settings.maxTexturePixels });
let stereo: StereoRenderer | undefined;
let render: SessionRender | undefined;

// tsx's loader does not follow into worker threads: register it there, then load the encoder.
const encoderUrl = new URL('./session-encoder.ts', import.meta.url).href;
const tsxApi = import.meta.resolve('tsx/esm/api');
const encoder = new Worker(`import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(encoderUrl)}); });`, { eval: true, workerData: { fd: FRAME_PIPE_FD } });
encoder.on('error', (err) => {
  process.stderr.write(`session encoder thread failed: ${err?.message ?? err}\n`);
  process.exit(1);
});
encoder.on('exit', () => process.exit(1));
/** Pixel buffers the encoder is done with, for the next frames (a frame's buffer is transferred, not copied). */
const spare: ArrayBuffer[] = [];
encoder.on('message', (m: EncoderReturn) => {
  if (m.type === 'buffer' && spare.length < 3) spare.push(m.buffer);
});
/** A buffer of exactly `bytes` for a frame's pixels: a spare one, else a new one. */
function pixelBuffer(bytes: number): Uint8Array {
  for (let i = spare.length - 1; i >= 0; i--) if (spare[i].byteLength === bytes) return new Uint8Array(spare.splice(i, 1)[0]);
  return new Uint8Array(bytes);
}

process.on('message', async (message: SessionWorkerRequest) => {
  if (message.type === 'load') {
    try {
      const loaded = await scenes.get(message.scene.id, message.scene.url);
      render = message.render;
      stereo = new StereoRenderer(frames, loaded, render);
      // Warm up from the start view while loading: shader compiles, texture uploads and the shadow maps (drawn once
      // per session) happen here, under the load timeout, not in the client's first frame (which has the frame cap).
      const { position, target, fov } = stereo.start;
      stereo.render(stereoPose(position, target, { fov, aspect: render.eye.width / render.eye.height }));
      send({ type: 'loaded', start: stereo.start });
    } catch (err) {
      send({ type: 'load-failed', message: (err as Error)?.message ?? String(err), code: isTesseraError(err) ? err.code : undefined, sceneFault: isSceneFault(err) });
    }
    return;
  }
  if (!stereo || !render) {
    send({ type: 'frame-failed', id: message.id, message: 'no scene loaded' });
    return;
  }
  try {
    const { width, height } = render.eye;
    const frame = stereo.render(message.eyes, pixelBuffer(width * message.eyes.length * height * 4));
    send({ type: 'rendered', id: message.id, width: frame.width, height: frame.height, renderMs: frame.renderMs + frame.readbackMs });
    const job: EncodeRequest = { id: message.id, data: frame.data, depth: frame.depth, width: frame.width, height: frame.height, render: { format: render.format, quality: render.quality } };
    encoder.postMessage(job, [frame.data.buffer as ArrayBuffer, ...(frame.depth ? [frame.depth.buffer as ArrayBuffer] : [])]);
  } catch (err) {
    send({ type: 'frame-failed', id: message.id, message: (err as Error)?.message ?? String(err) });
  }
});
send({ type: 'ready' });
