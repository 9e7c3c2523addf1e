import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchObject } from './storage-fetch.ts';
import { TesseraError } from '../../api/protocol/errors.ts';
import type { LoadedScene } from '../scene/load-scene.ts';
import { readScene } from '../../scene-check/read-scene.ts';
import type { SceneSource } from './run-render-task.ts';

export type { SceneSource } from './run-render-task.ts';

export interface SceneCacheOptions {
  dir: string;
  /** Scenes kept loaded in GL memory; older ones are disposed. */
  maxLoaded: number;
  maxTexturePixels: number;
}

/** What loads a scene's normalized GLB into GL: a FrameRenderer, or a node's backends (which pick one by its extensions). */
export interface SceneLoader<S extends { dispose(): void }> {
  loadScene(glb: Uint8Array, limits: { maxTexturePixels: number }, extensionsUsed?: readonly string[]): Promise<S>;
}

/**
 * Scenes by content hash: bytes on disk (downloaded once per node, verified against their sha256 id) and a
 * few parsed scenes in memory, least recently used first out.
 */
export class SceneCache<S extends { dispose(): void } = LoadedScene> {
  private readonly loaded = new Map<string, Promise<S>>();

  constructor(private readonly renderer: SceneLoader<S>, private readonly options: SceneCacheOptions) {}

  /** The loaded scene `id`, downloading it from `url` when this node has never seen it; `onSource` learns from where. */
  get(id: string, url: string, onSource?: (source: SceneSource) => void): Promise<S> {
    let entry = this.loaded.get(id);
    if (entry) {
      this.loaded.delete(id);
      this.loaded.set(id, entry); // most recent last
      onSource?.('memory');
      return entry;
    }
    entry = this.fetchBytes(id, url, onSource).then(async (bytes) => {
      const { glb, extensionsUsed } = await readScene({ bytes, name: `scene ${id.slice(0, 12)}` });
      return this.renderer.loadScene(glb, { maxTexturePixels: this.options.maxTexturePixels }, extensionsUsed);
    });
    entry.catch(() => this.loaded.delete(id));
    this.loaded.set(id, entry);
    while (this.loaded.size > this.options.maxLoaded) {
      const [oldest, promise] = this.loaded.entries().next().value!;
      this.loaded.delete(oldest);
      promise.then((s) => s.dispose(), () => {});
    }
    return entry;
  }

  private async fetchBytes(id: string, url: string, onSource?: (source: SceneSource) => void): Promise<Uint8Array> {
    const file = join(this.options.dir, `${id}.glb`);
    try {
      const bytes = new Uint8Array(await readFile(file));
      if (sha256(bytes) === id) {
        onSource?.('disk');
        return bytes;
      }
    } catch {
      // not cached yet
    }
    onSource?.('download');
    const bytes = await fetchObject(url, `scene ${id.slice(0, 12)}`, { timeoutMs: 120_000 });
    if (sha256(bytes) !== id) throw new TesseraError('STORAGE_FAILED', `scene ${id.slice(0, 12)} arrived corrupted (sha256 mismatch, ${bytes.length} bytes)`);
    await mkdir(this.options.dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
    return bytes;
  }

  dispose(): void {
    for (const p of this.loaded.values()) p.then((s) => s.dispose(), () => {});
    this.loaded.clear();
  }
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
