/**
 * The Node SceneInspector: readScene with glTF-Transform's NodeIO and draco3dgltf (see
 * render-node/scene/read-scene-inspector.ts, shared with the Workers API).
 */
import { createReadSceneInspector } from '../../render-node/scene/read-scene-inspector.ts';
import { nodeSceneIo } from '../../render-node/scene/scene-io.ts';
import type { SceneInspector } from '../core/scene-inspector.ts';
import type { SceneLimits } from '../protocol/render-spec.ts';

export interface NodeSceneInspectorOptions {
  /** Caps on what a scene may cost (readScene's defaults when absent). */
  limits?: Partial<SceneLimits>;
}

/** A SceneInspector backed by readScene on NodeIO. */
export function createNodeSceneInspector(options: NodeSceneInspectorOptions = {}): SceneInspector {
  return createReadSceneInspector(nodeSceneIo, options.limits);
}
