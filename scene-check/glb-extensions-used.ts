/** The `extensionsUsed` of a GLB (names only, strings only), read from its JSON chunk without parsing the rest. */
import { isJsonObject } from './gltf-fields.ts';
import { parseGlb } from './parse-glb.ts';
import { parseGltfJson } from './parse-gltf-json.ts';

/** `extensionsUsed` of the (already checked and normalized) GLB `glb`; [] when it lists none. */
export function glbExtensionsUsed(glb: Uint8Array): string[] {
  const json = parseGltfJson(parseGlb(glb, glb.length).json, 'GLB JSON chunk');
  const used = isJsonObject(json) ? json.extensionsUsed : undefined;
  return Array.isArray(used) ? used.filter((e): e is string => typeof e === 'string') : [];
}
