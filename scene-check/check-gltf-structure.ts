/**
 * Cheap structural checks on parsed glTF JSON, before any data is read or decoded: asset version,
 * required extensions, the shape of every object, every index reference, node numbers, the node
 * graph, and that accessors fit their buffer views and buffer views fit their buffers (by the
 * declared lengths; the data itself is checked once loaded).
 *
 * Over 500 lines on purpose: it is one ordered walk of the glTF schema (`checkGltfStructure`), object type
 * by object type, where later checks take what earlier ones validated (buffer views before accessors,
 * accessors before primitives); its helpers are private to that walk.
 */
import type { SceneLimits } from '../api/protocol/render-spec.ts';
import { TesseraError } from '../api/protocol/errors.ts';
import { checkMeshoptView, isMeshoptFallback } from './check-meshopt-views.ts';
import { checkNodeGraph } from './check-node-graph.ts';
import { countGltfObjects } from './count-gltf-objects.ts';
import {
  indexArray,
  indexEntries,
  indexRecord,
  isJsonObject,
  malformed,
  objectArray,
  optBoolean,
  optEnum,
  optIndex,
  optInt,
  optNumber,
  optNumberArray,
  optObject,
  optString,
  reqIndex,
  reqInt,
  reqNumber,
  reqObject,
  show,
  stringArray,
  type JsonObject,
  type Noun,
} from './gltf-fields.ts';
import { REFUSED_EXTENSIONS, SUPPORTED_EXTENSIONS } from './supported-extensions.ts';
import type {
  AccessorInfo,
  AnimationSamplerInfo,
  BufferInfo,
  BufferViewInfo,
  ImageInfo,
  InstancingInfo,
  PrimitiveInfo,
  SparseInfo,
  ValidatedGltf,
} from './validated-gltf.ts';

const N = {
  scene: { one: 'scene', many: 'scenes' },
  node: { one: 'node', many: 'nodes' },
  mesh: { one: 'mesh', many: 'meshes' },
  skin: { one: 'skin', many: 'skins' },
  camera: { one: 'camera', many: 'cameras' },
  accessor: { one: 'accessor', many: 'accessors' },
  bufferView: { one: 'bufferView', many: 'bufferViews' },
  buffer: { one: 'buffer', many: 'buffers' },
  material: { one: 'material', many: 'materials' },
  texture: { one: 'texture', many: 'textures' },
  sampler: { one: 'sampler', many: 'samplers' },
  image: { one: 'image', many: 'images' },
  light: { one: 'light', many: 'lights' },
  animationSampler: { one: 'sampler', many: 'samplers in this animation' },
  variant: { one: 'variant', many: 'variants' },
} satisfies Record<string, Noun>;

/** Bytes per component for each accessor componentType. */
export const COMPONENT_BYTES: Readonly<Record<number, number>> = {
  5120: 1, // BYTE
  5121: 1, // UNSIGNED_BYTE
  5122: 2, // SHORT
  5123: 2, // UNSIGNED_SHORT
  5125: 4, // UNSIGNED_INT
  5126: 4, // FLOAT
};
const COMPONENT_TYPES = Object.keys(COMPONENT_BYTES).map(Number);

/** Components per element for each accessor type. */
export const TYPE_COMPONENTS: Readonly<Record<string, number>> = {
  SCALAR: 1,
  VEC2: 2,
  VEC3: 3,
  VEC4: 4,
  MAT2: 4,
  MAT3: 9,
  MAT4: 16,
};
const TYPES = Object.keys(TYPE_COMPONENTS);

const MAX_UINT32 = 0xffffffff;

/** Element size inside a buffer view, including the column padding small matrices get. */
function paddedElementBytes(type: string, componentBytes: number): number {
  if (type === 'MAT2' && componentBytes === 1) return 8;
  if (type === 'MAT3' && componentBytes === 1) return 12;
  if (type === 'MAT3' && componentBytes === 2) return 24;
  return TYPE_COMPONENTS[type] * componentBytes;
}

const ATTRIBUTE_TYPES: Array<[RegExp, string[]]> = [
  [/^POSITION$/, ['VEC3']],
  [/^NORMAL$/, ['VEC3']],
  [/^TANGENT$/, ['VEC4']],
  [/^TEXCOORD_\d+$/, ['VEC2']],
  [/^COLOR_\d+$/, ['VEC3', 'VEC4']],
  [/^JOINTS_\d+$/, ['VEC4']],
  [/^WEIGHTS_\d+$/, ['VEC4']],
];
const TARGET_TYPES: Array<[RegExp, string[]]> = [
  [/^(POSITION|NORMAL|TANGENT)$/, ['VEC3']],
  [/^TEXCOORD_\d+$/, ['VEC2']],
  [/^COLOR_\d+$/, ['VEC3', 'VEC4']],
];
const INSTANCE_TYPES: Array<[RegExp, string[]]> = [
  [/^(TRANSLATION|SCALE)$/, ['VEC3']],
  [/^ROTATION$/, ['VEC4']],
  [/^_COLOR_0$/, ['VEC3', 'VEC4']],
];
const SEMANTIC = /^[A-Za-z0-9_]+$/;


function checkAsset(json: JsonObject): void {
  const asset = json.asset;
  if (!isJsonObject(asset)) throw malformed('asset is missing; a glTF 2.0 file needs "asset": {"version": "2.0"}');
  const version = asset.version;
  if (typeof version !== 'string') throw malformed(`asset.version must be a string like "2.0", got ${show(version)}`);
  const match = /^(\d+)\.(\d+)$/.exec(version);
  if (!match) throw malformed(`asset.version must look like "2.0", got ${show(version)}`);
  if (match[1] !== '2') {
    throw new TesseraError('SCENE_UNSUPPORTED', `glTF version ${version} is not supported; this renderer reads glTF 2.0`);
  }
  const minVersion = asset.minVersion;
  if (minVersion !== undefined) {
    const min = typeof minVersion === 'string' ? /^(\d+)\.(\d+)$/.exec(minVersion) : null;
    if (!min) throw malformed(`asset.minVersion must look like "2.0", got ${show(minVersion)}`);
    if (min[1] !== '2' || Number(min[2]) > 0) {
      throw new TesseraError(
        'SCENE_UNSUPPORTED',
        `asset.minVersion is ${minVersion}; this renderer supports glTF 2.0 only`,
      );
    }
  }
}

function checkExtensions(json: JsonObject): { used: string[]; required: string[] } {
  const used = stringArray(json, 'extensionsUsed', '');
  const required = stringArray(json, 'extensionsRequired', '');
  for (const name of required) {
    if (!SUPPORTED_EXTENSIONS.has(name)) {
      throw new TesseraError('SCENE_UNSUPPORTED', `extensionsRequired has ${name}, which this renderer does not support`);
    }
  }
  for (const name of used) {
    if (REFUSED_EXTENSIONS.has(name)) {
      throw new TesseraError(
        'SCENE_UNSUPPORTED',
        `extensionsUsed has ${name}, which this renderer does not decode; export the scene without it`,
      );
    }
  }
  return { used, required };
}

/** Checks `json` and returns what later stages need. Throws a TesseraError naming the first problem. */
export function checkGltfStructure(json: JsonObject, limits: SceneLimits): ValidatedGltf {
  checkAsset(json);
  const { used: extensionsUsed, required: extensionsRequired } = checkExtensions(json);
  const objects = countGltfObjects(json);
  if (objects > limits.maxObjects) {
    throw new TesseraError(
      'SCENE_LIMIT_EXCEEDED',
      `the scene declares ${objects} glTF objects (nodes, meshes, primitives, materials, accessors, animation channels…), more than maxObjects ${limits.maxObjects}`,
    );
  }

  const scenes = objectArray(json, 'scenes', '');
  const nodes = objectArray(json, 'nodes', '');
  const meshes = objectArray(json, 'meshes', '');
  const skins = objectArray(json, 'skins', '');
  const cameras = objectArray(json, 'cameras', '');
  const accessorDefs = objectArray(json, 'accessors', '');
  const bufferViewDefs = objectArray(json, 'bufferViews', '');
  const bufferDefs = objectArray(json, 'buffers', '');
  const materials = objectArray(json, 'materials', '');
  const textures = objectArray(json, 'textures', '');
  const samplers = objectArray(json, 'samplers', '');
  const imageDefs = objectArray(json, 'images', '');
  const animations = objectArray(json, 'animations', '');
  const rootExtensions = optObject(json, 'extensions', '') ?? {};
  const lightsExt = optObject(rootExtensions, 'KHR_lights_punctual', 'extensions');
  const lights = lightsExt ? objectArray(lightsExt, 'lights', 'extensions.KHR_lights_punctual') : [];
  const variantsExt = optObject(rootExtensions, 'KHR_materials_variants', 'extensions');
  const variants = variantsExt ? objectArray(variantsExt, 'variants', 'extensions.KHR_materials_variants') : [];

  // Names end up as three.js object names, which must be strings.
  const named: Array<[string, JsonObject[]]> = [
    ['scene', scenes], ['node', nodes], ['mesh', meshes], ['skin', skins], ['camera', cameras],
    ['accessor', accessorDefs], ['bufferView', bufferViewDefs], ['buffer', bufferDefs], ['material', materials],
    ['texture', textures], ['sampler', samplers], ['image', imageDefs], ['animation', animations],
    ['light', lights], ['variant', variants],
  ];
  for (const [noun, list] of named) list.forEach((def, i) => optString(def, 'name', `${noun} ${i}`));

  if (nodes.length > limits.maxNodes) {
    throw new TesseraError(
      'SCENE_LIMIT_EXCEEDED',
      `the scene has ${nodes.length} nodes, more than maxNodes ${limits.maxNodes}`,
    );
  }

  // Buffers and buffer views.
  const buffers: BufferInfo[] = bufferDefs.map((def, i) => {
    const where = `buffer ${i}`;
    return { uri: optString(def, 'uri', where), byteLength: reqInt(def, 'byteLength', where), meshoptFallback: isMeshoptFallback(def, where) };
  });
  const bufferViews: BufferViewInfo[] = bufferViewDefs.map((def, i) => {
    const where = `bufferView ${i}`;
    const buffer = reqIndex(def, 'buffer', where, buffers.length, N.buffer);
    const byteOffset = optInt(def, 'byteOffset', where) ?? 0;
    const byteLength = reqInt(def, 'byteLength', where, { min: 1 });
    const byteStride = optInt(def, 'byteStride', where, { min: 4, max: 252 });
    if (byteStride !== undefined && byteStride % 4 !== 0) {
      throw malformed(`${where}: byteStride ${byteStride} is not a multiple of 4`);
    }
    const bufferLength = buffers[buffer].byteLength;
    if (byteOffset + byteLength > bufferLength) {
      throw malformed(
        `${where}: byteOffset ${byteOffset} + byteLength ${byteLength} exceeds buffer ${buffer} length ${bufferLength}`,
      );
    }
    const info = { buffer, byteOffset, byteLength, byteStride };
    return { ...info, meshopt: checkMeshoptView(def, where, info, buffers, extensionsUsed) };
  });

  // Accessors.
  const accessors: AccessorInfo[] = accessorDefs.map((def, i) => checkAccessor(def, i, bufferViews));

  // Images, samplers, textures.
  const images: ImageInfo[] = imageDefs.map((def, i) => {
    const where = `image ${i}`;
    const uri = optString(def, 'uri', where);
    const bufferView = optIndex(def, 'bufferView', where, bufferViews.length, N.bufferView);
    const mimeType = optString(def, 'mimeType', where);
    if (uri === undefined && bufferView === undefined) throw malformed(`${where} has neither a uri nor a bufferView`);
    if (uri !== undefined && bufferView !== undefined) throw malformed(`${where} has both a uri and a bufferView`);
    if (bufferView !== undefined && bufferViews[bufferView].meshopt) {
      throw malformed(`${where}: bufferView ${bufferView} is meshopt-compressed, which images cannot be`);
    }
    return { uri, bufferView, mimeType, basisu: false, plain: false };
  });
  textures.forEach((def, i) => {
    const where = `texture ${i}`;
    optIndex(def, 'sampler', where, samplers.length, N.sampler);
    const core = optIndex(def, 'source', where, images.length, N.image);
    let usable = core !== undefined;
    if (core !== undefined) images[core].plain = true;
    const extensions = optObject(def, 'extensions', where);
    for (const [name, ext] of Object.entries(extensions ?? {})) {
      if (!isJsonObject(ext)) continue;
      const source = optIndex(ext, 'source', `${where} extensions.${name}`, images.length, N.image);
      if (source === undefined || !SUPPORTED_EXTENSIONS.has(name)) continue;
      usable = true; // EXT_texture_webp, EXT_texture_avif, KHR_texture_basisu
      if (name === 'KHR_texture_basisu') images[source].basisu = true;
      else images[source].plain = true;
    }
    if (!usable) {
      const only = Object.keys(extensions ?? {}).filter((name) => name.startsWith('KHR_') || name.startsWith('EXT_'));
      throw new TesseraError(
        'SCENE_UNSUPPORTED',
        only.length
          ? `${where} has no PNG, JPEG, WebP, AVIF or KTX2 (KHR_texture_basisu) source, only ${only.join(', ')}, which this renderer does not decode`
          : `${where} has no source image`,
      );
    }
  });

  // Materials: core fields, and every texture reference wherever an extension puts it.
  materials.forEach((def, i) => checkMaterial(def, `material ${i}`, textures.length));

  // Cameras.
  cameras.forEach((def, i) => {
    const where = `camera ${i}`;
    const type = optEnum(def, 'type', where, ['perspective', 'orthographic'] as const);
    if (type === undefined) throw malformed(`${where}: type is missing`);
    if (type === 'perspective') {
      const p = reqObject(def, 'perspective', where);
      const w = `${where} perspective`;
      reqNumber(p, 'yfov', w, { above: 0 });
      const znear = reqNumber(p, 'znear', w, { above: 0 });
      optNumber(p, 'zfar', w, { above: znear });
      optNumber(p, 'aspectRatio', w, { above: 0 });
    } else {
      const o = reqObject(def, 'orthographic', where);
      const w = `${where} orthographic`;
      reqNumber(o, 'xmag', w, { nonZero: true });
      reqNumber(o, 'ymag', w, { nonZero: true });
      const znear = reqNumber(o, 'znear', w, { atLeast: 0 });
      reqNumber(o, 'zfar', w, { above: znear });
    }
  });

  // Meshes and primitives.
  const primitives: PrimitiveInfo[] = [];
  meshes.forEach((mesh, m) => {
    const where = `mesh ${m}`;
    const prims = objectArray(mesh, 'primitives', where);
    if (prims.length === 0) throw malformed(`${where}: primitives must not be empty`);
    optNumberArray(mesh, 'weights', where);
    prims.forEach((prim, p) => {
      const counts = { bufferViews: bufferViews.length, materials: materials.length, variants: variants.length };
      primitives.push(checkPrimitive(prim, `${where} primitive ${p}`, m, p, accessors, counts, extensionsUsed));
    });
  });

  // Skins.
  skins.forEach((def, i) => {
    const where = `skin ${i}`;
    const joints = indexArray(def, 'joints', where, nodes.length, N.node, true);
    optIndex(def, 'skeleton', where, nodes.length, N.node);
    const ibm = optIndex(def, 'inverseBindMatrices', where, accessors.length, N.accessor);
    if (ibm !== undefined) {
      const a = accessors[ibm];
      if (a.type !== 'MAT4' || a.componentType !== 5126) {
        throw malformed(`${where}: inverseBindMatrices accessor ${ibm} must be MAT4 floats, got ${a.type}`);
      }
      if (a.count < joints.length) {
        throw malformed(`${where}: inverseBindMatrices accessor ${ibm} has ${a.count} matrices for ${joints.length} joints`);
      }
    }
  });

  // Lights.
  lights.forEach((def, i) => {
    const where = `light ${i}`;
    const type = optEnum(def, 'type', where, ['directional', 'point', 'spot'] as const);
    if (type === undefined) throw malformed(`${where}: type is missing`);
    optNumberArray(def, 'color', where, 3);
    optNumber(def, 'intensity', where, { atLeast: 0 });
    optNumber(def, 'range', where, { above: 0 });
    if (type === 'spot') {
      const spot = reqObject(def, 'spot', where);
      optNumber(spot, 'innerConeAngle', `${where} spot`, { atLeast: 0 });
      optNumber(spot, 'outerConeAngle', `${where} spot`, { above: 0 });
    }
  });

  // Nodes.
  const instancedNodes: InstancingInfo[] = [];
  const nodeMeshes: number[] = [];
  const children: number[][] = nodes.map((def, i) => {
    const where = `node ${i}`;
    const kids = indexArray(def, 'children', where, nodes.length, N.node);
    const mesh = optIndex(def, 'mesh', where, meshes.length, N.mesh);
    nodeMeshes.push(mesh ?? -1);
    optIndex(def, 'skin', where, skins.length, N.skin);
    optIndex(def, 'camera', where, cameras.length, N.camera);
    optNumberArray(def, 'matrix', where, 16);
    optNumberArray(def, 'translation', where, 3);
    optNumberArray(def, 'rotation', where, 4);
    optNumberArray(def, 'scale', where, 3);
    optNumberArray(def, 'weights', where);
    const extensions = optObject(def, 'extensions', where);
    if (extensions) {
      const light = optObject(extensions, 'KHR_lights_punctual', `${where} extensions`);
      if (light) reqIndex(light, 'light', `${where} extensions.KHR_lights_punctual`, lights.length, N.light);
      const instancing = optObject(extensions, 'EXT_mesh_gpu_instancing', `${where} extensions`);
      if (instancing) {
        const w = `${where} extensions.EXT_mesh_gpu_instancing`;
        const attributes = indexRecord(instancing, 'attributes', w, accessors.length, N.accessor);
        checkAttributes(attributes, w, accessors, INSTANCE_TYPES);
        if (mesh === undefined) throw malformed(`${w}: the node has no mesh to instance`);
        if (attributes.length === 0) throw malformed(`${w}: attributes is empty`);
        const count = accessors[attributes[0][1]].count;
        for (const [semantic, index] of attributes) {
          if (accessors[index].count !== count) {
            throw malformed(`${w}: ${semantic} accessor ${index} has ${accessors[index].count} elements, ${attributes[0][0]} has ${count}; every instance attribute needs one per instance`);
          }
        }
        instancedNodes.push({ node: i, mesh, count });
      }
    }
    return kids;
  });
  const parents = checkNodeGraph(children);

  // Scenes.
  scenes.forEach((def, i) => {
    const where = `scene ${i}`;
    const roots = indexArray(def, 'nodes', where, nodes.length, N.node);
    const seen = new Set<number>();
    for (const n of roots) {
      if (seen.has(n)) throw malformed(`${where} lists node ${n} twice`);
      seen.add(n);
      if (parents[n] !== -1) {
        throw malformed(`${where} lists node ${n} as a root, but node ${n} is a child of node ${parents[n]}`);
      }
    }
  });
  optIndex(json, 'scene', '', scenes.length, N.scene);

  // Animations.
  const animationSamplers: AnimationSamplerInfo[] = [];
  animations.forEach((def, a) => {
    const where = `animation ${a}`;
    const samplerDefs = objectArray(def, 'samplers', where);
    const keysPerTime: number[] = [];
    samplerDefs.forEach((s, k) => {
      const w = `${where} sampler ${k}`;
      const input = reqIndex(s, 'input', w, accessors.length, N.accessor);
      const output = reqIndex(s, 'output', w, accessors.length, N.accessor);
      const interpolation = optEnum(s, 'interpolation', w, ['LINEAR', 'STEP', 'CUBICSPLINE'] as const);
      const inAcc = accessors[input];
      if (inAcc.type !== 'SCALAR' || inAcc.componentType !== 5126) {
        throw malformed(`${w}: input accessor ${input} must hold SCALAR floats (times in seconds), got ${inAcc.type}`);
      }
      keysPerTime.push(interpolation === 'CUBICSPLINE' ? 3 : 1);
      animationSamplers.push({ animation: a, sampler: k, input, output });
    });
    objectArray(def, 'channels', where).forEach((c, k) => {
      const w = `${where} channel ${k}`;
      const sampler = reqIndex(c, 'sampler', w, samplerDefs.length, N.animationSampler);
      const target = reqObject(c, 'target', w);
      optIndex(target, 'node', `${w} target`, nodes.length, N.node);
      if (target.path === undefined) throw malformed(`${w} target: path is missing`);
      const path = optEnum(target, 'path', `${w} target`, ['translation', 'rotation', 'scale', 'weights'] as const)!;
      const { input, output } = animationSamplers[animationSamplers.length - samplerDefs.length + sampler];
      const times = accessors[input].count;
      const out = accessors[output];
      const perTime = keysPerTime[sampler];
      const type = path === 'rotation' ? 'VEC4' : path === 'weights' ? 'SCALAR' : 'VEC3';
      if (out.type !== type) {
        throw malformed(`${w}: a ${path} channel needs ${type} output values, but accessor ${output} is ${out.type}`);
      }
      // Morph target weights carry one value per target per key; the others one value per key.
      const fits = path === 'weights' ? out.count % (times * perTime) === 0 : out.count === times * perTime;
      if (!fits) {
        throw malformed(`${w}: output accessor ${output} has ${out.count} values for ${times} key times`);
      }
    });
  });

  return {
    json,
    extensionsUsed,
    extensionsRequired,
    buffers,
    bufferViews,
    accessors,
    images,
    primitives,
    instancedNodes,
    nodeMeshes,
    animationSamplers,
    counts: {
      scenes: scenes.length,
      nodes: nodes.length,
      meshes: meshes.length,
      materials: materials.length,
      textures: textures.length,
      animations: animations.length,
      cameras: cameras.length,
      lights: lights.length,
    },
  };
}

function boundsMessage(
  where: string,
  byteOffset: number,
  stride: number,
  count: number,
  elementBytes: number,
  bufferView: number,
  length: number,
): string {
  const span =
    stride === elementBytes || count === 1
      ? `${elementBytes}×${count}`
      : `${stride}×${count - 1} + ${elementBytes}`;
  return `${where}: byteOffset ${byteOffset} + ${span} exceeds bufferView ${bufferView} length ${length}`;
}

function checkAccessor(def: JsonObject, i: number, bufferViews: BufferViewInfo[]): AccessorInfo {
  const where = `accessor ${i}`;
  const componentType = optEnum(def, 'componentType', where, COMPONENT_TYPES);
  if (componentType === undefined) throw malformed(`${where}: componentType is missing`);
  const type = optEnum(def, 'type', where, TYPES);
  if (type === undefined) throw malformed(`${where}: type is missing`);
  const count = reqInt(def, 'count', where, { min: 1 });
  optBoolean(def, 'normalized', where);
  const bufferView = optIndex(def, 'bufferView', where, bufferViews.length, N.bufferView);
  const byteOffset = optInt(def, 'byteOffset', where) ?? 0;
  const components = TYPE_COMPONENTS[type];
  const componentBytes = COMPONENT_BYTES[componentType];
  const elementBytes = paddedElementBytes(type, componentBytes);
  optNumberArray(def, 'min', where, components);
  optNumberArray(def, 'max', where, components);

  if (bufferView !== undefined) {
    const view = bufferViews[bufferView];
    if (view.byteStride !== undefined && view.byteStride < elementBytes) {
      throw malformed(
        `${where}: bufferView ${bufferView} byteStride ${view.byteStride} is smaller than one ${type} element (${elementBytes} bytes)`,
      );
    }
    const stride = view.byteStride ?? elementBytes;
    if (byteOffset + (count - 1) * stride + elementBytes > view.byteLength) {
      throw malformed(boundsMessage(where, byteOffset, stride, count, elementBytes, bufferView, view.byteLength));
    }
  }
  if (count > MAX_UINT32) throw malformed(`${where}: count ${count} is more than 2^32 - 1`);

  let sparse: SparseInfo | undefined;
  const sparseDef = optObject(def, 'sparse', where);
  if (sparseDef) {
    const w = `${where} sparse`;
    const sparseCount = reqInt(sparseDef, 'count', w, { min: 1, max: count });
    const indicesDef = reqObject(sparseDef, 'indices', w);
    const valuesDef = reqObject(sparseDef, 'values', w);
    const wi = `${w}.indices`;
    const wv = `${w}.values`;
    const indices = {
      bufferView: reqIndex(indicesDef, 'bufferView', wi, bufferViews.length, N.bufferView),
      byteOffset: optInt(indicesDef, 'byteOffset', wi) ?? 0,
      componentType: optEnum(indicesDef, 'componentType', wi, [5121, 5123, 5125]) ?? -1,
    };
    if (indices.componentType === -1) throw malformed(`${wi}: componentType is missing`);
    const values = {
      bufferView: reqIndex(valuesDef, 'bufferView', wv, bufferViews.length, N.bufferView),
      byteOffset: optInt(valuesDef, 'byteOffset', wv) ?? 0,
    };
    const indexBytes = COMPONENT_BYTES[indices.componentType];
    const iv = bufferViews[indices.bufferView];
    if (indices.byteOffset + indexBytes * sparseCount > iv.byteLength) {
      throw malformed(
        boundsMessage(wi, indices.byteOffset, indexBytes, sparseCount, indexBytes, indices.bufferView, iv.byteLength),
      );
    }
    const vv = bufferViews[values.bufferView];
    if (values.byteOffset + elementBytes * sparseCount > vv.byteLength) {
      throw malformed(
        boundsMessage(wv, values.byteOffset, elementBytes, sparseCount, elementBytes, values.bufferView, vv.byteLength),
      );
    }
    sparse = { count: sparseCount, indices, values };
  }
  return { bufferView, byteOffset, componentType, type, count, components, componentBytes, elementBytes, sparse };
}

function checkAttributes(
  record: Array<[string, number]>,
  where: string,
  accessors: AccessorInfo[],
  rules: Array<[RegExp, string[]]>,
): void {
  for (const [semantic, index] of record) {
    if (!SEMANTIC.test(semantic) || semantic === '__proto__') {
      throw malformed(`${where}: attribute name ${show(semantic)} is not a valid glTF semantic`);
    }
    const rule = rules.find(([re]) => re.test(semantic));
    const type = accessors[index].type;
    if (rule && !rule[1].includes(type)) {
      throw malformed(`${where}: ${semantic} accessor ${index} must be ${rule[1].join(' or ')}, got ${type}`);
    }
  }
}

function checkPrimitive(
  prim: JsonObject,
  where: string,
  mesh: number,
  primitive: number,
  accessors: AccessorInfo[],
  counts: { bufferViews: number; materials: number; variants: number },
  extensionsUsed: string[],
): PrimitiveInfo {
  const { bufferViews: bufferViewCount, materials: materialCount, variants: variantCount } = counts;
  if (!isJsonObject(prim.attributes)) throw malformed(`${where}: attributes is missing`);
  const attributes = indexRecord(prim, 'attributes', where, accessors.length, N.accessor);
  if (attributes.length === 0) throw malformed(`${where}: attributes is empty`);
  checkAttributes(attributes, where, accessors, ATTRIBUTE_TYPES);
  const vertexCount = accessors[(attributes.find(([s]) => s === 'POSITION') ?? attributes[0])[1]].count;
  for (const [semantic, index] of attributes) {
    if (accessors[index].count !== vertexCount) {
      throw malformed(`${where}: ${semantic} accessor ${index} has ${accessors[index].count} elements, the other attributes ${vertexCount}`);
    }
  }

  const indices = optIndex(prim, 'indices', where, accessors.length, N.accessor);
  if (indices !== undefined) {
    const a = accessors[indices];
    if (a.type !== 'SCALAR' || ![5121, 5123, 5125].includes(a.componentType)) {
      throw malformed(
        `${where}: indices accessor ${indices} must be SCALAR unsigned integers, got ${a.type} of componentType ${a.componentType}`,
      );
    }
  }
  optIndex(prim, 'material', where, materialCount, N.material);
  const mode = optInt(prim, 'mode', where, { min: 0, max: 6 }) ?? 4;

  objectArray(prim, 'targets', where).forEach((target, t) => {
    const w = `${where} target ${t}`;
    const record = indexEntries(target, '', w, accessors.length, N.accessor);
    checkAttributes(record, w, accessors, TARGET_TYPES);
    for (const [semantic, index] of record) {
      if (accessors[index].count !== vertexCount) {
        throw malformed(`${w}: ${semantic} accessor ${index} has ${accessors[index].count} elements, the primitive ${vertexCount}`);
      }
    }
  });

  let dracoBufferView: number | undefined;
  const extensions = optObject(prim, 'extensions', where);
  if (extensions) {
    const draco = optObject(extensions, 'KHR_draco_mesh_compression', `${where} extensions`);
    if (draco) {
      const w = `${where} extensions.KHR_draco_mesh_compression`;
      if (!extensionsUsed.includes('KHR_draco_mesh_compression')) {
        throw malformed(`${w} is present, but extensionsUsed does not list KHR_draco_mesh_compression`);
      }
      dracoBufferView = reqIndex(draco, 'bufferView', w, bufferViewCount, N.bufferView);
      const dracoAttributes = reqObject(draco, 'attributes', w);
      for (const semantic of Object.keys(dracoAttributes)) {
        optInt(dracoAttributes, semantic, `${w} attributes`);
        if (!attributes.some(([s]) => s === semantic)) {
          throw malformed(`${w}: attribute ${show(semantic)} is not among the primitive's attributes`);
        }
      }
    }
    const variants = optObject(extensions, 'KHR_materials_variants', `${where} extensions`);
    if (variants) {
      const w = `${where} extensions.KHR_materials_variants`;
      objectArray(variants, 'mappings', w).forEach((mapping, k) => {
        reqIndex(mapping, 'material', `${w} mappings[${k}]`, materialCount, N.material);
        indexArray(mapping, 'variants', `${w} mappings[${k}]`, variantCount, N.variant, true);
      });
    }
  }
  return { mesh, primitive, mode, attributes, indices, dracoBufferView };
}

function checkMaterial(def: JsonObject, where: string, textureCount: number): void {
  const pbr = optObject(def, 'pbrMetallicRoughness', where);
  if (pbr) {
    const w = `${where} pbrMetallicRoughness`;
    optNumberArray(pbr, 'baseColorFactor', w, 4);
    optNumber(pbr, 'metallicFactor', w);
    optNumber(pbr, 'roughnessFactor', w);
  }
  optNumberArray(def, 'emissiveFactor', where, 3);
  optEnum(def, 'alphaMode', where, ['OPAQUE', 'MASK', 'BLEND'] as const);
  optNumber(def, 'alphaCutoff', where, { atLeast: 0 });
  optBoolean(def, 'doubleSided', where);
  checkTextureRefs(def, where, textureCount);
}

/**
 * Checks every `...Texture` field (a textureInfo) under a material, including its extensions,
 * such as `extensions.KHR_materials_clearcoat.clearcoatTexture`. Depth is bounded by the JSON
 * depth limit.
 */
function checkTextureRefs(obj: JsonObject, where: string, textureCount: number, path = ''): void {
  for (const key of Object.keys(obj)) {
    if (key === 'extras') continue;
    const value = obj[key];
    const here = path ? `${path}.${key}` : key;
    if (key.endsWith('Texture')) {
      const w = `${where} ${here}`;
      if (!isJsonObject(value)) throw malformed(`${w} must be an object with a texture index, got ${show(value)}`);
      reqIndex(value, 'index', w, textureCount, N.texture);
      optInt(value, 'texCoord', w);
      optNumber(value, 'scale', w);
      optNumber(value, 'strength', w);
    }
    if (isJsonObject(value)) checkTextureRefs(value, where, textureCount, here);
  }
}
