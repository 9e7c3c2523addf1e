/**
 * A scene's files given in memory (a zip or multipart upload): relative URIs resolve inside the main
 * file's folder among them, with the same URI checks and rules as on disk: a path that climbs out of that
 * folder is refused with SCENE_EXTERNAL_URI, one that names no uploaded file is SCENE_MALFORMED.
 */
import { TesseraError } from '../api/protocol/errors.ts';
import { malformed, show } from './gltf-fields.ts';
import type { SceneFiles } from './read-scene-resources.ts';
import { checkRelativeUri } from './resolve-resource-uri.ts';

/** `a/./b/../c` → `a/c`; null when `..` climbs above the root. */
function normalize(parts: string[]): string | null {
  const out: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(part);
  }
  return out.join('/');
}

/** Files of an upload by relative path (`/`-separated); `main` is the scene file among them. */
export function memorySceneFiles(files: ReadonlyMap<string, Uint8Array>, main: string): SceneFiles {
  const folder = main.split('/').slice(0, -1);
  return {
    async open(uri, what) {
      const decoded = checkRelativeUri(uri, what);
      const inside = normalize(decoded.split('/'));
      if (inside === null || inside === '') {
        throw new TesseraError('SCENE_EXTERNAL_URI', `${what} uri ${show(uri)} points outside the scene folder; only data: URIs and relative paths inside the scene folder are allowed`);
      }
      const key = [...folder, inside].join('/');
      const bytes = files.get(key);
      if (!bytes) throw malformed(`${what} uri ${show(uri)}: file not found in the upload`);
      return { key, size: bytes.length, read: async () => bytes };
    },
  };
}
