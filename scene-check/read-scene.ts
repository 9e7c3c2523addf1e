/**
 * readScene: the one door through which an uploaded or stored glTF scene enters the render node.
 *
 * It checks the file cheaply and completely before any costly work (GLB container, JSON syntax and
 * depth, glTF structure and index references, resource URIs, limits on nodes, vertices, texture
 * sizes from image headers, decoded size and animation length), then normalizes it with
 * glTF-Transform into one self-contained GLB that three.js's GLTFLoader parses with no file or
 * network access: Draco decoded, buffers merged, images embedded (not decoded).
 *
 * Every failure is a TesseraError (SCENE_NOT_FOUND, SCENE_MALFORMED, SCENE_UNSUPPORTED,
 * SCENE_EXTERNAL_URI, SCENE_LIMIT_EXCEEDED, SCENE_TEXTURE_FAILED) whose message names the problem.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { GLTF, JSONDocument } from '@gltf-transform/core';
import { TesseraError } from '../api/protocol/errors.ts';
import { SCENE_LIMITS_DEFAULTS, SceneLimits } from '../api/protocol/render-spec.ts';
import { checkDracoHeaders } from './check-draco-headers.ts';
import { checkAccessorData } from './check-accessor-data.ts';
import { checkGeometryLimits } from './check-geometry-limits.ts';
import { checkGltfStructure } from './check-gltf-structure.ts';
import { checkTextureLimits } from './check-texture-limits.ts';
import { isJsonObject, malformed, show, type JsonObject } from './gltf-fields.ts';
import { decodeMeshoptViews } from './decode-meshopt-views.ts';
import { normalizeScene } from './normalize-scene.ts';
import { nodeSceneIo, type SceneIoProvider } from './scene-io.ts';
import { describeMagic, isGlb, parseGlb } from './parse-glb.ts';
import { parseGltfJson } from './parse-gltf-json.ts';
import type { ImageSize } from './read-image-size.ts';
import { memorySceneFiles } from './memory-scene-files.ts';
import { readSceneResources, type SceneFiles, type SceneResources } from './read-scene-resources.ts';
import { SUPPORTED_EXTENSIONS } from './supported-extensions.ts';
import type { SceneStats } from './scene-stats.ts';
import type { ValidatedGltf } from './validated-gltf.ts';

export type { SceneStats } from './scene-stats.ts';

/**
 * A scene file on disk (GLB, or .gltf whose relative URIs resolve inside its folder), a .gltf (or GLB)
 * among files given in memory (its relative URIs resolve among them), or the bytes
 * of a GLB or of a .gltf whose resources are all data: URIs. `name` is only used in messages and
 * to tell GLB from glTF when the bytes are neither.
 */
export type SceneSource =
  | { path: string }
  | { bytes: Uint8Array; name?: string }
  | { files: ReadonlyMap<string, Uint8Array>; main: string };

export interface ReadScene {
  /** The normalized, self-contained GLB. */
  glb: Uint8Array;
  stats: SceneStats;
  /** Extensions the normalized GLB uses (Draco is gone, unknown optional ones are dropped). */
  extensionsUsed: string[];
}

function resolveLimits(partial: Partial<SceneLimits> | undefined): SceneLimits {
  const given = Object.fromEntries(Object.entries(partial ?? {}).filter(([, v]) => v !== undefined));
  const parsed = SceneLimits.safeParse({ ...SCENE_LIMITS_DEFAULTS, ...given });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new TesseraError('BAD_REQUEST', `invalid scene limits: ${issues}`);
  }
  return parsed.data;
}

interface SourceBytes {
  bytes: Uint8Array;
  /** For messages. */
  name: string;
  /** Real path of the scene's folder, for relative URIs; undefined for bytes. */
  folder: string | undefined;
  /** The scene's other files, when it came with them in memory. */
  files?: SceneFiles;
}

async function readSource(source: SceneSource, limits: SceneLimits): Promise<SourceBytes> {
  if ('path' in source && typeof source.path === 'string') {
    const name = path.basename(source.path);
    let info;
    try {
      info = await stat(source.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be opened (${code ?? 'error'})`;
      throw new TesseraError('SCENE_NOT_FOUND', `scene file ${show(name)} ${why}`, { cause: err });
    }
    if (!info.isFile()) throw new TesseraError('SCENE_NOT_FOUND', `scene file ${show(name)} is not a regular file`);
    if (info.size > limits.maxFileBytes) {
      throw new TesseraError(
        'SCENE_LIMIT_EXCEEDED',
        `scene file ${show(name)} is ${info.size} bytes, more than maxFileBytes ${limits.maxFileBytes}`,
      );
    }
    let buf: Buffer;
    try {
      buf = await readFile(source.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new TesseraError('SCENE_NOT_FOUND', `scene file ${show(name)} cannot be read (${code ?? 'error'})`, { cause: err });
    }
    if (buf.length > limits.maxFileBytes) {
      throw new TesseraError('SCENE_LIMIT_EXCEEDED', `scene file ${show(name)} is more than maxFileBytes ${limits.maxFileBytes}`);
    }
    const folder = await realpath(path.dirname(path.resolve(source.path)));
    return { bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), name, folder };
  }
  if ('bytes' in source && source.bytes instanceof Uint8Array) {
    const name = source.name ?? 'scene';
    if (source.bytes.length > limits.maxFileBytes) {
      throw new TesseraError(
        'SCENE_LIMIT_EXCEEDED',
        `scene ${show(name)} is ${source.bytes.length} bytes, more than maxFileBytes ${limits.maxFileBytes}`,
      );
    }
    return { bytes: source.bytes, name, folder: undefined };
  }
  if ('files' in source && source.files instanceof Map) {
    const bytes = source.files.get(source.main);
    const name = source.main.split('/').pop() ?? source.main;
    if (!bytes) throw new TesseraError('SCENE_NOT_FOUND', `scene file ${show(source.main)} is not among the files given`);
    if (bytes.length > limits.maxFileBytes) {
      throw new TesseraError('SCENE_LIMIT_EXCEEDED', `scene ${show(name)} is ${bytes.length} bytes, more than maxFileBytes ${limits.maxFileBytes}`);
    }
    return { bytes, name, folder: undefined, files: memorySceneFiles(source.files, source.main) };
  }
  throw new TesseraError('BAD_REQUEST', 'a scene source needs a path or bytes');
}

/** Whether the first non-blank character (after an optional byte-order mark) is `{`. */
function looksLikeJson(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x7b;
}

/** The JSON to hand to glTF-Transform: resources replaced by in-memory keys, version pinned to 2.0. */
/**
 * A texture with a core `source` (its fallback) and an extension source this renderer does not decode
 * (EXT_texture_avif): the extension is dropped, so the fallback is drawn. glTF-Transform would keep the extension's
 * image and drop the fallback, leaving a texture no backend could load ("Image is not defined" on Node).
 */
function keepFallbackSource(def: JsonObject): JsonObject {
  if (def.source === undefined || !isJsonObject(def.extensions)) return def;
  const extensions: JsonObject = { ...def.extensions };
  const undecodable = Object.keys(extensions).filter((name) => isJsonObject(extensions[name]) && extensions[name].source !== undefined && !SUPPORTED_EXTENSIONS.has(name));
  if (!undecodable.length) return def;
  for (const name of undecodable) delete extensions[name];
  return { ...def, extensions };
}

function prepareJsonDocument(gltf: ValidatedGltf, resources: SceneResources, sizes: ImageSize[]): JSONDocument {
  const json: JsonObject = { ...gltf.json };
  const asset: JsonObject = { ...(gltf.json.asset as JsonObject), version: '2.0' };
  delete asset.minVersion;
  json.asset = asset;
  if (Array.isArray(gltf.json.meshes)) {
    // extras may be any JSON value, but glTF-Transform writes morph target names into mesh extras.
    json.meshes = (gltf.json.meshes as JsonObject[]).map((def) => {
      if (def.extras === undefined || isJsonObject(def.extras)) return def;
      const { extras: _dropped, ...rest } = def;
      return rest;
    });
  }
  if (Array.isArray(gltf.json.textures)) json.textures = (gltf.json.textures as JsonObject[]).map(keepFallbackSource);
  const map: Record<string, Uint8Array> = {};
  if (Array.isArray(gltf.json.buffers)) {
    json.buffers = (gltf.json.buffers as JsonObject[]).map((def, i) => {
      const key = `__tessera_buffer_${i}.bin`;
      map[key] = resources.buffers[i];
      return { ...def, uri: key };
    });
  }
  if (Array.isArray(gltf.json.images)) {
    json.images = (gltf.json.images as JsonObject[]).map((def, i) => {
      const out: JsonObject = { ...def, mimeType: sizes[i].mimeType };
      if (def.uri !== undefined) {
        const key = `__tessera_image_${i}.${sizes[i].format}`;
        map[key] = resources.images[i];
        out.uri = key;
      }
      return out;
    });
  }
  return { json: json as unknown as GLTF.IGLTF, resources: map as JSONDocument['resources'] };
}

/**
 * Reads, checks and normalizes a glTF 2.0 scene. See the module comment for what is checked. `io`
 * replaces the Node glTF-Transform IO (the Workers API passes a WebIO).
 */
export async function readScene(source: SceneSource, limits?: Partial<SceneLimits>, io?: SceneIoProvider): Promise<ReadScene> {
  const caps = resolveLimits(limits);
  const { bytes, name, folder, files } = await readSource(source, caps);
  if (bytes.length === 0) throw malformed(`scene ${show(name)} is empty`);

  // Container and JSON.
  let json: JsonObject;
  let glbBin: Uint8Array | undefined;
  const binary = isGlb(bytes);
  if (binary) {
    const chunks = parseGlb(bytes, caps.maxJsonBytes);
    glbBin = chunks.bin;
    json = parseGltfJson(chunks.json, 'GLB JSON chunk');
  } else if (looksLikeJson(bytes)) {
    if (bytes.length > caps.maxJsonBytes) {
      throw new TesseraError(
        'SCENE_LIMIT_EXCEEDED',
        `glTF JSON is ${bytes.length} bytes, more than maxJsonBytes ${caps.maxJsonBytes}`,
      );
    }
    json = parseGltfJson(bytes, 'glTF JSON');
  } else if (/\.glb$/i.test(name)) {
    throw malformed(`not a GLB: wrong magic ${describeMagic(bytes)}, a GLB starts with "glTF"`);
  } else {
    throw malformed(
      `neither GLB nor glTF JSON: wrong magic ${describeMagic(bytes)} (a GLB starts with "glTF", glTF JSON with "{")`,
    );
  }
  if (!isJsonObject(json)) throw malformed('the glTF JSON must be an object');

  // Structure, then the costs knowable from the JSON alone.
  const gltf = checkGltfStructure(json, caps);
  const geometry = checkGeometryLimits(gltf, caps);

  // Resources, then the costs that need their bytes (headers and key times only).
  const resources = await readSceneResources(gltf, {
    glbBin,
    isGlb: binary,
    folder,
    files,
    bytesRead: bytes.length,
    maxFileBytes: caps.maxFileBytes,
  });
  const textures = checkTextureLimits(resources.images, caps, geometry.geometryBytes, gltf.images);
  // Meshopt views decode into their fallback buffers (sizes already counted), then the data checks see plain data.
  const provider = io ?? nodeSceneIo;
  const plain = await decodeMeshoptViews(gltf, resources.buffers, () => provider.meshoptDecoder());
  const data = checkAccessorData(plain.gltf, plain.buffers, caps);
  // Draco streams declare their own counts; they must match the (capped) accessors before any decoding.
  checkDracoHeaders(plain.gltf, plain.buffers);

  // The costly part: glTF-Transform reads everything, decodes Draco, writes one GLB.
  const prepared = prepareJsonDocument(plain.gltf, { ...resources, buffers: plain.buffers }, textures.sizes);
  const normalized = await normalizeScene(prepared, plain.gltf, provider);

  const stats: SceneStats = {
    bytes: resources.bytesRead,
    scenes: gltf.counts.scenes,
    nodes: gltf.counts.nodes,
    meshes: gltf.counts.meshes,
    primitives: gltf.primitives.length,
    vertices: geometry.vertices,
    triangles: geometry.triangles,
    materials: gltf.counts.materials,
    textures: gltf.counts.textures,
    texturePixels: textures.texturePixels,
    animations: gltf.counts.animations,
    animationSeconds: data.animationSeconds,
    cameras: gltf.counts.cameras,
    lights: gltf.counts.lights,
    extensionsUsed: [...gltf.extensionsUsed],
    extensionsRequired: [...gltf.extensionsRequired],
  };
  return { glb: normalized.glb, stats, extensionsUsed: normalized.extensionsUsed };
}
