/**
 * The API's SceneInspector, for Node and Workers alike: the render node's own readScene checks and
 * normalizes the upload (so the API accepts exactly what nodes can load), a .gltf's other files resolved
 * among the uploaded ones in memory, then the scene's names (cameras, clips, scenes) are read back from
 * the normalized GLB. Only the glTF-Transform IO differs between runtimes (NodeIO or WebIO).
 */
import type { InspectedScene, SceneInput, SceneInspector } from './scene-inspector.ts';
import type { SceneLimits } from '../api/protocol/render-spec.ts';
import { readScene } from './read-scene.ts';
import { readSceneInfo } from './read-scene-info.ts';
import type { SceneIoProvider } from './scene-io.ts';

/** A SceneInspector backed by readScene on `io`, under `limits` (readScene's defaults when absent). */
export function createReadSceneInspector(io: SceneIoProvider, limits?: Partial<SceneLimits>): SceneInspector {
  return {
    async inspect(input: SceneInput): Promise<InspectedScene> {
      const source = input.kind === 'bytes' ? { bytes: input.bytes, name: input.name } : { files: input.files, main: input.main };
      const read = await readScene(source, limits, io);
      return { glb: read.glb, stats: { ...read.stats }, info: await readSceneInfo(read.glb, io) };
    },
  };
}
