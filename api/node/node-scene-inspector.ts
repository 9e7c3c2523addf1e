/**
 * The Node SceneInspector: the render node's own readScene checks and normalizes the upload (so the API
 * accepts exactly what nodes can load), then glTF-Transform lists the cameras, clips and scenes a job may
 * name. A multi-file upload is written to a private temporary folder first, because readScene resolves a
 * .gltf's relative URIs against its folder (and refuses any that leave it).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TesseraError } from '../protocol/errors.ts';
import type { SceneLimits } from '../protocol/render-spec.ts';
import { readScene, type ReadScene } from '../../render-node/scene/read-scene.ts';
import { readSceneInfo } from '../../render-node/scene/read-scene-info.ts';
import type { InspectedScene, SceneInput, SceneInspector } from '../core/scene-inspector.ts';

export interface NodeSceneInspectorOptions {
  /** Caps on what a scene may cost (readScene's defaults when absent). */
  limits?: Partial<SceneLimits>;
  /** Where multi-file uploads are unpacked (the OS temp dir by default). */
  tmpDir?: string;
}

/** Write `files` under `dir`, refusing any path that would land outside it. */
async function writeFiles(dir: string, files: Map<string, Uint8Array>): Promise<void> {
  for (const [name, bytes] of files) {
    const dest = path.resolve(dir, name);
    if (!dest.startsWith(dir + path.sep)) {
      throw new TesseraError('SCENE_MALFORMED', `The upload has a file with an unsafe path "${name.slice(0, 200)}".`);
    }
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, bytes);
  }
}

/** A SceneInspector backed by readScene. */
export function createNodeSceneInspector(options: NodeSceneInspectorOptions = {}): SceneInspector {
  return {
    async inspect(input: SceneInput): Promise<InspectedScene> {
      let read: ReadScene;
      if (input.kind === 'bytes') {
        read = await readScene({ bytes: input.bytes, name: input.name }, options.limits);
      } else {
        const dir = await mkdtemp(path.join(options.tmpDir ?? tmpdir(), 'tessera-upload-'));
        try {
          await writeFiles(dir, input.files);
          read = await readScene({ path: path.join(dir, input.main) }, options.limits);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
      return { glb: read.glb, stats: { ...read.stats }, info: await readSceneInfo(read.glb) };
    },
  };
}
