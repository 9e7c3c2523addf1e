/**
 * Decodes every meshopt-compressed buffer view (EXT_meshopt_compression, KHR_meshopt_compression)
 * into its fallback buffer and returns the scene as plain glTF: the views keep their offsets, the
 * extensions are gone, so the data checks and glTF-Transform see ordinary buffers. Runs after
 * check-geometry-limits.ts has counted every view's decoded size (count × byteStride) against
 * maxDecodedBytes, so nothing here is allocated on a size the caps did not see: each fallback buffer
 * (its declared byteLength) and the decoder's target for one view at a time.
 */
import { malformed } from './gltf-fields.ts';
import type { JsonObject } from './gltf-fields.ts';
import { MESHOPT_EXTENSIONS } from './check-meshopt-views.ts';
import type { ValidatedGltf } from './validated-gltf.ts';

/** The decoder meshoptimizer ships (`meshoptimizer/decoder`), or one built on the same wasm. */
export interface MeshoptDecoder {
  decodeGltfBuffer(target: Uint8Array, count: number, size: number, source: Uint8Array, mode: string, filter?: string): void;
}

function withoutMeshopt(def: JsonObject): JsonObject {
  const extensions = def.extensions as JsonObject | undefined;
  if (!extensions) return def;
  const rest: JsonObject = { ...extensions };
  for (const name of MESHOPT_EXTENSIONS) delete rest[name];
  const out: JsonObject = { ...def, extensions: rest };
  if (Object.keys(rest).length === 0) delete out.extensions;
  return out;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function usesMeshopt(gltf: ValidatedGltf): boolean {
  return gltf.bufferViews.some((v) => v.meshopt !== undefined);
}

export async function decodeMeshoptViews(
  gltf: ValidatedGltf,
  buffers: Uint8Array[],
  getDecoder: () => Promise<MeshoptDecoder>,
): Promise<{ gltf: ValidatedGltf; buffers: Uint8Array[] }> {
  if (!usesMeshopt(gltf)) return { gltf, buffers };
  const decoder = await getDecoder();

  const out = buffers.slice();
  gltf.bufferViews.forEach((view) => {
    if (view.meshopt && out[view.buffer] === buffers[view.buffer]) {
      // Fallback data, when there is any, is replaced: the decoded views are the content.
      out[view.buffer] = new Uint8Array(gltf.buffers[view.buffer].byteLength);
    }
  });
  gltf.bufferViews.forEach((view, i) => {
    const m = view.meshopt;
    if (!m) return;
    const source = buffers[m.buffer].subarray(m.byteOffset, m.byteOffset + m.byteLength);
    const target = out[view.buffer].subarray(view.byteOffset, view.byteOffset + m.count * m.byteStride);
    try {
      decoder.decodeGltfBuffer(target, m.count, m.byteStride, source, m.mode, m.filter);
    } catch (err) {
      throw malformed(`bufferView ${i}: the ${m.extension} data could not be decoded: ${message(err)}`, err);
    }
  });

  const json: JsonObject = { ...gltf.json };
  json.bufferViews = (gltf.json.bufferViews as JsonObject[]).map(withoutMeshopt);
  json.buffers = (gltf.json.buffers as JsonObject[]).map(withoutMeshopt);
  const names: readonly string[] = MESHOPT_EXTENSIONS;
  const keep = (list: string[]) => list.filter((name) => !names.includes(name));
  if (Array.isArray(json.extensionsUsed)) json.extensionsUsed = keep(json.extensionsUsed as string[]);
  if (Array.isArray(json.extensionsRequired)) json.extensionsRequired = keep(json.extensionsRequired as string[]);
  return {
    gltf: {
      ...gltf,
      json,
      extensionsUsed: keep(gltf.extensionsUsed),
      extensionsRequired: keep(gltf.extensionsRequired),
      buffers: gltf.buffers.map((b) => ({ ...b, meshoptFallback: false })),
      bufferViews: gltf.bufferViews.map((v) => ({ ...v, meshopt: undefined })),
    },
    buffers: out,
  };
}
