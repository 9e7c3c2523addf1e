/**
 * The WebGL 2 backend: headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) running the
 * shared render pipeline bundled by Vite (web/render-host.html → web/dist, `npm run build:web`), on llvmpipe
 * through ANGLE's EGL backend. The page is served from web/dist by request interception (no port, no network);
 * scenes go in and RGBA8 pixels come out through page.evaluate, so checking, tiling, stitching and encoding stay
 * in Node exactly as with headless-gl.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { ERRORS, TesseraError, type ErrorCode } from '../../api/protocol/errors.ts';
import type { TileRect, ViewSpec } from '../../api/protocol/render-spec.ts';
import type { GLBackendInfo } from '../gl/gl-backend.ts';
import type { RenderResult } from '../render/frame-renderer.ts';
import type { SceneHandle, SceneRenderer } from '../render/scene-renderer.ts';
import { versionOf } from '../version.ts';
import type { EyePose, SessionRender } from '../../api/protocol/session.ts';
import type { StartView } from '../render/stereo-renderer.ts';
import type { HostResult, RenderHostApi, SessionEncodeIn } from './render-host-api.ts';

/** Where `npm run build:web` writes the render host page and its bundle. */
export const RENDER_HOST_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));
const ORIGIN = 'http://render-host.tessera.invalid';

export interface ChromiumRenderHostOptions {
  /** The Chromium binary (default `$TESSERA_CHROMIUM` or /usr/bin/chromium). */
  executablePath?: string;
  /** The built web assets holding render-host.html (default web/dist). */
  dist?: string;
  /** How long Chromium may take to start and the page to initialise, in ms. */
  startTimeoutMs?: number;
  /**
   * Longest one call into the page (a scene load, a tile) may take, in ms: past it Chromium is killed (a hung
   * page, a GPU process stuck in a shader) and the call fails with RENDER_FAILED; the host is closed after that.
   */
  callTimeoutMs?: number;
  /** Switches added to CHROMIUM_FLAGS (sessions add `--in-process-gpu`: see CHROMIUM_SESSION_FLAGS). */
  extraArgs?: readonly string[];
  /** Where the host says what it did on its own (a page reset after a failed call); default: a line on stderr. */
  log?: (message: string) => void;
}

/**
 * What a session's Chromium adds: the GPU thread in the browser process instead of a GPU process of its own. A session
 * frame crosses from the GPU side to the page once (the canvas snapshot that toBlob encodes) and back to the
 * driver as a small encoded image; in process that hop is a thread switch, not a process switch. Measured with
 * bench/session-encode-bench.ts (textured-pbr 2×512², 10 frames, loaded 2-core machine, runs alternated): 99 and
 * 112 ms per frame in process against 268 and 138 ms with a GPU process, the same Chromium CPU per frame (~75 ms).
 */
export const CHROMIUM_SESSION_FLAGS = ['--in-process-gpu'] as const;

export const CHROMIUM_RENDER_HOST_DEFAULTS = {
  executablePath: process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium',
  dist: RENDER_HOST_DIST,
  startTimeoutMs: 60_000,
  callTimeoutMs: 5 * 60_000,
  extraArgs: [] as readonly string[],
  log: (message: string) => void process.stderr.write(`${message}\n`),
} satisfies Required<ChromiumRenderHostOptions>;

/**
 * Chromium flags: headless, no sandbox (root in CI), WebGL 2 on Mesa llvmpipe through ANGLE/EGL, nothing phoning
 * home. No --disable-gpu: with it Chromium draws on SwiftShader instead of llvmpipe (slower here, and other pixels).
 */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-angle=gl-egl',
  '--ignore-gpu-blocklist',
];

/** Why the Chromium backend cannot start here, or null when it can (the binary, playwright-core and the built page are there). */
export function chromiumUnavailable(options: ChromiumRenderHostOptions = {}): string | null {
  const o = { ...CHROMIUM_RENDER_HOST_DEFAULTS, ...options };
  if (!existsSync(o.executablePath)) return `Chromium is not at ${o.executablePath} (apt-get install -y chromium, or set TESSERA_CHROMIUM)`;
  try {
    createRequire(import.meta.url).resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm install)';
  }
  if (!existsSync(join(o.dist, 'render-host.html'))) return `the render host page is not built (${join(o.dist, 'render-host.html')}; run npm run build:web)`;
  return null;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

type HostValue<M extends keyof RenderHostApi> = Awaited<ReturnType<RenderHostApi[M]>> extends HostResult<infer T> ? T : never;

/**
 * A scene loaded in the page. The host keeps its GLB so that it can load it again into a reset page (see `reset`):
 * `id` is the page's id for it in page generation `generation`.
 */
interface ChromiumScene extends SceneHandle {
  id: number;
  generation: number;
  readonly glb: Uint8Array;
  readonly maxTexturePixels: number;
  unloaded: boolean;
}

/** The Chromium backend: a SceneRenderer that can be killed by a call running too long, or lose its browser. */
export interface ChromiumSceneRenderer extends SceneRenderer {
  /** The browser is gone (disposed, killed after a call ran past callTimeoutMs, or crashed): every call now fails. */
  readonly closed: boolean;
  /**
   * How long the last reset of the page took, in ms (null: none yet). After any call into the page fails (a render
   * or a scene load that threw: it may have left WebGL or three.js state half-changed), the next call first loads the
   * page again; the scenes and the session loaded in it are loaded again as they are next used.
   */
  readonly lastResetMs: number | null;
  /** How many times the page was reset so far. */
  readonly resets: number;
  /** Forget a loaded scene in the page. */
  unload(scene: SceneHandle): Promise<void>;
  /** Start an interactive session on a loaded scene in the page (its render process drives one page per session). */
  startSession(scene: SceneHandle, render: SessionRender): Promise<StartView>;
  /** One pose of the session: both eyes side by side, encoded in the page or read back as RGBA8 (see SessionEncodeIn). */
  sessionFrame(eyes: EyePose[], encodeIn: SessionEncodeIn): Promise<ChromiumSessionFrame>;
  /**
   * One pose of the session, encoded in the page, in two steps: resolves once both eyes are drawn and the canvas is
   * snapshotted for encoding (the page can draw the next pose), with `encoded`, the page's encode of this one.
   * Measured against `sessionFrame` (bench:session-encode, `page-overlap`): drawing the next pose while the page
   * encodes made frames slower and later on 2 cores (the encode shares Chromium's threads with the draw), so
   * sessions do not use it; kept for the bench.
   */
  sessionDraw(eyes: EyePose[]): Promise<ChromiumSessionDrawn>;
  /** TEST ONLY: the next `render` meets this fault in the page (see RenderHostApi.testFault). */
  testFault(kind: 'throw-in-draw'): Promise<void>;
}

/** A session frame drawn in the page whose encode is still running there (`sessionDraw`). */
export interface ChromiumSessionDrawn {
  width: number;
  height: number;
  renderMs: number;
  /** The encoded image (and depth image), and the page's encode time. */
  encoded: Promise<{ image: Uint8Array; depth: Uint8Array | null; encodeMs: number }>;
}

/** A session frame from the page: `image` is the encoded frame (`page`) or straight-alpha RGBA8 rows (`node`). */
export interface ChromiumSessionFrame {
  image: Uint8Array;
  depth: Uint8Array | null;
  width: number;
  height: number;
  renderMs: number;
  /** Encoding in the page (`page`), or reading back (`node`). */
  encodeMs: number;
  /** The page.evaluate round trip less the page's own work: the transfer (base64 both ways), CDP hops. */
  transferMs: number;
}

/** Start headless Chromium with the render host page; throws GL_UNAVAILABLE with the reason when it cannot. */
export async function startChromiumRenderHost(options: ChromiumRenderHostOptions = {}): Promise<ChromiumSceneRenderer> {
  const o = { ...CHROMIUM_RENDER_HOST_DEFAULTS, ...options };
  const why = chromiumUnavailable(o);
  if (why) throw new TesseraError('GL_UNAVAILABLE', `The Chromium backend is unavailable: ${why}.`);
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (cause) {
    throw new TesseraError('GL_UNAVAILABLE', 'The Chromium backend needs playwright-core (npm install).', { cause });
  }
  let browser: Browser;
  // An unknown switch Chromium ignores: it finds this browser's processes to kill them (playwright's close is
  // graceful, and waits for a page stuck in a render).
  const marker = randomUUID();
  try {
    // Signals are the node's to handle (it drains, then closes Chromium): Playwright's own SIGTERM handler would
    // take a signal that arrives while the node starts, close the browser and leave the process running.
    browser = await chromium.launch({
      executablePath: o.executablePath,
      args: [...CHROMIUM_FLAGS, ...o.extraArgs, `--tessera-render-host=${marker}`],
      timeout: o.startTimeoutMs,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (cause) {
    throw new TesseraError('GL_UNAVAILABLE', `Could not start Chromium at ${o.executablePath}: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const root = normalize(o.dist + sep);
    await page.route(`${ORIGIN}/**`, async (route) => {
      const path = decodeURIComponent(new URL(route.request().url()).pathname);
      const file = normalize(join(root, path));
      if (!file.startsWith(root) || !/^[\w./-]+$/.test(path)) return route.fulfill({ status: 404, body: 'not found' });
      try {
        const body = await readFile(file);
        return route.fulfill({ status: 200, body, headers: { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' } });
      } catch {
        return route.fulfill({ status: 404, body: 'not found' });
      }
    });
    // Anything else (there should be nothing) is refused: the page renders offline.
    await page.route((url) => !url.href.startsWith(ORIGIN), (route) => route.abort());
    /** Load the render host page (again): a new document, a new WebGL context, nothing of the last page's state. */
    const openPage = async () => {
      await page.goto(`${ORIGIN}/render-host.html`, { timeout: o.startTimeoutMs });
      await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: o.startTimeoutMs }).catch((cause) => {
        throw new Error(`the render host page did not start${pageErrors.length ? `: ${pageErrors.join('; ')}` : ''}`, { cause });
      });
    };
    await openPage();
    let closed = false;
    /** Which load of the page this is: scenes and the session loaded in an earlier one are gone from it. */
    let generation = 0;
    /**
     * A call failed in this generation of the page: it may have left WebGL or three.js state half-changed (a throw
     * mid-render leaves the renderer drawing into a shadow map, its state stacks pushed), and the next call would
     * draw wrong pixels without an error. The next call resets the page first (`reset`).
     */
    let poisoned = false;
    let resetting: Promise<void> | null = null;
    browser.on('disconnected', () => (closed = true));
    /** Call `method` of the page's render host; a TesseraError from the page comes back with its code. */
    const call = <M extends keyof RenderHostApi>(method: M, ...args: Parameters<RenderHostApi[M]>): Promise<HostValue<M>> => callWithin(o.callTimeoutMs, method, ...args);
    /** `call` with its own time limit (initialising the page counts as starting, not as a render call). */
    const callWithin = async <M extends keyof RenderHostApi>(timeoutMs: number, method: M, ...args: Parameters<RenderHostApi[M]>): Promise<HostValue<M>> => {
      if (closed) throw new TesseraError('RENDER_FAILED', `The Chromium backend is closed (${method}); a new one must be started.`);
      if (method !== 'init') await ready();
      const calledIn = generation;
      try {
        return await callPage(timeoutMs, method, ...args);
      } catch (err) {
        // Only a failure in the current page poisons it (a call cut off by a reset failed because of the reset).
        if (calledIn === generation) poisoned = true;
        throw err;
      }
    };
    const callPage = async <M extends keyof RenderHostApi>(timeoutMs: number, method: M, ...args: Parameters<RenderHostApi[M]>): Promise<HostValue<M>> => {
      let result: HostResult<HostValue<M>>;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // A hung page: kill Chromium (the only way to stop a page stuck in script or in the GPU process).
          closed = true;
          killProcessesWith(marker).finally(() => browser.close().catch(() => undefined));
          reject(new TesseraError('RENDER_FAILED', `The Chromium backend's ${method} ran past ${timeoutMs} ms; Chromium was killed.`));
        }, timeoutMs);
      });
      try {
        const evaluated = page.evaluate(
          ([m, a]: [string, unknown[]]) => (window as unknown as Record<string, Record<string, (...x: unknown[]) => unknown>>).tesseraRenderHost[m](...a),
          [method, args as unknown[]] as [string, unknown[]],
        ) as Promise<HostResult<HostValue<M>>>;
        evaluated.catch(() => undefined);
        result = await Promise.race([evaluated, timedOut]);
      } catch (cause) {
        if (cause instanceof TesseraError) throw cause;
        throw new TesseraError('RENDER_FAILED', `The Chromium backend failed during ${method}: ${(cause as Error).message.split('\n')[0]}`, { cause });
      } finally {
        clearTimeout(timer);
      }
      if (result.ok) return result.value;
      const code = result.error.code && result.error.code in ERRORS ? (result.error.code as ErrorCode) : 'RENDER_FAILED';
      throw new TesseraError(code, result.error.code ? result.error.message : `${method} in Chromium: ${result.error.message}`);
    };
    const encoder = `sharp/${versionOf('sharp')}`;
    const { info, version } = await callWithin(o.startTimeoutMs, 'init', encoder);
    /** The session the page runs (to start it again in a reset page), and the generation it was started in. */
    let session: { scene: ChromiumScene; render: SessionRender; generation: number } | null = null;
    /**
     * Reset a poisoned page: load it again and initialise it (a new document, WebGL context and renderer, no scenes).
     * Measured (test/chromium-reset.test.ts, 2 loaded cores): 420–640 ms, of which the page load 260–370 ms and init
     * 115–220 ms; starting Chromium again costs 1.3–2.4 s for the same clean page. Recreating the renderer in the
     * page would cost about the init alone, but keeps the page's JS state (three's module-level caches, the session,
     * the renderer's scratch objects) from the call that failed: a reset must not depend on knowing what a throw
     * left behind, and failures are rare enough for the ~300 ms more.
     */
    const reset = async () => {
      const t0 = performance.now();
      // From here on, a call still running in the old page that fails (cut off by the reload) poisons nothing.
      generation++;
      try {
        await openPage();
        const again = await callPage(o.startTimeoutMs, 'init', encoder);
        if (again.version !== version) throw new Error(`the reset page renders as ${again.version}, not ${version}`);
      } catch (cause) {
        // A page that does not come back: this host is done (a node starts Chromium again, see node-backends.ts).
        closed = true;
        killProcessesWith(marker).finally(() => browser.close().catch(() => undefined));
        throw new TesseraError('RENDER_FAILED', `The Chromium backend's page could not be reset after a failed call: ${(cause as Error).message.split('\n')[0]}`, { cause });
      }
      poisoned = false;
      resets++;
      lastResetMs = performance.now() - t0;
      o.log(`Chromium backend: the page was loaded again after a failed call (${Math.round(lastResetMs)} ms; ${resets} reset(s) so far)`);
    };
    let lastResetMs: number | null = null;
    let resets = 0;
    /** Wait for a reset under way, or reset the page when the last call failed. */
    const ready = async (): Promise<void> => {
      while (poisoned || resetting) {
        resetting ??= reset().finally(() => (resetting = null));
        await resetting;
      }
    };
    /** The page's id for `scene`, loading it (again) into a page that was reset since it was loaded. */
    const idOf = async (handle: SceneHandle): Promise<number> => {
      const scene = handle as ChromiumScene;
      if (scene.unloaded) throw new TesseraError('RENDER_FAILED', 'The scene was unloaded from the Chromium backend.');
      await ready();
      if (scene.generation !== generation) {
        const loadedIn = generation;
        const r = await call('load', base64Of(scene.glb), scene.maxTexturePixels);
        if (loadedIn === generation) {
          scene.id = r.id;
          scene.generation = generation;
        } else return idOf(handle); // reset again while it loaded
      }
      return scene.id;
    };
    /** The session started again in a page that was reset since it was started. */
    const sessionReady = async () => {
      await ready();
      if (session && session.generation !== generation) {
        const { scene, render } = session;
        await call('sessionStart', await idOf(scene), render);
        session.generation = generation;
      }
    };
    let disposed = false;
    const host: ChromiumSceneRenderer = {
      get closed() {
        return closed;
      },
      version,
      info: info as GLBackendInfo,
      get lastResetMs() {
        return lastResetMs;
      },
      get resets() {
        return resets;
      },
      async load(glb, limits) {
        await ready();
        const loadedIn = generation;
        const r = await call('load', base64Of(glb), limits.maxTexturePixels);
        return { id: r.id, generation: loadedIn, warnings: r.warnings, glb, maxTexturePixels: limits.maxTexturePixels, unloaded: false } satisfies ChromiumScene;
      },
      lastFrame: async (scene, view) => call('lastFrame', await idOf(scene), view),
      async plan(scene, view, frame) {
        await call('plan', await idOf(scene), view, frame);
      },
      async render(scene: SceneHandle, view: ViewSpec, frame: number, tile?: TileRect): Promise<RenderResult> {
        const r = await call('render', await idOf(scene), view, frame, tile);
        const data = new Uint8Array(Buffer.from(r.data, 'base64'));
        return { data, width: r.width, height: r.height, timings: r.timings };
      },
      async unload(handle) {
        const scene = handle as ChromiumScene;
        if (scene.unloaded) return;
        scene.unloaded = true;
        if (session?.scene === scene) session = null;
        // A scene loaded in an earlier page is gone with it.
        if (!closed && !poisoned && scene.generation === generation) await call('unload', scene.id);
      },
      async startSession(handle, render) {
        const scene = handle as ChromiumScene;
        const start = await call('sessionStart', await idOf(scene), render);
        session = { scene, render, generation };
        return start;
      },
      async sessionFrame(eyes, encodeIn) {
        await sessionReady();
        const t0 = performance.now();
        const r = await call('sessionFrame', eyes, encodeIn);
        const image = new Uint8Array(Buffer.from(r.image, 'base64'));
        const depth = r.depth === null ? null : new Uint8Array(Buffer.from(r.depth, 'base64'));
        const transferMs = Math.max(0, performance.now() - t0 - r.renderMs - r.encodeMs);
        return { image, depth, width: r.width, height: r.height, renderMs: r.renderMs, encodeMs: r.encodeMs, transferMs };
      },
      async sessionDraw(eyes) {
        await sessionReady();
        const d = await call('sessionDraw', eyes);
        // Asked for at once: the page answers when its encode is done, while it draws the next pose meanwhile.
        const encoded = call('sessionEncoded', d.id).then((e) => ({
          image: new Uint8Array(Buffer.from(e.image, 'base64')),
          depth: e.depth === null ? null : new Uint8Array(Buffer.from(e.depth, 'base64')),
          encodeMs: e.encodeMs,
        }));
        encoded.catch(() => undefined);
        return { width: d.width, height: d.height, renderMs: d.renderMs, encoded };
      },
      async testFault(kind) {
        await call('testFault', kind);
      },
      async dispose() {
        if (disposed) return;
        disposed = true;
        closed = true;
        await browser.close().catch(() => undefined);
      },
    };
    return host;
  } catch (err) {
    await browser.close().catch(() => undefined);
    if (err instanceof TesseraError) throw err;
    throw new TesseraError('GL_UNAVAILABLE', `The Chromium backend could not start: ${(err as Error).message}`, { cause: err });
  }
}

function base64Of(glb: Uint8Array): string {
  return Buffer.from(glb.buffer, glb.byteOffset, glb.byteLength).toString('base64');
}

/**
 * SIGKILL every process whose command line holds `marker` (this browser's, by the switch it was launched with).
 * Linux /proc; elsewhere nothing is found and playwright's close is all there is.
 */
async function killProcessesWith(marker: string): Promise<void> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return;
  }
  await Promise.all(
    pids.map(async (pid) => {
      try {
        if ((await readFile(`/proc/${pid}/cmdline`, 'latin1')).includes(marker)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already, or not ours to read
      }
    }),
  );
}
