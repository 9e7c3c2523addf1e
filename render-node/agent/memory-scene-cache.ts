import { TesseraError } from '../../api/protocol/errors.ts';
import type { LoadedScene } from '../scene/load-scene.ts';
import { digestSha256 } from './digest-sha256.ts';
import type { SceneSource } from './run-render-task.ts';
import { fetchObject } from './storage-fetch.ts';

/** The GLB to load for scene `id` (its sha256), from `url` or a layer of the node's own; `onSource` learns from where. */
export type SceneGlbSource = (id: string, url: string, onSource?: (source: SceneSource) => void) => Promise<Uint8Array>;

/**
 * What loads a scene's normalized GLB into GL: a FrameRenderer, or a render node's backends (node-backends.ts,
 * which pick headless-gl or Chromium by the scene's extensions).
 */
export interface SceneLoader<S extends { dispose(): void }> {
  loadScene(glb: Uint8Array, limits: { maxTexturePixels: number }): Promise<S>;
}

export interface MemorySceneCacheOptions {
  /** Scenes kept loaded in GL memory; older ones are disposed. */
  maxLoaded: number;
  maxTexturePixels: number;
  /** Where a scene not loaded yet comes from; default: downloaded from its URL ({@link downloadScene}). */
  glb?: SceneGlbSource;
}

/**
 * Loaded scenes by content hash, the least recently used disposed first. Without a `glb` layer (a browser tab,
 * no disk) a new scene is downloaded from the task's presigned URL, refused unless its sha256 is the scene id,
 * and parsed by the shared loader as it is: the stored GLB is the API's normalized one. A node with a disk
 * passes its disk layer (scene-cache.ts).
 */
export class MemorySceneCache<S extends { dispose(): void } = LoadedScene> {
  private readonly loaded = new Map<string, Promise<S>>();

  constructor(private readonly renderer: SceneLoader<S>, private readonly options: MemorySceneCacheOptions) {}

  /** The loaded scene `id`, fetched from `url` when it is not loaded; `onSource` learns from where. */
  get(id: string, url: string, onSource?: (source: SceneSource) => void): Promise<S> {
    let entry = this.loaded.get(id);
    if (entry) {
      this.loaded.delete(id);
      this.loaded.set(id, entry); // most recent last
      onSource?.('memory');
      return entry;
    }
    entry = (this.options.glb ?? downloadScene)(id, url, onSource).then((glb) =>
      this.renderer.loadScene(glb, { maxTexturePixels: this.options.maxTexturePixels }),
    );
    entry.catch(() => this.loaded.delete(id));
    this.loaded.set(id, entry);
    while (this.loaded.size > this.options.maxLoaded) {
      const [oldest, promise] = this.loaded.entries().next().value!;
      this.loaded.delete(oldest);
      promise.then((s) => s.dispose(), () => {});
    }
    return entry;
  }

  dispose(): void {
    for (const p of this.loaded.values()) p.then((s) => s.dispose(), () => {});
    this.loaded.clear();
  }
}

/** Scene `id`'s bytes from storage at `url`, refused (STORAGE_FAILED) unless their sha256 is `id`. */
export async function downloadScene(id: string, url: string, onSource?: (source: SceneSource) => void): Promise<Uint8Array> {
  onSource?.('download');
  const bytes = await fetchObject(url, `scene ${id.slice(0, 12)}`, { timeoutMs: 120_000 });
  if ((await digestSha256(bytes)) !== id) throw new TesseraError('STORAGE_FAILED', `scene ${id.slice(0, 12)} arrived corrupted (sha256 mismatch, ${bytes.length} bytes)`);
  return bytes;
}
