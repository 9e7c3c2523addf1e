/**
 * Reads an uploaded scene into a SceneInput: a GLB (or a .gltf with data: URIs) as it is, a zip holding
 * one .gltf and its files, or multipart/form-data with the .gltf and its files. Zips are unpacked with
 * `readZip`, which trusts no declared size: it checks the zip's structure and counts the bytes each entry
 * actually inflates to, in small chunks that never block the event loop for long (see zip-reader.ts).
 */
import { TesseraError } from '../protocol/errors.ts';
import type { SceneInput } from '../../scene-check/scene-inspector.ts';
import { readZip, ZipRejected } from './zip-reader.ts';

export interface SceneUploadLimits {
  /** Most files a zip or form may hold. */
  maxFiles: number;
  /** Most bytes the files of a zip may unpack to, together. */
  maxUnpackedBytes: number;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

function isZip(bytes: Uint8Array): boolean {
  return ZIP_MAGIC.every((b, i) => bytes[i] === b);
}

/** A safe relative path (`a/b.png`), or null for entries to skip; throws on paths that escape. */
function cleanPath(name: string): string | null {
  if (name.endsWith('/') || name.startsWith('__MACOSX/')) return null;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (name.startsWith('/') || name.includes('\\') || /^[a-zA-Z]:/.test(name) || parts.includes('..') || parts.length === 0) {
    throw new TesseraError('SCENE_MALFORMED', `The upload has a file with an unsafe path "${name.slice(0, 200)}"; paths must be relative, without "..".`);
  }
  return parts.join('/');
}

/** The one .gltf among `files` (or a single .glb when there is no .gltf). */
function mainFile(files: Map<string, Uint8Array>, where: string): string {
  const names = [...files.keys()];
  const gltf = names.filter((n) => /\.gltf$/i.test(n));
  if (gltf.length === 1) return gltf[0];
  if (gltf.length > 1) {
    throw new TesseraError('SCENE_MALFORMED', `The ${where} holds ${gltf.length} .gltf files (${gltf.slice(0, 5).join(', ')}); put exactly one.`);
  }
  const glb = names.filter((n) => /\.glb$/i.test(n));
  if (glb.length === 1) return glb[0];
  throw new TesseraError('SCENE_MALFORMED', `The ${where} holds no .gltf file (or several .glb files); put exactly one scene file in it.`);
}

/** Unpack a zip upload, counting what it inflates to (never what it declares). */
export async function unpackZip(bytes: Uint8Array, limits: SceneUploadLimits): Promise<SceneInput> {
  let entries: Map<string, Uint8Array>;
  try {
    entries = await readZip(bytes, {
      // Directories and __MACOSX/ entries count towards the entry cap, so they cannot be used to pad either.
      maxEntries: limits.maxFiles,
      maxUnpackedBytes: limits.maxUnpackedBytes,
      include: (name) => cleanPath(name) !== null,
    });
  } catch (err) {
    if (err instanceof TesseraError) throw err;
    if (err instanceof ZipRejected && err.reason === 'limit') {
      throw new TesseraError('SCENE_LIMIT_EXCEEDED', `The zip is refused: ${err.message}.`, { cause: err });
    }
    throw new TesseraError('SCENE_MALFORMED', `The upload is not a readable zip: ${(err as Error).message}.`, { cause: err });
  }
  const files = new Map<string, Uint8Array>();
  for (const [name, data] of entries) {
    const path = cleanPath(name)!;
    if (files.has(path)) throw new TesseraError('SCENE_MALFORMED', `The zip holds "${path.slice(0, 200)}" twice.`);
    files.set(path, data);
  }
  return { kind: 'files', main: mainFile(files, 'zip'), files };
}

/** Collect the files of a multipart/form-data upload; a part's filename (or field name) is its path. */
export async function readFormFiles(form: FormData, limits: SceneUploadLimits): Promise<SceneInput> {
  const files = new Map<string, Uint8Array>();
  const parts: [string, File][] = [];
  form.forEach((value, field) => {
    if (typeof value !== 'string') parts.push([field, value]);
  });
  for (const [field, value] of parts) {
    const named = value.name && value.name !== 'blob' ? value.name : field;
    const path = cleanPath(named);
    if (path === null) continue;
    if (files.size >= limits.maxFiles) throw new TesseraError('SCENE_LIMIT_EXCEEDED', `The form holds more than ${limits.maxFiles} files.`);
    files.set(path, new Uint8Array(await value.arrayBuffer()));
  }
  if (files.size === 0) throw new TesseraError('SCENE_MALFORMED', 'The form holds no files; attach the .gltf and its resources.');
  return { kind: 'files', main: mainFile(files, 'form'), files };
}

/** Content types a scene upload may have. */
export const SCENE_CONTENT_TYPES = [
  'model/gltf-binary',
  'model/gltf+json',
  'application/octet-stream',
  'application/zip',
  'multipart/form-data',
] as const;

/**
 * An upload's body as it came: the raw bytes of a GLB, .gltf or zip (hashed to find an earlier upload of the
 * same bytes, uploaded-scenes.ts), or a multipart form (its boundary differs per request: never matched).
 */
export type UploadedBody = { raw: Uint8Array; name: string; zip?: true } | { form: FormData };

/** Read an upload's body by its content type; UNSUPPORTED_MEDIA_TYPE for any other. */
export async function readUploadedBody(request: Request): Promise<UploadedBody> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  switch (type) {
    case 'multipart/form-data':
      return { form: await request.formData() };
    case 'application/zip':
    case 'application/x-zip-compressed':
      return { raw: new Uint8Array(await request.arrayBuffer()), name: 'scene.zip', zip: true };
    case 'model/gltf-binary':
    case 'application/octet-stream':
      return { raw: new Uint8Array(await request.arrayBuffer()), name: 'scene.glb' };
    case 'model/gltf+json':
    case 'application/json':
      return { raw: new Uint8Array(await request.arrayBuffer()), name: 'scene.gltf' };
    default:
      throw new TesseraError(
        'UNSUPPORTED_MEDIA_TYPE',
        `A scene upload must be ${SCENE_CONTENT_TYPES.join(', ')}; got ${type ? `"${type.slice(0, 100)}"` : 'no content type'}.`,
      );
  }
}

/** The scene an upload's body holds (a zip recognized by its magic bytes, whatever its content type). */
export function sceneInputOf(body: UploadedBody, limits: SceneUploadLimits): Promise<SceneInput> {
  if ('form' in body) return readFormFiles(body.form, limits);
  return body.zip ? unpackZip(body.raw, limits) : sceneBytes(body.raw, limits, body.name);
}

/** Read a scene upload by its content type (zip also recognized by its magic bytes). */
export async function readSceneUpload(request: Request, limits: SceneUploadLimits): Promise<SceneInput> {
  return sceneInputOf(await readUploadedBody(request), limits);
}

/** A single uploaded object of unknown kind: a zip by its magic bytes, otherwise one scene file. */
export async function sceneBytes(bytes: Uint8Array, limits: SceneUploadLimits, name = 'scene.glb'): Promise<SceneInput> {
  return isZip(bytes) ? unpackZip(bytes, limits) : { kind: 'bytes', bytes, name };
}
