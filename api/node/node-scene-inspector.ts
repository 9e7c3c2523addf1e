/**
 * The Node SceneInspector: readScene with glTF-Transform's NodeIO and draco3dgltf (see
 * scene-check/read-scene-inspector.ts, shared with the Workers API).
 */
import { createReadSceneInspector } from '../../scene-check/read-scene-inspector.ts';
import { nodeSceneIo } from '../../scene-check/scene-io.ts';
import type { SceneInspector } from '../../scene-check/scene-inspector.ts';
import type { SceneLimits } from '../protocol/render-spec.ts';

export interface NodeSceneInspectorOptions {
  /** Caps on what a scene may cost (readScene's defaults when absent). */
  limits?: Partial<SceneLimits>;
}

/** A SceneInspector backed by readScene on NodeIO. */
export function createNodeSceneInspector(options: NodeSceneInspectorOptions = {}): SceneInspector {
  return createReadSceneInspector(nodeSceneIo, options.limits);
}
