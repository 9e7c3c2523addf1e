import { TesseraError } from '../../api/protocol/errors.ts';
import type { FrameRenderer } from '../render/frame-renderer.ts';
import type { LoadedScene } from '../scene/load-scene.ts';
import { digestSha256 } from './digest-sha256.ts';
import type { SceneSource } from './run-render-task.ts';
import { fetchObject } from './storage-fetch.ts';

export interface MemorySceneCacheOptions {
  /** Scenes kept loaded in GL memory; older ones are disposed. */
  maxLoaded: number;
  maxTexturePixels: number;
}

/**
 * Scenes by content hash for a node without a disk (a browser tab): downloaded from the task's presigned URL,
 * refused unless their sha256 is the scene id, parsed by the shared loader; the least recently used is disposed.
 * The stored GLB is the API's normalized one, so it loads with no further normalization.
 */
export class MemorySceneCache {
  private readonly loaded = new Map<string, Promise<LoadedScene>>();

  constructor(private readonly renderer: FrameRenderer, private readonly options: MemorySceneCacheOptions) {}

  get(id: string, url: string, onSource?: (source: SceneSource) => void): Promise<LoadedScene> {
    let entry = this.loaded.get(id);
    if (entry) {
      this.loaded.delete(id);
      this.loaded.set(id, entry);
      onSource?.('memory');
      return entry;
    }
    onSource?.('download');
    entry = (async () => {
      const bytes = await fetchObject(url, `scene ${id.slice(0, 12)}`, { timeoutMs: 120_000 });
      if ((await digestSha256(bytes)) !== id) throw new TesseraError('STORAGE_FAILED', `scene ${id.slice(0, 12)} arrived corrupted (sha256 mismatch, ${bytes.length} bytes)`);
      return this.renderer.loadScene(bytes, { maxTexturePixels: this.options.maxTexturePixels });
    })();
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
