/**
 * What the structural check learned about a glTF document: the parts later stages need
 * (resource loading, cost caps, data checks), with defaults filled in and every index checked.
 */
import type { JsonObject } from './gltf-fields.ts';

export interface BufferInfo {
  uri: string | undefined;
  byteLength: number;
  /**
   * An EXT_meshopt_compression (or KHR_meshopt_compression) fallback buffer: its contents are what
   * the compressed buffer views decode to, so it may come without data (no uri, even outside a GLB).
   */
  meshoptFallback: boolean;
}

/** A buffer view's EXT_meshopt_compression (or KHR_meshopt_compression) extension. */
export interface MeshoptViewInfo {
  /** The extension's name, for messages. */
  extension: string;
  /** Where the compressed bytes are. */
  buffer: number;
  byteOffset: number;
  byteLength: number;
  /** Decoded element size and count: the view decodes to byteStride × count bytes. */
  byteStride: number;
  count: number;
  mode: 'ATTRIBUTES' | 'TRIANGLES' | 'INDICES';
  filter: 'NONE' | 'OCTAHEDRAL' | 'QUATERNION' | 'EXPONENTIAL' | 'COLOR';
}

export interface BufferViewInfo {
  buffer: number;
  byteOffset: number;
  byteLength: number;
  byteStride: number | undefined;
  /** Set when the view's data is meshopt-compressed elsewhere (the view itself lies in a fallback buffer). */
  meshopt: MeshoptViewInfo | undefined;
}

export interface SparseInfo {
  count: number;
  indices: { bufferView: number; byteOffset: number; componentType: number };
  values: { bufferView: number; byteOffset: number };
}

export interface AccessorInfo {
  bufferView: number | undefined;
  byteOffset: number;
  componentType: number;
  type: string;
  count: number;
  /** Components per element (3 for VEC3). */
  components: number;
  /** Bytes per component (4 for FLOAT). */
  componentBytes: number;
  /** Bytes one element occupies in a buffer view, with the column padding of small matrices. */
  elementBytes: number;
  sparse: SparseInfo | undefined;
}

export interface ImageInfo {
  uri: string | undefined;
  bufferView: number | undefined;
  mimeType: string | undefined;
  /** Some texture uses it through KHR_texture_basisu (so it must be KTX2). */
  basisu: boolean;
  /** Some texture uses it as its core `source` or through EXT_texture_webp (so it must not be KTX2). */
  plain: boolean;
}

export interface PrimitiveInfo {
  mesh: number;
  primitive: number;
  mode: number;
  attributes: Array<[string, number]>;
  indices: number | undefined;
  /** Set when the primitive is KHR_draco_mesh_compression-compressed: the buffer view of its Draco data. */
  dracoBufferView: number | undefined;
}

/** A node drawn many times by EXT_mesh_gpu_instancing. */
export interface InstancingInfo {
  node: number;
  mesh: number;
  /** Instances: the (equal) element count of its instance attributes. */
  count: number;
}

export interface AnimationSamplerInfo {
  animation: number;
  sampler: number;
  input: number;
  output: number;
}

export interface ValidatedGltf {
  json: JsonObject;
  extensionsUsed: string[];
  extensionsRequired: string[];
  buffers: BufferInfo[];
  bufferViews: BufferViewInfo[];
  accessors: AccessorInfo[];
  images: ImageInfo[];
  primitives: PrimitiveInfo[];
  instancedNodes: InstancingInfo[];
  /** Each node's mesh, or -1 for a node without one. */
  nodeMeshes: number[];
  animationSamplers: AnimationSamplerInfo[];
  counts: {
    scenes: number;
    nodes: number;
    meshes: number;
    materials: number;
    textures: number;
    animations: number;
    cameras: number;
    lights: number;
  };
}
