import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { RENDER_CORE_VERSION } from './render/renderer-identity.ts';

const require = createRequire(import.meta.url);

/** A dependency's installed version (three hides its package.json from `exports`, so read it from disk). */
export function versionOf(pkg: string): string {
  try {
    let dir = dirname(require.resolve(pkg));
    for (let i = 0; i < 4; i++, dir = dirname(dir)) {
      try {
        const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (json.name === pkg && json.version) return json.version;
      } catch {
        // keep walking up
      }
    }
  } catch {
    // not installed
  }
  return 'unknown';
}

export { RENDER_CORE_VERSION } from './render/renderer-identity.ts';

/**
 * Everything that decides the bytes of a headless-gl render, recorded in output metadata: the backend is named
 * (`headless-gl/` + the gl package's version), as the Chromium backend's identity names `chromium/` (renderer-identity.ts).
 */
export const RENDERER_VERSION = `tessera-render/${RENDER_CORE_VERSION} three/${versionOf('three')} headless-gl/${versionOf('gl')} sharp/${versionOf('sharp')}`;
