import { zipSync, type Zippable } from 'fflate';
import { SCENE_ZIP_MTIME } from '../../api/protocol/scene-zip-mtime.ts';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { TesseraError } from '../../api/protocol/errors.ts';
import { resolveResourceUri } from '../../scene-check/resolve-resource-uri.ts';

/** A scene file ready to upload: the bytes, their content type, and which files went in. */
export interface PackedScene {
  bytes: Uint8Array;
  contentType: string;
  /** The files packed, relative to the scene's folder (the scene file first). */
  files: string[];
}

/** Image formats that deflate cannot shrink: stored as they are, which is faster. */
const STORED = /\.(png|jpe?g|webp|ktx2|glb|zip)$/i;

/**
 * Read a scene for upload: a .glb as it is; a .gltf with its separate buffers and images as one zip (the
 * .gltf at the root, each resource under the path its URI names). Resources are found with the same rules
 * the renderer applies (no schemes, no absolute paths, nothing outside the scene's folder).
 */
export async function packScene(file: string): Promise<PackedScene> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') throw new TesseraError('SCENE_NOT_FOUND', `The scene file ${file} does not exist.`, { cause });
    throw new TesseraError('SCENE_NOT_FOUND', `The scene file ${file} cannot be read (${code ?? 'error'}).`, { cause });
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  if (magic === 'glTF') return { bytes, contentType: 'model/gltf-binary', files: [path.basename(file)] };
  if (!/\.gltf$/i.test(file)) {
    // Neither a GLB nor a .gltf: let the API's checks name the problem, as they do for a GLB.
    return { bytes, contentType: 'application/octet-stream', files: [path.basename(file)] };
  }

  let gltf: { buffers?: { uri?: unknown }[]; images?: { uri?: unknown }[] };
  try {
    gltf = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new TesseraError('SCENE_MALFORMED', `${file} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const folder = await realpath(path.dirname(path.resolve(file)));
  const main = path.basename(file);
  const entries: Zippable = { [main]: [bytes, { level: 6, mtime: SCENE_ZIP_MTIME }] };
  const files = [main];
  const refs = [
    ...(gltf.buffers ?? []).map((b, i) => [b?.uri, `buffer ${i}`] as const),
    ...(gltf.images ?? []).map((im, i) => [im?.uri, `image ${i}`] as const),
  ];
  for (const [uri, what] of refs) {
    if (typeof uri !== 'string' || uri.startsWith('data:')) continue;
    const resource = await resolveResourceUri(uri, folder, what);
    // The API resolves the URI the same way: percent-decoded, `/`-separated, relative to the .gltf.
    const name = path.posix.normalize(decodeURIComponent(uri).replace(/\\/g, '/'));
    if (name in entries) continue;
    entries[name] = [await readFile(resource.path), { level: STORED.test(name) ? 0 : 6, mtime: SCENE_ZIP_MTIME }];
    files.push(name);
  }
  return { bytes: zipSync(entries), contentType: 'application/zip', files };
}
