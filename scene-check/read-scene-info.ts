/**
 * The names a job may use (cameras, clips, glTF scenes), read from a normalized GLB with glTF-Transform.
 * Runtime-free: the IO comes from the caller (NodeIO in the Node API, a WebIO on Workers).
 */
import type { Accessor, Camera, Document, Node } from '@gltf-transform/core';
import type { SceneInfo } from './scene-inspector.ts';
import { TesseraError } from '../api/protocol/errors.ts';
import { nodeSceneIo, type SceneIoProvider } from './scene-io.ts';
import { webgl2ExtensionsOf } from './supported-extensions.ts';

const nameOf = (name: string): string | null => (name === '' ? null : name);

/** The names a job may use, read from a normalized GLB. */
export async function readSceneInfo(glb: Uint8Array, provider: SceneIoProvider = nodeSceneIo): Promise<SceneInfo> {
  const io = await provider.get();
  let doc: Document;
  try {
    doc = await io.readBinary(glb);
  } catch (err) {
    throw new TesseraError('SCENE_MALFORMED', `The normalized scene could not be read back: ${(err as Error).message}`, { cause: err });
  }
  const root = doc.getRoot();
  const cameras = root.listCameras();
  const nodes = root.listNodes();
  const scenes = root.listScenes();
  const defaultScene = root.getDefaultScene();
  // One pass over nodes, and each key-time accessor scanned once (getMax reads every element), however many
  // cameras and samplers there are: a scene may declare 100,000 of each, all on one node or one accessor.
  const cameraNode = new Map<Camera, Node>();
  for (const n of nodes) {
    const camera = n.getCamera();
    if (camera && !cameraNode.has(camera)) cameraNode.set(camera, n);
  }
  const lastKey = new Map<Accessor, number>();
  const lastKeyOf = (input: Accessor | null): number => {
    if (!input) return 0;
    let t = lastKey.get(input);
    if (t === undefined) lastKey.set(input, (t = input.getMax([0])[0] ?? 0));
    return t;
  };
  return {
    cameras: cameras.map((c) => nameOf(c.getName())),
    cameraNodes: cameras.map((c) => nameOf(cameraNode.get(c)?.getName() ?? '')),
    // A clip lasts until its last key, as three.js's AnimationClip measures it.
    clips: root.listAnimations().map((a) => ({
      name: nameOf(a.getName()),
      duration: a.listSamplers().reduce((d, s) => Math.max(d, lastKeyOf(s.getInput())), 0),
    })),
    scenes: scenes.map((s) => nameOf(s.getName())),
    defaultScene: defaultScene ? Math.max(0, scenes.indexOf(defaultScene)) : 0,
    // The flag that routes the scene's jobs to WebGL 2 nodes, from what the normalized GLB keeps.
    webgl2: webgl2ExtensionsOf(root.listExtensionsUsed().map((e) => e.extensionName)),
  };
}
