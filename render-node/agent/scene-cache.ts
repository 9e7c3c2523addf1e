import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedScene } from '../scene/load-scene.ts';
import { downloadScene, MemorySceneCache, type MemorySceneCacheOptions, type SceneLoader } from './memory-scene-cache.ts';
import { readScene } from '../../scene-check/read-scene.ts';
import type { SceneSource } from './run-render-task.ts';

export type { SceneSource } from './run-render-task.ts';

export interface SceneCacheOptions extends Omit<MemorySceneCacheOptions, 'glb'> {
  dir: string;
}

/**
 * Scenes by content hash: bytes on disk (downloaded once per node, verified against their sha256 id) and a
 * few parsed scenes in memory, least recently used first out.
 */
export class SceneCache<S extends { dispose(): void } = LoadedScene> extends MemorySceneCache<S> {
  constructor(renderer: SceneLoader<S>, options: SceneCacheOptions) {
    super(renderer, { ...options, glb: (id, url, onSource) => diskSceneGlb(options.dir, id, url, onSource) });
  }
}

/** Scene `id` normalized for the loader, its bytes from `dir` when cached there, else downloaded and cached. */
async function diskSceneGlb(dir: string, id: string, url: string, onSource?: (source: SceneSource) => void): Promise<Uint8Array> {
  const bytes = await diskSceneBytes(dir, id, url, onSource);
  const { glb } = await readScene({ bytes, name: `scene ${id.slice(0, 12)}` });
  return glb;
}

/** Scene `id`'s verified bytes: from `dir` when cached there, else downloaded and written there atomically. */
async function diskSceneBytes(dir: string, id: string, url: string, onSource?: (source: SceneSource) => void): Promise<Uint8Array> {
  const file = join(dir, `${id}.glb`);
  try {
    const bytes = new Uint8Array(await readFile(file));
    if (sha256(bytes) === id) {
      onSource?.('disk');
      return bytes;
    }
  } catch {
    // not cached yet
  }
  const bytes = await downloadScene(id, url, onSource);
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
  return bytes;
}

/**
 * The scene ids cached on disk in `dir` (files `<sha256>.glb`), most recently written or used first, at most
 * `max`: what the node reports in its heartbeats. Unreadable or missing directory: none.
 */
export async function cachedSceneIds(dir: string, max: number): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const found = await Promise.all(
    names
      .filter((n) => /^[0-9a-f]{64}\.glb$/.test(n))
      .map(async (n) => {
        try {
          const s = await stat(join(dir, n));
          return { id: n.slice(0, 64), at: Math.max(s.mtimeMs, s.atimeMs) };
        } catch {
          return null;
        }
      }),
  );
  return found
    .filter((f): f is { id: string; at: number } => f !== null)
    .sort((a, b) => b.at - a.at || (a.id < b.id ? -1 : 1))
    .slice(0, max)
    .map((f) => f.id);
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
