/**
 * A farm node's GL backends (`tessera node start --backend auto|chromium|headless-gl`): headless-gl in the render
 * process (WebGL 1), headless Chromium (WebGL 2, render-node/chromium/), or both (`auto`: a scene that needs WebGL 2
 * goes to Chromium, every other to headless-gl). What the card says comes from here (`backends`), and each loaded
 * scene remembers the backend and renderer identity it renders with (the EXIF `Software` of its frames).
 *
 * Chromium is started with the render process and started again after it dies (a call that ran past its timeout
 * kills it): scenes loaded in the dead one are loaded again into the new one on their next render. A call that fails
 * inside the page (a render or load that threw) does not kill Chromium: the host loads its page again before the next
 * call and loads its scenes again itself (chromium-render-host.ts), so honest tasks never meet a poisoned page.
 */
import { TesseraError } from '../../api/protocol/errors.ts';
import type { CardBackend } from '../../api/protocol/node-card.ts';
import type { TileRect, ViewSpec } from '../../api/protocol/render-spec.ts';
import { glbExtensionsUsed } from '../../scene-check/glb-extensions-used.ts';
import { webgl2ExtensionsOf } from '../../scene-check/supported-extensions.ts';
import { chromiumUnavailable, startChromiumRenderHost, type ChromiumRenderHostOptions, type ChromiumSceneRenderer } from '../chromium/chromium-render-host.ts';
import { RENDER_BACKENDS, type RenderBackend, type RenderBackendChoice } from '../chromium/choose-backend.ts';
import type { GLBackendInfo } from '../gl/gl-backend.ts';
import type { FrameRenderer, RenderResult } from '../render/frame-renderer.ts';
import type { SceneHandle } from '../render/scene-renderer.ts';
import type { LoadedScene } from '../scene/load-scene.ts';

export { RENDER_BACKENDS, type RenderBackendChoice };

/** A scene loaded on one of the node's backends. */
export interface BackendScene {
  readonly backend: RenderBackend;
  /** The renderer identity its outputs carry. */
  readonly version: string;
  readonly warnings: string[];
  dispose(): void;
}

export interface NodeBackendsOptions {
  choice: RenderBackendChoice;
  /** Makes the headless-gl renderer (not called for `chromium`). */
  headlessGl: () => Promise<FrameRenderer>;
  chromium?: ChromiumRenderHostOptions;
  log?: (message: string) => void;
}

interface Entry extends BackendScene {
  glb: Uint8Array;
  limits: { maxTexturePixels: number };
  /** headless-gl: the loaded scene. Chromium: the page's handle, valid for Chromium generation `generation`. */
  loaded: LoadedScene | SceneHandle;
  generation: number;
  disposed: boolean;
}

/** The node's backends; `info`/`version` are the default backend's (the card's `gl` and `version`). */
export class NodeBackends {
  readonly info: GLBackendInfo;
  readonly version: string;
  /** For the card: the default backend first. */
  readonly backends: CardBackend[];
  readonly #headless: FrameRenderer | null;
  #chromium: ChromiumSceneRenderer | null;
  #starting: Promise<ChromiumSceneRenderer> | null = null;
  #generation = 0;
  readonly #options: NodeBackendsOptions;

  private constructor(options: NodeBackendsOptions, headless: FrameRenderer | null, chromium: ChromiumSceneRenderer | null) {
    this.#options = options;
    this.#headless = headless;
    this.#chromium = chromium;
    const first = headless ? { info: headless.backend.info, version: headless.version } : { info: chromium!.info, version: chromium!.version };
    this.info = first.info;
    this.version = first.version;
    this.backends = [
      ...(headless ? [{ id: 'headless-gl', webgl2: headless.backend.info.webgl2, version: headless.version }] : []),
      ...(chromium ? [{ id: 'chromium', webgl2: chromium.info.webgl2, version: chromium.version }] : []),
    ];
  }

  /**
   * Start the backends `choice` asks for. `chromium` without Chromium fails (GL_UNAVAILABLE); `auto` without it
   * runs on headless-gl alone (the card then has no WebGL 2), saying why through `log`.
   */
  static async start(options: NodeBackendsOptions): Promise<NodeBackends> {
    const { choice } = options;
    const headless = choice === 'chromium' ? null : await options.headlessGl();
    let chromium: ChromiumSceneRenderer | null = null;
    if (choice !== 'headless-gl') {
      const why = chromiumUnavailable(options.chromium);
      if (why && choice === 'auto') options.log?.(`--backend auto: no WebGL 2 backend, scenes that need it go to other nodes (${why})`);
      else {
        try {
          chromium = await startChromiumRenderHost(options.chromium);
        } catch (err) {
          if (choice === 'chromium') {
            headless?.dispose();
            throw err;
          }
          options.log?.(`--backend auto: Chromium did not start, scenes that need WebGL 2 go to other nodes (${(err as Error).message})`);
        }
        if (chromium && !chromium.info.webgl2) {
          await chromium.dispose();
          chromium = null;
          if (choice === 'chromium') throw new TesseraError('GL_UNAVAILABLE', 'Chromium started without WebGL 2 (no llvmpipe through ANGLE/EGL?)');
        }
      }
    }
    return new NodeBackends(options, headless, chromium);
  }

  /** Whether the node renders scenes that need WebGL 2. */
  get webgl2(): boolean {
    return this.backends.some((b) => b.webgl2);
  }

  /**
   * Load a normalized GLB on the backend for it: Chromium when it needs WebGL 2 (or is the only one), else
   * headless-gl. `extensionsUsed` defaults to what the GLB's JSON lists.
   */
  async loadScene(glb: Uint8Array, limits: { maxTexturePixels: number }, extensionsUsed: readonly string[] = glbExtensionsUsed(glb)): Promise<BackendScene> {
    const needsWebgl2 = webgl2ExtensionsOf(extensionsUsed).length > 0;
    const onChromium = !this.#headless || (needsWebgl2 && this.backends.some((b) => b.id === 'chromium'));
    if (!onChromium) {
      const loaded = await this.#headless!.loadScene(glb, limits);
      const entry: Entry = { backend: 'headless-gl', version: this.#headless!.version, warnings: loaded.warnings, glb, limits, loaded, generation: 0, disposed: false, dispose: () => loaded.dispose() };
      return entry;
    }
    const host = await this.#chromiumHost();
    const loaded = await host.load(glb, limits);
    const generation = this.#generation;
    const entry: Entry = {
      backend: 'chromium',
      version: host.version,
      warnings: loaded.warnings,
      glb,
      limits,
      loaded,
      generation,
      disposed: false,
      dispose: () => {
        entry.disposed = true;
        if (entry.generation === this.#generation && this.#chromium && !this.#chromium.closed) this.#chromium.unload(entry.loaded).catch(() => undefined);
      },
    };
    return entry;
  }

  async render(scene: BackendScene, view: ViewSpec, frame: number, tile?: TileRect): Promise<RenderResult> {
    const entry = scene as Entry;
    if (entry.backend === 'headless-gl') return this.#headless!.render(entry.loaded as LoadedScene, view, frame, tile);
    const host = await this.#chromiumHost();
    if (entry.generation !== this.#generation) {
      // Chromium was started again since this scene was loaded: load it into the new page.
      entry.loaded = await host.load(entry.glb, entry.limits);
      entry.generation = this.#generation;
    }
    return host.render(entry.loaded, view, frame, tile);
  }

  /** The live Chromium, started again when the last one was killed or crashed. */
  async #chromiumHost(): Promise<ChromiumSceneRenderer> {
    if (this.#chromium && !this.#chromium.closed) return this.#chromium;
    if (!this.backends.some((b) => b.id === 'chromium')) throw new TesseraError('GL_UNAVAILABLE', 'This node has no Chromium backend.');
    this.#starting ??= (async () => {
      try {
        await this.#chromium?.dispose();
        this.#options.log?.('starting Chromium again (the last one was killed or crashed)');
        const host = await startChromiumRenderHost(this.#options.chromium);
        this.#chromium = host;
        this.#generation++;
        return host;
      } finally {
        this.#starting = null;
      }
    })();
    return this.#starting;
  }

  async dispose(): Promise<void> {
    this.#headless?.dispose();
    await this.#chromium?.dispose();
  }
}
