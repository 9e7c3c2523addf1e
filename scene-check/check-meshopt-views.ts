/**
 * Structural checks for meshopt compression (EXT_meshopt_compression and its ratified successor
 * KHR_meshopt_compression, which share one schema): which buffers are fallbacks (the space the
 * compressed views decode into, often without data), and each compressed view's extension: its
 * compressed bytes fit their buffer, its mode, filter and stride agree, and it decodes to exactly
 * the view's byteLength. These declared sizes are what the caps are counted on before anything is
 * decoded (see check-geometry-limits.ts and decode-meshopt-views.ts).
 */
import { malformed, optEnum, optInt, optObject, reqIndex, reqInt, type JsonObject } from './gltf-fields.ts';
import type { BufferInfo, BufferViewInfo, MeshoptViewInfo } from './validated-gltf.ts';

export const MESHOPT_EXTENSIONS = ['EXT_meshopt_compression', 'KHR_meshopt_compression'] as const;

const MODES = ['ATTRIBUTES', 'TRIANGLES', 'INDICES'] as const;
const FILTERS = ['NONE', 'OCTAHEDRAL', 'QUATERNION', 'EXPONENTIAL', 'COLOR'] as const;

/** The meshopt extension object of a buffer or buffer view, and its name. */
function meshoptExtension(def: JsonObject, where: string): [string, JsonObject] | undefined {
  const extensions = optObject(def, 'extensions', where);
  if (!extensions) return undefined;
  for (const name of MESHOPT_EXTENSIONS) {
    const ext = optObject(extensions, name, `${where} extensions`);
    if (ext) return [name, ext];
  }
  return undefined;
}

/** Whether a buffer is a meshopt fallback buffer (`"fallback": true`). */
export function isMeshoptFallback(def: JsonObject, where: string): boolean {
  const found = meshoptExtension(def, where);
  if (!found) return false;
  const fallback = found[1].fallback;
  if (fallback !== undefined && typeof fallback !== 'boolean') {
    throw malformed(`${where} extensions.${found[0]}: fallback must be true or false`);
  }
  return fallback === true;
}

/** Checks a buffer view's meshopt extension, if it has one, against the view and the buffers. */
export function checkMeshoptView(
  def: JsonObject,
  where: string,
  view: Omit<BufferViewInfo, 'meshopt'>,
  buffers: BufferInfo[],
  extensionsUsed: string[],
): MeshoptViewInfo | undefined {
  const found = meshoptExtension(def, where);
  if (!found) {
    if (buffers[view.buffer].meshoptFallback) {
      throw malformed(`${where} lies in buffer ${view.buffer}, a meshopt fallback buffer, but is not compressed itself`);
    }
    return undefined;
  }
  const [extension, ext] = found;
  const w = `${where} extensions.${extension}`;
  if (!extensionsUsed.includes(extension)) throw malformed(`${w} is present, but extensionsUsed does not list ${extension}`);
  const buffer = reqIndex(ext, 'buffer', w, buffers.length, { one: 'buffer', many: 'buffers' });
  if (buffers[buffer].meshoptFallback) throw malformed(`${w}: buffer ${buffer} is a fallback buffer, it holds no compressed data`);
  const byteOffset = optInt(ext, 'byteOffset', w) ?? 0;
  const byteLength = reqInt(ext, 'byteLength', w, { min: 1 });
  const byteStride = reqInt(ext, 'byteStride', w, { min: 1, max: 256 });
  const count = reqInt(ext, 'count', w, { min: 1 });
  const mode = optEnum(ext, 'mode', w, MODES);
  if (mode === undefined) throw malformed(`${w}: mode is missing`);
  const filter = optEnum(ext, 'filter', w, FILTERS) ?? 'NONE';

  if (byteOffset + byteLength > buffers[buffer].byteLength) {
    throw malformed(`${w}: byteOffset ${byteOffset} + byteLength ${byteLength} exceeds buffer ${buffer} length ${buffers[buffer].byteLength}`);
  }
  if (mode === 'ATTRIBUTES' && byteStride % 4 !== 0) throw malformed(`${w}: ATTRIBUTES need a byteStride that is a multiple of 4, got ${byteStride}`);
  if (mode !== 'ATTRIBUTES' && byteStride !== 2 && byteStride !== 4) throw malformed(`${w}: ${mode} need a byteStride of 2 or 4, got ${byteStride}`);
  if (mode === 'TRIANGLES' && count % 3 !== 0) throw malformed(`${w}: TRIANGLES need a count that is a multiple of 3, got ${count}`);
  if (filter !== 'NONE') {
    if (mode !== 'ATTRIBUTES') throw malformed(`${w}: filter ${filter} applies only to ATTRIBUTES`);
    const strides: Record<string, number[] | undefined> = { OCTAHEDRAL: [4, 8], QUATERNION: [8], COLOR: [4, 8] };
    const allowed = strides[filter];
    if (allowed && !allowed.includes(byteStride)) throw malformed(`${w}: filter ${filter} needs a byteStride of ${allowed.join(' or ')}, got ${byteStride}`);
  }
  if (view.byteStride !== undefined && view.byteStride !== byteStride) {
    throw malformed(`${w}: byteStride ${byteStride} differs from the bufferView's byteStride ${view.byteStride}`);
  }
  // The decoded size is count × byteStride, whatever the compressed size: it must be the view's own length.
  const decoded = count * byteStride;
  if (decoded !== view.byteLength) {
    throw malformed(`${w}: count ${count} × byteStride ${byteStride} = ${decoded} bytes, but the bufferView's byteLength is ${view.byteLength}`);
  }
  return { extension, buffer, byteOffset, byteLength, byteStride, count, mode, filter };
}
