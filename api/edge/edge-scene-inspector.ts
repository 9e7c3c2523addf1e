/**
 * The SceneInspector on Workers: the same readScene inspector as Node (every structural check, limit and
 * resource rule; a .gltf's files resolved among the uploaded ones) on glTF-Transform's WebIO with the same
 * Draco decoder, so a scene normalizes to the same bytes (and id) as on the Node API.
 */
import { createReadSceneInspector } from '../../scene-check/read-scene-inspector.ts';
import type { SceneInspector } from '../../scene-check/scene-inspector.ts';
import type { SceneLimits } from '../protocol/render-spec.ts';
import { webSceneIo } from './web-scene-io.ts';

/** A SceneInspector backed by readScene on WebIO. */
export function createEdgeSceneInspector(options: { limits?: Partial<SceneLimits> } = {}): SceneInspector {
  return createReadSceneInspector(webSceneIo, options.limits);
}
