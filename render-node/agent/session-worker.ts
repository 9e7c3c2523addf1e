/**
 * A session's render process: one GL context serving one interactive session. It loads the session's
 * scene (through the node's scene cache on disk), then renders each pose its parent sends (both eyes in one
 * pass), tells the parent at once that the render is done (so the parent can send the next pose), and hands
 * the pixels to its encoder thread (session-encoder.ts: JPEG with libjpeg-turbo, not mozjpeg: ~5× faster per
 * frame, or WebP), which sends the encoded frame to the parent on the frame pipe (fd 4) while this thread
 * draws the next pose: encoding overlaps the next render. It holds no credentials and exits when its parent
 * goes away.
 *
 * On the Chromium backend (a scene that needs WebGL 2 on a `--backend auto` node, or any scene on a `--backend
 * chromium` one; the choice is batch rendering's, chooseBackend), the process drives a headless Chromium page (the
 * render host, three r187 on WebGL 2) instead: the page draws both eyes in one pass with the same StereoRenderer and
 * encodes the canvas itself (canvas.toBlob, JPEG/WebP; depth as an RGBA PNG), and the encoded frame goes out through
 * the encoder thread's pipe like any other (`encodeIn: 'node'` reads the pixels back and encodes them with sharp
 * here instead; see docs/vr-sessions.md for which costs less).
 */
import { Worker } from 'node:worker_threads';
import { isTesseraError } from '../../api/protocol/errors.ts';
import type { SessionRender } from '../../api/protocol/session.ts';
import { stereoPose } from '../../api/protocol/session-pose.ts';
import { glbExtensionsUsed } from '../../scene-check/glb-extensions-used.ts';
import { chooseBackend, type RenderBackend } from '../chromium/choose-backend.ts';
import { CHROMIUM_SESSION_FLAGS, chromiumUnavailable, startChromiumRenderHost, type ChromiumSceneRenderer } from '../chromium/chromium-render-host.ts';
import { createHeadlessGLBackend } from '../gl/headless-gl-backend.ts';
import { FrameRenderer } from '../render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render/node-render-platform.ts';
import type { SceneHandle } from '../render/scene-renderer.ts';
import { StereoRenderer, type StartView } from '../render/stereo-renderer.ts';
import type { LoadedScene } from '../scene/load-scene.ts';
import { isSceneFault } from './run-task.ts';
import { SceneCache } from './scene-cache.ts';
import { renderedReplyDelayMs } from './test-fault.ts';
import type { EncodedFrame, EncodeRequest, EncoderReturn } from './session-encoder.ts';
import { FRAME_PIPE_FD, type SessionWorkerReply, type SessionWorkerRequest, type SessionWorkerSettings } from './session-process.ts';

const settings = JSON.parse(process.env.TESSERA_SESSION_SETTINGS ?? '{}') as SessionWorkerSettings;
const lateRenderedMs = renderedReplyDelayMs(); // TEST ONLY (TESSERA_TEST_FAULT=late-rendered); 0 otherwise
const send = (reply: SessionWorkerReply) => (reply.type === 'rendered' && lateRenderedMs > 0 ? void setTimeout(() => process.send?.(reply), lateRenderedMs) : process.send?.(reply));
let chromium: ChromiumSceneRenderer | null = null;
// Chromium (when this session renders there) is closed first: it must not outlive the process.
process.on('disconnect', () => void Promise.resolve(chromium?.dispose()).finally(() => process.exit(0)));

const choice = settings.backend ?? 'headless-gl';
const encodeIn = settings.encodeIn ?? 'page';
// headless-gl is made at start unless the node renders on Chromium alone; Chromium only for a scene that goes to it.
const frames = choice === 'chromium' ? null : new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);

/** The session's scene, loaded on the backend batch rendering would choose for it. */
type SessionScene = { backend: 'headless-gl'; loaded: LoadedScene; dispose(): void } | { backend: 'chromium'; handle: SceneHandle; dispose(): void };

const loader = {
  async loadScene(glb: Uint8Array, limits: { maxTexturePixels: number }): Promise<SessionScene> {
    const chromiumOptions = { extraArgs: CHROMIUM_SESSION_FLAGS, ...(settings.chromiumCallTimeoutMs ? { callTimeoutMs: settings.chromiumCallTimeoutMs } : {}) };
    // The decision of batch rendering (choose-backend.ts): `chromium` fails without Chromium, `auto` falls back.
    const decision = chooseBackend(choice, glbExtensionsUsed(glb), choice === 'headless-gl' ? null : chromiumUnavailable(chromiumOptions));
    const backend: RenderBackend = decision.backend;
    if (decision.warning) process.stderr.write(`session scene: ${decision.warning}\n`);
    if (backend === 'headless-gl') {
      const loaded = await frames!.loadScene(glb, limits);
      return { backend, loaded, dispose: () => loaded.dispose() };
    }
    chromium ??= await startChromiumRenderHost(chromiumOptions);
    const handle = await chromium.load(glb, limits);
    return { backend, handle, dispose: () => void chromium?.unload(handle).catch(() => undefined) };
  },
};
const scenes = new SceneCache(loader, { dir: settings.cacheDir, maxLoaded: 1, maxTexturePixels: settings.maxTexturePixels });
let stereo: StereoRenderer | undefined;
let render: SessionRender | undefined;
/** The session renders in a Chromium page (rather than with `stereo` here). */
let inPage = false;

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
      let start: StartView;
      if (loaded.backend === 'chromium') {
        // The page poses the scene, warms up from the start view (shaders, textures, shadow maps) and keeps the session.
        start = await chromium!.startSession(loaded.handle, render);
        inPage = true;
      } else {
        stereo = new StereoRenderer(frames!, loaded.loaded, render);
        // Warm up from the start view while loading: shader compiles, texture uploads and the shadow maps (drawn once
        // per session) happen here, under the load timeout, not in the client's first frame (which has the frame cap).
        start = stereo.start;
        stereo.render(stereoPose(start.position, start.target, { fov: start.fov, aspect: render.eye.width / render.eye.height }));
      }
      send({ type: 'loaded', start, backend: loaded.backend });
    } catch (err) {
      send({ type: 'load-failed', message: (err as Error)?.message ?? String(err), code: isTesseraError(err) ? err.code : undefined, sceneFault: isSceneFault(err) });
    }
    return;
  }
  if ((!stereo && !inPage) || !render) {
    send({ type: 'frame-failed', id: message.id, message: 'no scene loaded' });
    return;
  }
  try {
    const { width, height } = render.eye;
    if (inPage) {
      const f = await chromium!.sessionFrame(message.eyes, encodeIn);
      if (encodeIn === 'page') {
        send({ type: 'rendered', id: message.id, width: f.width, height: f.height, renderMs: f.renderMs });
        const job: EncodedFrame = { id: message.id, encoded: { image: f.image, depth: f.depth, encodeMs: f.encodeMs } };
        encoder.postMessage(job, [f.image.buffer as ArrayBuffer, ...(f.depth ? [f.depth.buffer as ArrayBuffer] : [])]);
      } else {
        // encodeMs is the page's readback here: part of the render, as on headless-gl.
        send({ type: 'rendered', id: message.id, width: f.width, height: f.height, renderMs: f.renderMs + f.encodeMs });
        const job: EncodeRequest = { id: message.id, data: f.image, depth: f.depth, width: f.width, height: f.height, render: { format: render.format, quality: render.quality } };
        encoder.postMessage(job, [f.image.buffer as ArrayBuffer, ...(f.depth ? [f.depth.buffer as ArrayBuffer] : [])]);
      }
      return;
    }
    const frame = stereo!.render(message.eyes, pixelBuffer(width * message.eyes.length * height * 4));
    send({ type: 'rendered', id: message.id, width: frame.width, height: frame.height, renderMs: frame.renderMs + frame.readbackMs });
    const job: EncodeRequest = { id: message.id, data: frame.data, depth: frame.depth, width: frame.width, height: frame.height, render: { format: render.format, quality: render.quality } };
    encoder.postMessage(job, [frame.data.buffer as ArrayBuffer, ...(frame.depth ? [frame.depth.buffer as ArrayBuffer] : [])]);
  } catch (err) {
    send({ type: 'frame-failed', id: message.id, message: (err as Error)?.message ?? String(err) });
  }
});
send({ type: 'ready' });
