/**
 * A session's render process: one GL context serving one interactive session. It loads the session's
 * scene (through the node's scene cache on disk), then renders and encodes each pose its parent sends:
 * both eyes in one pass, JPEG (libjpeg-turbo, not mozjpeg: ~5× faster per frame) or WebP. It holds no
 * credentials and exits when its parent goes away.
 */
import sharp from 'sharp';
import { isTesseraError } from '../../api/protocol/errors.ts';
import type { SessionRender } from '../../api/protocol/session.ts';
import { stereoPose } from '../../api/protocol/session-pose.ts';
import { encodeDepthPng } from '../output/encode-image.ts';
import { createHeadlessGLBackend } from '../gl/headless-gl-backend.ts';
import { FrameRenderer } from '../render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render/node-render-platform.ts';
import { StereoRenderer } from '../render/stereo-renderer.ts';
import { isSceneFault } from './run-task.ts';
import { SceneCache } from './scene-cache.ts';
import type { SessionWorkerReply, SessionWorkerRequest, SessionWorkerSettings } from './session-process.ts';

const settings = JSON.parse(process.env.TESSERA_SESSION_SETTINGS ?? '{}') as SessionWorkerSettings;
const send = (reply: SessionWorkerReply) => process.send?.(reply);
process.on('disconnect', () => process.exit(0));

const frames = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
const scenes = new SceneCache(frames, { dir: settings.cacheDir, maxLoaded: 1, maxTexturePixels: settings.maxTexturePixels });
let stereo: StereoRenderer | undefined;
let render: SessionRender | undefined;

/** Encode straight-alpha RGBA as the session's format. */
async function encode(data: Uint8Array, width: number, height: number, r: SessionRender): Promise<Buffer> {
  const img = sharp(data, { raw: { width, height, channels: 4 } }).removeAlpha();
  return r.format === 'webp' ? img.webp({ quality: r.quality, effort: 0 }).toBuffer() : img.jpeg({ quality: r.quality, mozjpeg: false, chromaSubsampling: '4:2:0' }).toBuffer();
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
  const arrived = performance.now();
  try {
    const frame = stereo.render(message.eyes);
    const t0 = performance.now();
    const [image, depth] = await Promise.all([encode(frame.data, frame.width, frame.height, render), frame.depth ? encodeDepthPng(frame.depth, frame.width, frame.height) : null]);
    send({ type: 'frame', id: message.id, image, depth, width: frame.width, height: frame.height, renderMs: frame.renderMs + frame.readbackMs, encodeMs: performance.now() - t0, workMs: performance.now() - arrived });
  } catch (err) {
    send({ type: 'frame-failed', id: message.id, message: (err as Error)?.message ?? String(err) });
  }
});
send({ type: 'ready' });
