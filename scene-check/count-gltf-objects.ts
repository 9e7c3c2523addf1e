/**
 * How many objects a glTF file declares, counted from array lengths alone before anything is walked or built.
 * Each one costs far more once loaded than its JSON does: a glTF-Transform property (several KB, measured) when
 * the API normalizes the scene, a three.js object on the render node. A 20 MB GLB of 400,000 empty materials,
 * each on its own primitive of one shared triangle, held the API's event loop for 100 s and filled its heap, so
 * the count is bounded (maxObjects) beside the costs already bounded by size (vertices, texture pixels, bytes).
 *
 * Counted: scenes, nodes, meshes, their primitives and morph targets, materials, textures, images, samplers,
 * accessors, buffer views, buffers, skins and their joints (each joint is a bone matrix per skin), cameras,
 * punctual lights, material variants, animations, their samplers and channels. Fields that are not arrays
 * count nothing here; the structure check refuses them next.
 */
import { isJsonObject, type JsonObject } from './gltf-fields.ts';

const TOP_LEVEL = [
  'scenes', 'nodes', 'meshes', 'materials', 'textures', 'images', 'samplers', 'accessors', 'bufferViews', 'buffers',
  'skins', 'cameras', 'animations',
] as const;

function length(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

/** Objects of each array `obj[key]` holds, each counted by `inner` as well. */
function sum(value: unknown, inner: (item: JsonObject) => number): number {
  if (!Array.isArray(value)) return 0;
  let n = 0;
  for (const item of value) if (isJsonObject(item)) n += inner(item);
  return n;
}

/** The number of glTF objects `json` declares (see the module comment for what counts). */
export function countGltfObjects(json: JsonObject): number {
  let n = 0;
  for (const key of TOP_LEVEL) n += length(json[key]);
  n += sum(json.meshes, (mesh) => length(mesh.primitives) + sum(mesh.primitives, (prim) => length(prim.targets)));
  n += sum(json.skins, (skin) => length(skin.joints));
  n += sum(json.animations, (animation) => length(animation.samplers) + length(animation.channels));
  const extensions = isJsonObject(json.extensions) ? json.extensions : {};
  const lights = extensions.KHR_lights_punctual;
  if (isJsonObject(lights)) n += length(lights.lights);
  const variants = extensions.KHR_materials_variants;
  if (isJsonObject(variants)) n += length(variants.variants);
  return n;
}
