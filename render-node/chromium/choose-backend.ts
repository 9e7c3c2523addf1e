/**
 * Which GL backend renders a scene: headless-gl (WebGL 1, in process) or headless Chromium (WebGL 2). `auto`
 * takes Chromium only for scenes that need WebGL 2 and only when Chromium can start here; otherwise
 * headless-gl, with a warning naming what will be rendered without.
 */
import { TesseraError } from '../../api/protocol/errors.ts';
import { WEBGL2_EXTENSIONS } from '../../scene-check/supported-extensions.ts';

export { WEBGL2_EXTENSIONS };

export const RENDER_BACKENDS = ['auto', 'chromium', 'headless-gl'] as const;
export type RenderBackendChoice = (typeof RENDER_BACKENDS)[number];
export type RenderBackend = Exclude<RenderBackendChoice, 'auto'>;

/**
 * Extensions the Chromium backend cannot render: none now (its page transcodes KTX2 with three's Basis
 * transcoder, web/src/render-host/browser-basis.ts). Kept as the place to name one.
 */
export const CHROMIUM_UNSUPPORTED_EXTENSIONS: readonly string[] = [];

export interface BackendDecision {
  backend: RenderBackend;
  /** Why auto fell back to headless-gl for a scene that needs WebGL 2. */
  warning?: string;
}

/** Parse a `--backend` value. */
export function parseBackendChoice(value: string): RenderBackendChoice {
  if ((RENDER_BACKENDS as readonly string[]).includes(value)) return value as RenderBackendChoice;
  throw new TesseraError('BAD_SPEC', `Unknown backend "${value}"; use ${RENDER_BACKENDS.join(', ')}.`);
}

/**
 * Decide the backend for a scene using `extensionsUsed`. `chromiumProblem` is why Chromium cannot start here
 * (chromiumUnavailable()), or null when it can.
 */
export function chooseBackend(choice: RenderBackendChoice, extensionsUsed: readonly string[], chromiumProblem: string | null): BackendDecision {
  const needs = extensionsUsed.filter((e) => WEBGL2_EXTENSIONS.includes(e));
  const blocks = extensionsUsed.filter((e) => CHROMIUM_UNSUPPORTED_EXTENSIONS.includes(e));
  if (choice === 'chromium') {
    if (chromiumProblem) throw new TesseraError('GL_UNAVAILABLE', `--backend chromium: ${chromiumProblem}.`);
    if (blocks.length) throw new TesseraError('SCENE_UNSUPPORTED', `--backend chromium cannot render ${blocks.join(', ')}; use --backend headless-gl.`);
    return { backend: 'chromium' };
  }
  const without = needs.length ? `${needs.join(', ')} need${needs.length === 1 ? 's' : ''} WebGL 2; headless-gl renders the scene without transmission (opaque)` : '';
  // Forced headless-gl: the scene loader names each material it renders without transmission.
  if (choice === 'headless-gl') return { backend: 'headless-gl' };
  if (!needs.length) return { backend: 'headless-gl' };
  if (blocks.length) return { backend: 'headless-gl', warning: `${without}: the scene also uses ${blocks.join(', ')}, which the Chromium backend cannot decode` };
  if (chromiumProblem) return { backend: 'headless-gl', warning: `${without}: the Chromium backend is unavailable (${chromiumProblem})` };
  return { backend: 'chromium' };
}
