/**
 * The contract between the render host page (web/src/render-host/main.ts) and its Node driver (chromium-render-host.ts):
 * every call resolves to `{ ok, value }` or `{ ok: false, error: { code, message } }`, so a TesseraError thrown in
 * the page keeps its code across page.evaluate (which would otherwise flatten it into a message).
 */
import { isTesseraError } from '../../api/protocol/errors.ts';
import type { TileRect, ViewSpec } from '../../api/protocol/render-spec.ts';
import type { GLBackendInfo } from '../gl/gl-backend.ts';
import type { RenderTimings } from '../render/frame-renderer.ts';

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
