/**
 * Renderer identities: the string a node puts in its card (`version`) and its outputs. Verification compares
 * two results byte for byte only when their identities are equal, and by pixels (a tolerance) otherwise, so
 * an identity must name everything that decides the bytes: the render core, three.js, the GL implementation
 * and the encoder.
 */

/** The renderer's own version: bump it whenever pictures may change. */
export const RENDER_CORE_VERSION = '0.3.0';

/** A browser (or headless Chromium) backend's identity: its backend id and the GL it got, which decide the pixels. */
export function browserRendererIdentity(parts: { backend: string; three: string; renderer: string; encoder: string }): string {
  const gl = parts.renderer.replace(/\s+/g, ' ').trim().slice(0, 120);
  return `tessera-render/${RENDER_CORE_VERSION} three/${parts.three} ${parts.backend}/${gl} ${parts.encoder}`;
}
