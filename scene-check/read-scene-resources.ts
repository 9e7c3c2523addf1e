/**
 * Loads the bytes of every buffer and image of a checked glTF: the GLB BIN chunk, data: URIs, and
 * (only for a scene read from a path, or given with its files) the scene's other files: inside its
 * folder, or among the files it came with. Files are size-checked before they are read, against what
 * is left of maxFileBytes. Never touches the network.
 */
import { readFile } from 'node:fs/promises';
import { TesseraError } from '../api/protocol/errors.ts';
import { decodeDataUri, isDataUri } from './decode-data-uri.ts';
import { malformed, show } from './gltf-fields.ts';
import { resolveResourceUri } from './resolve-resource-uri.ts';
import type { ValidatedGltf } from './validated-gltf.ts';

export interface SceneResourceContext {
  /** The GLB's BIN chunk, when the scene is a GLB that has one. */
  glbBin: Uint8Array | undefined;
  isGlb: boolean;
  /** Real path of the folder holding the scene file; undefined for a scene given as bytes. */
  folder: string | undefined;
  /** The scene's other files when it came with them in memory (instead of a folder). */
  files?: SceneFiles;
  /** Bytes of scene files read so far (the scene file itself), counted against maxFileBytes. */
  bytesRead: number;
  maxFileBytes: number;
}

/** A file a resource URI names: a key that identifies it (read once), its size, and its bytes. */
export interface SceneFile {
  key: string;
  size: number;
  read(): Promise<Uint8Array>;
}

/** Where a scene's relative URIs lead: checks the URI and finds the file, or throws a TesseraError. */
export interface SceneFiles {
  open(uri: string, what: string): Promise<SceneFile>;
}

/** Files inside a real folder on disk (symbolic links that leave it are refused). */
function folderFiles(folder: string | undefined): SceneFiles {
  return {
    async open(uri, what) {
      const file = await resolveResourceUri(uri, folder, what);
      return {
        key: file.path,
        size: file.size,
        read: () =>
          readFile(file.path).then(
            (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
            (err: NodeJS.ErrnoException) => {
              throw malformed(`${what} uri ${show(uri)} cannot be read (${err.code ?? 'error'})`, err);
            },
          ),
      };
    },
  };
}

export interface SceneResources {
  buffers: Uint8Array[];
  images: Uint8Array[];
  /** Bytes of all files read, the scene file included. */
  bytesRead: number;
}

export async function readSceneResources(gltf: ValidatedGltf, context: SceneResourceContext): Promise<SceneResources> {
  const files = new Map<string, Promise<Uint8Array>>();
  let bytesRead = context.bytesRead;

  const source = context.files ?? folderFiles(context.folder);
  const load = async (uri: string, what: string): Promise<Uint8Array> => {
    if (isDataUri(uri)) return decodeDataUri(uri, what);
    const file = await source.open(uri, what);
    let pending = files.get(file.key);
    if (!pending) {
      if (bytesRead + file.size > context.maxFileBytes) {
        throw new TesseraError(
          'SCENE_LIMIT_EXCEEDED',
          `${what} uri ${show(uri)} is ${file.size} bytes, which brings the scene's files to more than maxFileBytes ${context.maxFileBytes}`,
        );
      }
      bytesRead += file.size;
      pending = file.read();
      files.set(file.key, pending);
    }
    return pending;
  };

  // Sequential on purpose: each file's size is checked against what the earlier ones left.
  const buffers: Uint8Array[] = [];
  for (let i = 0; i < gltf.buffers.length; i++) {
    const { uri, byteLength, meshoptFallback } = gltf.buffers[i];
    const what = `buffer ${i}`;
    let data: Uint8Array;
    let source: string;
    if (uri === undefined && meshoptFallback) {
      // Filled by decoding its meshopt views (decode-meshopt-views.ts), after the caps are checked.
      buffers.push(new Uint8Array(0));
      continue;
    } else if (uri === undefined) {
      if (!context.isGlb || i !== 0) throw malformed(`${what} has no uri (only the first buffer of a GLB may omit it)`);
      if (!context.glbBin) throw malformed(`${what} has no uri and the GLB has no BIN chunk`);
      data = context.glbBin;
      source = 'the GLB BIN chunk';
    } else {
      data = await load(uri, what);
      source = isDataUri(uri) ? 'its data: URI' : `file ${show(uri)}`;
    }
    if (data.length < byteLength) {
      throw malformed(`${what}: byteLength is ${byteLength} but ${source} holds only ${data.length} bytes`);
    }
    buffers.push(data);
  }

  const images: Uint8Array[] = [];
  for (let i = 0; i < gltf.images.length; i++) {
    const { uri, bufferView } = gltf.images[i];
    if (bufferView !== undefined) {
      const view = gltf.bufferViews[bufferView];
      images.push(buffers[view.buffer].subarray(view.byteOffset, view.byteOffset + view.byteLength));
    } else {
      images.push(await load(uri!, `image ${i}`));
    }
  }

  return { buffers, images, bytesRead };
}
