/**
 * The render host page: the same render pipeline as `tessera render --local` and the /join tab (FrameRenderer,
 * scene loader, studio environment, tiling) on a WebGL 2 canvas, exposed as `window.tesseraRenderHost` for
 * headless Chromium driven from Node (render-node/chromium/chromium-render-host.ts). Scenes arrive as base64 GLB
 * (already checked and normalized in Node), pixels leave as base64 RGBA8; encoding stays in Node (sharp).
 */
import { REVISION } from 'three';
import { config as zodConfig } from 'zod';
import type { TileRect, ViewSpec } from '../../../api/protocol/render-spec.ts';
import { createCanvasGLBackend } from '../../../render-node/gl/canvas-gl-backend.ts';
import type { GLBackendInfo } from '../../../render-node/gl/gl-backend.ts';
import { FrameRenderer } from '../../../render-node/render/frame-renderer.ts';
import { browserRendererIdentity } from '../../../render-node/render/renderer-identity.ts';
import type { LoadedScene } from '../../../render-node/scene/load-scene.ts';
import { createBitmapImageDecoder } from '../../../render-node/scene/bitmap-image-decoder.ts';
import { hostCall, type RenderHostApi } from '../../../render-node/chromium/render-host-api.ts';
import { transcodeKtx2InPage } from './browser-basis.ts';
import type { EyePose, SessionRender } from '../../../api/protocol/session.ts';
import { stereoPose } from '../../../api/protocol/session-pose.ts';
import { StereoRenderer } from '../../../render-node/render/stereo-renderer.ts';

// The page's CSP allows no eval: zod must not probe for it.
zodConfig({ jitless: true });

let renderer: FrameRenderer | null = null;
const scenes = new Map<number, LoadedScene>();
let nextId = 1;
/** The interactive session this page renders (a session's render process drives one page). */
const onePixel = new Uint8Array(4);
let session: { stereo: StereoRenderer; render: SessionRender } | null = null;

function need(): FrameRenderer {
  if (!renderer) throw new Error('the render host is not initialised (call init first)');
  return renderer;
}
function scene(id: number): LoadedScene {
  const s = scenes.get(id);
  if (!s) throw new Error(`scene ${id} is not loaded in the render host`);
  return s;
}

function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
/** The canvas as an image file, snapshotted now (the spec copies the bitmap when toBlob is called), encoded later. */
function canvasBlob(canvas: HTMLCanvasElement, type: string, quality?: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => {
        if (!blob) return reject(new Error(`the canvas could not be encoded as ${type}`));
        blob.arrayBuffer().then((b) => resolve(new Uint8Array(b)), reject);
      },
      type,
      quality,
    ),
  );
}

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + step) as unknown as number[]);
  return btoa(bin);
}

const api: RenderHostApi = {
  init: (encoder: string) =>
    hostCall(() => {
      if (!renderer) {
        const canvas = document.getElementById('gl') as HTMLCanvasElement;
        const backend = createCanvasGLBackend(canvas, { backend: 'chromium' });
        const version = browserRendererIdentity({ backend: backend.info.backend, three: REVISION, renderer: backend.info.renderer, encoder });
        // KTX2 textures are transcoded in the page with three's Basis transcoder, as headless-gl nodes do in Node.
        renderer = new FrameRenderer(backend, { images: createBitmapImageDecoder({ transcodeKtx2: transcodeKtx2InPage }), version, transmission: true });
      }
      return { info: renderer.backend.info as GLBackendInfo, version: renderer.version };
    }),
  load: (glb: string, maxTexturePixels: number) =>
    hostCall(async () => {
      const loaded = await need().loadScene(fromBase64(glb), { maxTexturePixels });
      const id = nextId++;
      scenes.set(id, loaded);
      return { id, warnings: loaded.warnings };
    }),
  lastFrame: (id: number, view: ViewSpec) => hostCall(() => need().lastFrame(scene(id), view)),
  plan: (id: number, view: ViewSpec, frame: number) =>
    hostCall(() => {
      need().plan(scene(id), view, frame);
      return null;
    }),
  render: (id: number, view: ViewSpec, frame: number, tile?: TileRect) =>
    hostCall(() => {
      const loaded = scene(id);
      const undoFault = testFault === 'throw-in-draw' ? throwInDraw(loaded) : null;
      testFault = null;
      try {
        const r = need().render(loaded, view, frame, tile);
        return { data: toBase64(r.data), width: r.width, height: r.height, timings: r.timings };
      } finally {
        undoFault?.();
      }
    }),
  unload: (id: number) =>
    hostCall(() => {
      scenes.get(id)?.dispose();
      scenes.delete(id);
      return null;
    }),
  sessionStart: (id: number, render: SessionRender) =>
    hostCall(() => {
      const stereo = new StereoRenderer(need(), scene(id), render);
      session = { stereo, render };
      // Warm up from the start view: shader compiles, texture uploads and the shadow maps (drawn once per session).
      const { position, target, fov } = stereo.start;
      stereo.render(stereoPose(position, target, { fov, aspect: render.eye.width / render.eye.height }));
      return stereo.start;
    }),
  sessionFrame: (eyes: EyePose[], encodeIn: 'page' | 'node') =>
    hostCall(async () => {
      if (!session) throw new Error('no session started in the render host');
      const { stereo } = session;
      if (encodeIn === 'node') {
        const f = stereo.render(eyes);
        return { image: toBase64(f.data), depth: f.depth ? toBase64(f.depth) : null, width: f.width, height: f.height, renderMs: f.renderMs, encodeMs: f.readbackMs };
      }
      const drawn = drawSession(eyes);
      const encoded = await drawn.encoded;
      return { ...encoded, width: drawn.width, height: drawn.height, renderMs: drawn.renderMs };
    }),
  sessionDraw: (eyes: EyePose[]) =>
    hostCall(() => {
      const { encoded, ...drawn } = drawSession(eyes);
      const id = nextDrawn++;
      encoded.catch(() => undefined);
      drawnFrames.set(id, encoded);
      return { id, ...drawn };
    }),
  testFault: (kind: 'throw-in-draw') =>
    hostCall(() => {
      testFault = kind;
      return null;
    }),
  sessionEncoded: (id: number) =>
    hostCall(async () => {
      const encoded = drawnFrames.get(id);
      if (!encoded) throw new Error(`no drawn session frame ${id} in the render host`);
      drawnFrames.delete(id);
      return encoded;
    }),
};

/** TEST ONLY (`testFault`): the fault the next render meets. */
let testFault: 'throw-in-draw' | null = null;

/**
 * TEST ONLY: make every mesh of `loaded` throw from inside three's draw (the shadow pass's onBeforeShadow first, else
 * the main pass's onBeforeRender), as three r187 itself threw for a mesh with COLOR_0 morph targets only: the
 * renderer is left mid-render. Returns what puts the meshes back.
 */
function throwInDraw(loaded: LoadedScene): () => void {
  const undo: (() => void)[] = [];
  const fail = () => {
    throw new Error('test fault: a mesh threw inside three.js\'s draw');
  };
  for (const root of loaded.scenes) {
    root.traverse((o) => {
      if (!(o as { isMesh?: boolean }).isMesh) return;
      const { onBeforeShadow, onBeforeRender } = o;
      o.onBeforeShadow = fail;
      o.onBeforeRender = fail;
      undo.push(() => {
        o.onBeforeShadow = onBeforeShadow;
        o.onBeforeRender = onBeforeRender;
      });
    });
  }
  return () => undo.forEach((u) => u());
}

/** Frames `sessionDraw` drew, encoding (or encoded) until `sessionEncoded` takes them. */
const drawnFrames = new Map<number, Promise<{ image: string; depth: string | null; encodeMs: number }>>();
let nextDrawn = 1;

/**
 * Draw one pose of the session and snapshot the canvas for encoding (and the depth pass and its snapshot): returns
 * when the snapshots are taken, with the encode still running (`encoded`).
 */
function drawSession(eyes: EyePose[]) {
  if (!session) throw new Error('no session started in the render host');
  const { stereo, render } = session;
  const canvas = need().backend.canvas as HTMLCanvasElement;
  const t0 = performance.now();
  const colour = stereo.drawColour(eyes);
  // Chromium's finish() does not wait for the GPU process: a one-pixel readback does, so renderMs is the render.
  const gl = need().backend.context;
  gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, onePixel);
  colour.ms = performance.now() - t0;
  // Both encodes start from snapshots taken here and run while the depth pass draws (and each other).
  const t1 = performance.now();
  const image = canvasBlob(canvas, render.format === 'webp' ? 'image/webp' : 'image/jpeg', render.quality / 100);
  let depthMs = 0;
  let depth: Promise<Uint8Array> | null = null;
  if (render.depth) {
    const d0 = performance.now();
    stereo.drawDepth(eyes.length, false);
    gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, onePixel);
    depthMs = performance.now() - d0;
    depth = canvasBlob(canvas, 'image/png');
  }
  const encoded = Promise.all([image, depth]).then(([img, dep]) => ({ image: toBase64(img), depth: dep ? toBase64(dep) : null, encodeMs: performance.now() - t1 - depthMs }));
  return { width: colour.width, height: colour.height, renderMs: colour.ms + depthMs, encoded };
}

(window as unknown as { tesseraRenderHost: RenderHostApi }).tesseraRenderHost = api;
document.documentElement.dataset.ready = 'true';

