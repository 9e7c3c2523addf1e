import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** What Tessera's scene reader returns (scene-check/read-scene.ts); only what the bench uses. */
export interface SceneBytes {
  glb: Uint8Array;
  stats?: { triangles?: number; vertices?: number; textures?: number; animations?: number; [key: string]: unknown };
  /** 'readScene' when Tessera's checking/normalizing reader ran, 'fs' when the bytes were read as they are. */
  via: 'readScene' | 'fs';
  note?: string;
}

type ReadSceneFn = (source: { path: string }) => Promise<{ glb: Uint8Array; stats: SceneBytes['stats'] }>;

const READ_SCENE_MODULE = fileURLToPath(new URL('../scene-check/read-scene.ts', import.meta.url));
let reader: Promise<ReadSceneFn | string> | undefined;

/** Load readScene lazily: another engineer may still be writing it; the bench then reads raw bytes and says so. */
function loadReader(): Promise<ReadSceneFn | string> {
  reader ??= (async () => {
    if (!existsSync(READ_SCENE_MODULE)) return 'scene-check/read-scene.ts does not exist yet';
    try {
      const mod = (await import(pathToFileURL(READ_SCENE_MODULE).href)) as { readScene?: ReadSceneFn };
      return typeof mod.readScene === 'function' ? mod.readScene : 'read-scene.ts exports no readScene';
    } catch (err) {
      return `read-scene.ts failed to load: ${(err as Error).message}`;
    }
  })();
  return reader;
}

/** Read a scene the way a Tessera render node does (readScene: validate + normalize), falling back to the raw file. */
export async function readSceneBytes(path: string): Promise<SceneBytes> {
  const read = await loadReader();
  if (typeof read === 'string') {
    const buf = await readFile(path);
    return { glb: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), via: 'fs', note: `${read}; read the GLB bytes with fs (no validation/normalization counted in load)` };
  }
  const { glb, stats } = await read({ path });
  return { glb, stats, via: 'readScene' };
}
