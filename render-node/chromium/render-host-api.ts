/**
 * The contract between the render host page (web/src/render-host/main.ts) and its Node driver (chromium-render-host.ts):
 * every call resolves to `{ ok, value }` or `{ ok: false, error: { code, message } }`, so a TesseraError thrown in
 * the page keeps its code across page.evaluate (which would otherwise flatten it into a message).
 */
import { isTesseraError } from '../../api/protocol/errors.ts';
import type { TileRect, ViewSpec } from '../../api/protocol/render-spec.ts';
import type { GLBackendInfo } from '../gl/gl-backend.ts';
import type { RenderTimings } from '../render/frame-renderer.ts';
import type { EyePose, SessionRender } from '../../api/protocol/session.ts';
import type { StartView } from '../render/stereo-renderer.ts';

/** Where a Chromium session's frames are encoded: in the page (canvas.toBlob) or in Node (pixels read back, sharp). */
export type SessionEncodeIn = 'page' | 'node';

/** One session frame out of the page: both eyes side by side, encoded (`page`) or as straight-alpha RGBA8 (`node`), base64. */
export interface HostSessionFrame {
  /** The session's image format (`page`) or raw RGBA8 rows top-down (`node`). */
  image: string;
  /** With depth: the `rg8-mm-png` depth image (`page`: an RGBA PNG from the canvas) or its RGBA8 pixels (`node`). */
  depth: string | null;
  width: number;
  height: number;
  /** Drawing both eyes (and the depth pass), GL finished. */
  renderMs: number;
  /** `page`: the canvas encodes; `node`: the colour readback. */
  encodeMs: number;
}

/** A session frame drawn in the page (`sessionDraw`): its encode runs on in the page until `sessionEncoded` takes it. */
export interface HostSessionDrawn {
  /** Hand this to `sessionEncoded`. */
  id: number;
  width: number;
  height: number;
  /** Drawing both eyes (and the depth pass), GL finished. */
  renderMs: number;
}

/** The encoded images of a frame `sessionDraw` drew, base64 (as in HostSessionFrame with `page`). */
export interface HostSessionEncoded {
  image: string;
  depth: string | null;
  /** From the canvas snapshot to the encoded image (it may have waited behind the next frame's draw). */
  encodeMs: number;
}

export type HostResult<T> = { ok: true; value: T } | { ok: false; error: { code: string | null; message: string } };

export interface RenderHostApi {
  /** Create the WebGL 2 backend and renderer once; `encoder` names the Node encoder in the identity. */
  init(encoder: string): Promise<HostResult<{ info: GLBackendInfo; version: string }>>;
  /** Load a normalized GLB (base64); returns a scene id. */
  load(glb: string, maxTexturePixels: number): Promise<HostResult<{ id: number; warnings: string[] }>>;
  lastFrame(id: number, view: ViewSpec): Promise<HostResult<number>>;
  plan(id: number, view: ViewSpec, frame: number): Promise<HostResult<null>>;
  /** Render a tile (default the whole frame): straight-alpha sRGB RGBA8 rows top-down, base64. */
  render(id: number, view: ViewSpec, frame: number, tile?: TileRect): Promise<HostResult<{ data: string; width: number; height: number; timings: RenderTimings }>>;
  unload(id: number): Promise<HostResult<null>>;
  /**
   * Start an interactive session on a loaded scene (one at a time per page: a new one replaces the last): pose and
   * light it, draw the start view once (shader compiles, texture uploads, shadow maps), return the start view.
   */
  sessionStart(id: number, render: SessionRender): Promise<HostResult<StartView>>;
  /** Render one pose of the session: both eyes in one pass (two scissored viewports), then the depth pass if asked. */
  sessionFrame(eyes: EyePose[], encodeIn: SessionEncodeIn): Promise<HostResult<HostSessionFrame>>;
  /**
   * `sessionFrame` with the page's encode in two steps: draw one pose and snapshot the canvas for encoding (toBlob),
   * answering as soon as the snapshot is taken, so the next pose can be drawn while this one encodes; its encoded
   * images come from `sessionEncoded(id)` (each id once; a drawn frame not taken is kept until it is).
   */
  sessionDraw(eyes: EyePose[]): Promise<HostResult<HostSessionDrawn>>;
  sessionEncoded(id: number): Promise<HostResult<HostSessionEncoded>>;
  /**
   * TEST ONLY: arm a fault for the next `render` (`throw-in-draw`: the scene's meshes throw from inside three's draw,
   * leaving the renderer mid-render, as a scene that makes three throw does). Only the Node driver can call it.
   */
  testFault(kind: 'throw-in-draw'): Promise<HostResult<null>>;
}

/** Run `fn`, turning a throw into an error result that keeps a TesseraError's code. */
export async function hostCall<T>(fn: () => T | Promise<T>): Promise<HostResult<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    const e = err as Error;
    return { ok: false, error: { code: isTesseraError(err) ? (err as { code: string }).code : null, message: e?.message ?? String(err) } };
  }
}
