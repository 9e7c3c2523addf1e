/**
 * The SceneInspector on Workers: the render node's own readScene (every structural check, limit and
 * resource rule the Node API applies) and normalization into one GLB with glTF-Transform's WebIO and the
 * same Draco decoder, then the same scene info: a scene normalizes to the same bytes (and id) as on Node.
 * What differs (README, "Scene uploads on Workers"): a .gltf with separate files (a zip or multipart
 * upload of several files) is refused with SCENE_UNSUPPORTED, since readScene resolves those in a folder.
 */
import type { InspectedScene, SceneInput, SceneInspector } from '../core/scene-inspector.ts';
import { TesseraError } from '../protocol/errors.ts';
import type { SceneLimits } from '../protocol/render-spec.ts';
import { readScene } from '../../render-node/scene/read-scene.ts';
import { readSceneInfo } from '../../render-node/scene/read-scene-info.ts';
import { webSceneIo } from './web-scene-io.ts';

/** A SceneInspector for single-file uploads (GLB, or .gltf with data: URIs). */
export function createEdgeSceneInspector(options: { limits?: Partial<SceneLimits> } = {}): SceneInspector {
  return {
    async inspect(input: SceneInput): Promise<InspectedScene> {
      if (input.kind === 'files') {
        const single = input.files.size === 1 ? input.files.get(input.main) : undefined;
        if (!single) {
          throw new TesseraError(
            'SCENE_UNSUPPORTED',
            `This API runs on Cloudflare Workers, which takes single-file scenes only: send a GLB (or a .gltf with data: URIs) instead of ${input.files.size} files.`,
          );
        }
        input = { kind: 'bytes', bytes: single, name: input.main };
      }
      const read = await readScene({ bytes: input.bytes, name: input.name }, options.limits, webSceneIo);
      return { glb: read.glb, stats: { ...read.stats }, info: await readSceneInfo(read.glb, webSceneIo) };
    },
  };
}
