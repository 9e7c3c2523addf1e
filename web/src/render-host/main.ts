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

// The page's CSP allows no eval: zod must not probe for it.
zodConfig({ jitless: true });

let renderer: FrameRenderer | null = null;
const scenes = new Map<number, LoadedScene>();
let nextId = 1;

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
      const r = need().render(scene(id), view, frame, tile);
      return { data: toBase64(r.data), width: r.width, height: r.height, timings: r.timings };
    }),
  unload: (id: number) =>
    hostCall(() => {
      scenes.get(id)?.dispose();
      scenes.delete(id);
      return null;
    }),
};

(window as unknown as { tesseraRenderHost: RenderHostApi }).tesseraRenderHost = api;
document.documentElement.dataset.ready = 'true';

