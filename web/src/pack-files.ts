/**
 * What the dashboard uploads for the files a user dropped, packed as the CLI packs them (infra/cli/pack-scene.ts):
 * a .glb or a .zip as it is; a .gltf with its separate buffers and images as one zip (the .gltf at the root,
 * each resource under the path its URI names, images stored, the rest deflated). The same files feed the preview.
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { SCENE_ZIP_MTIME } from '../../api/protocol/scene-zip-mtime.ts';

/** A dropped or picked file with its path inside what was dropped (`/`-separated; a folder's name first). */
export interface PickedFile {
  path: string;
  file: File;
}

export interface PackedScene {
  /** What to upload. */
  bytes: Uint8Array;
  contentType: string;
  /** A name to show (the scene file's). */
  name: string;
  /** The scene file inside `files`, for the preview. */
  main: string;
  /** Every file of the scene by its path relative to the scene file's folder. */
  files: Map<string, Uint8Array>;
}

/** Image formats deflate cannot shrink: stored as they are. */
const STORED = /\.(png|jpe?g|webp|ktx2|glb|zip)$/i;
const SCENE = /\.(gltf|glb)$/i;

/** Pack dropped files for upload; throws an Error whose message says what is wrong in words. */
export async function packFiles(picked: PickedFile[]): Promise<PackedScene> {
  if (picked.length === 0) throw new Error('Nothing was dropped.');
  const byPath = new Map(picked.map((p) => [normalizePath(p.path), p.file]));
  const scenes = [...byPath.keys()].filter((p) => SCENE.test(p)).sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
  const zips = [...byPath.keys()].filter((p) => /\.zip$/i.test(p));
  if (scenes.length === 0 && zips.length === 1) return packZip(byPath.get(zips[0])!, zips[0]);
  if (scenes.length === 0) throw new Error('Drop a .glb, a .gltf with its files (or their folder), or a .zip of them.');
  const top = scenes.filter((s) => depth(s) === depth(scenes[0]));
  if (top.length > 1) throw new Error(`Drop one scene at a time (found ${top.map(baseName).join(', ')}).`);
  const main = scenes[0];
  const bytes = new Uint8Array(await byPath.get(main)!.arrayBuffer());
  if (/\.glb$/i.test(main)) {
    return { bytes, contentType: 'model/gltf-binary', name: baseName(main), main: baseName(main), files: new Map([[baseName(main), bytes]]) };
  }
  return packGltf(main, bytes, byPath);
}

async function packGltf(main: string, bytes: Uint8Array, byPath: Map<string, File>): Promise<PackedScene> {
  let gltf: { buffers?: { uri?: unknown }[]; images?: { uri?: unknown }[] };
  try {
    gltf = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new Error(`${baseName(main)} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const folder = dirName(main);
  const name = baseName(main);
  const files = new Map<string, Uint8Array>([[name, bytes]]);
  const entries: Zippable = { [name]: [bytes, { level: 6, mtime: SCENE_ZIP_MTIME }] };
  const refs = [
    ...(gltf.buffers ?? []).map((b, i) => [b?.uri, `buffer ${i}`] as const),
    ...(gltf.images ?? []).map((im, i) => [im?.uri, `image ${i}`] as const),
  ];
  for (const [uri, what] of refs) {
    if (typeof uri !== 'string' || uri.startsWith('data:')) continue;
    // The API resolves a URI the same way: percent-decoded, `/`-separated, relative to the .gltf, inside its folder.
    if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith('/')) throw new Error(`${name} names ${what} by "${uri}": only relative paths can be uploaded.`);
    const rel = normalizePath(decodeURIComponent(uri).replace(/\\/g, '/'));
    if (rel.startsWith('../')) throw new Error(`${name} names ${what} by "${uri}", outside the scene's folder.`);
    if (files.has(rel)) continue;
    const file = byPath.get(folder ? `${folder}/${rel}` : rel);
    if (!file) throw new Error(`${name} needs ${what} "${rel}", which was not among the dropped files: drop the scene's whole folder, or all its files together.`);
    const data = new Uint8Array(await file.arrayBuffer());
    files.set(rel, data);
    entries[rel] = [data, { level: STORED.test(rel) ? 0 : 6, mtime: SCENE_ZIP_MTIME }];
  }
  return { bytes: zipSync(entries), contentType: 'application/zip', name, main: name, files };
}

async function packZip(file: File, path: string): Promise<PackedScene> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let unpacked: Record<string, Uint8Array>;
  try {
    unpacked = unzipSync(bytes);
  } catch (cause) {
    throw new Error(`${baseName(path)} is not a readable zip: ${(cause as Error).message}`, { cause });
  }
  const files = new Map(Object.entries(unpacked).filter(([k]) => !k.endsWith('/')).map(([k, v]) => [normalizePath(k), v]));
  const main = [...files.keys()].filter((k) => SCENE.test(k)).sort((a, b) => depth(a) - depth(b))[0];
  // The API names a zip's problems itself (no scene, two scenes, missing files); the preview needs a scene file.
  if (!main) throw new Error(`${baseName(path)} holds no .gltf or .glb file.`);
  const folder = dirName(main);
  const relative = new Map([...files].filter(([k]) => !folder || k.startsWith(`${folder}/`)).map(([k, v]) => [folder ? k.slice(folder.length + 1) : k, v]));
  return { bytes, contentType: 'application/zip', name: baseName(path), main: baseName(main), files: relative };
}

/** `a/./b/../c` → `a/c`; leading `../` kept (so escapes can be refused). */
export function normalizePath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length && out[out.length - 1] !== '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

const depth = (p: string) => p.split('/').length;
const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const dirName = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

/** The files of a drop, folders walked (DataTransfer entries keep each file's path inside the folder). */
export async function filesFromDrop(data: DataTransfer): Promise<PickedFile[]> {
  const entries = Array.from(data.items).map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return Array.from(data.files).map((file) => ({ path: file.name, file }));
  const out: PickedFile[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ path: prefix + entry.name, file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries answers in batches until an empty one.
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}

/** Files from an <input type=file> (with `webkitdirectory`, each keeps its path inside the folder). */
export function filesFromInput(list: FileList): PickedFile[] {
  return Array.from(list).map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}
