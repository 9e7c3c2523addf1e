/**
 * Geometry cost from the JSON alone, before any buffer is read or Draco or meshopt data decoded: vertices
 * against maxVertices, and the bytes geometry will take once decoded (buffers plus one typed array
 * per accessor) as the first part of the maxDecodedBytes estimate. A node instanced by
 * EXT_mesh_gpu_instancing draws its mesh's vertices once per instance: instances × vertices counts against
 * maxVertices (so a few bytes of instance data cannot ask for billions of vertices), and each instance's
 * matrix (and colour) the renderer builds counts against maxDecodedBytes. What a frame draws in all (every node's
 * mesh, each primitive by its indices, times instances) counts against maxDrawnVertices.
 */
import type { SceneLimits } from '../api/protocol/render-spec.ts';
import { TesseraError } from '../api/protocol/errors.ts';
import { formatBytes } from './format-bytes.ts';
import type { ValidatedGltf } from './validated-gltf.ts';

export interface GeometryCost {
  vertices: number;
  triangles: number;
  /** Estimated bytes of decoded geometry: buffer data plus every accessor as a typed array. */
  geometryBytes: number;
}

/** Bytes the renderer allocates per instance: a 4×4 float matrix (three's InstancedMesh) and an RGB float colour. */
const INSTANCE_BYTES = 16 * 4 + 3 * 4;

export function checkGeometryLimits(gltf: ValidatedGltf, limits: SceneLimits): GeometryCost {
  let vertices = 0;
  let triangles = 0;
  for (const prim of gltf.primitives) {
    const position = prim.attributes.find(([semantic]) => semantic === 'POSITION');
    const vertexCount = position ? gltf.accessors[position[1]].count : 0;
    vertices += vertexCount;
    const n = prim.indices !== undefined ? gltf.accessors[prim.indices].count : vertexCount;
    if (prim.mode === 4) triangles += Math.floor(n / 3);
    else if (prim.mode === 5 || prim.mode === 6) triangles += Math.max(0, n - 2);
  }
  if (vertices > limits.maxVertices) {
    throw new TesseraError(
      'SCENE_LIMIT_EXCEEDED',
      `the scene has ${vertices} vertices, more than maxVertices ${limits.maxVertices}`,
    );
  }

  // Instancing: every instance draws the whole mesh again.
  const meshVertices = new Map<number, number>();
  for (const prim of gltf.primitives) {
    const position = prim.attributes.find(([semantic]) => semantic === 'POSITION');
    meshVertices.set(prim.mesh, (meshVertices.get(prim.mesh) ?? 0) + (position ? gltf.accessors[position[1]].count : 0));
  }
  let drawnVertices = vertices;
  let instanceBytes = 0;
  for (const { node, mesh, count } of gltf.instancedNodes) {
    const perInstance = meshVertices.get(mesh) ?? 0;
    const drawn = count * perInstance;
    if (drawn > limits.maxVertices) {
      throw new TesseraError(
        'SCENE_LIMIT_EXCEEDED',
        `node ${node} draws mesh ${mesh} (${perInstance} vertices) ${count} times with EXT_mesh_gpu_instancing: ` +
          `${drawn} vertices, more than maxVertices ${limits.maxVertices}`,
      );
    }
    drawnVertices += drawn;
    instanceBytes += count * INSTANCE_BYTES;
  }
  if (drawnVertices > limits.maxVertices) {
    throw new TesseraError(
      'SCENE_LIMIT_EXCEEDED',
      `the scene draws ${drawnVertices} vertices counting every EXT_mesh_gpu_instancing instance, more than maxVertices ${limits.maxVertices}`,
    );
  }

  // What one frame draws: each node's mesh (many nodes may share one), each primitive by its indices (many
  // primitives may share one large index accessor), times the node's instances.
  const meshDrawn = new Map<number, number>();
  for (const prim of gltf.primitives) {
    const position = prim.attributes.find(([semantic]) => semantic === 'POSITION');
    const n = prim.indices !== undefined ? gltf.accessors[prim.indices].count : position ? gltf.accessors[position[1]].count : 0;
    meshDrawn.set(prim.mesh, (meshDrawn.get(prim.mesh) ?? 0) + n);
  }
  const instances = new Map(gltf.instancedNodes.map(({ node, count }) => [node, count]));
  let drawn = 0;
  gltf.nodeMeshes.forEach((mesh, node) => {
    if (mesh >= 0) drawn += (meshDrawn.get(mesh) ?? 0) * (instances.get(node) ?? 1);
  });
  if (drawn > limits.maxDrawnVertices) {
    throw new TesseraError(
      'SCENE_LIMIT_EXCEEDED',
      `the scene draws ${drawn} vertices a frame (every node's mesh, by its indices, with its instances), more than maxDrawnVertices ${limits.maxDrawnVertices}`,
    );
  }

  let geometryBytes = 0;
  for (const buffer of gltf.buffers) geometryBytes += buffer.byteLength;
  for (const a of gltf.accessors) geometryBytes += a.count * a.components * a.componentBytes;
  // Meshopt views decode to count × byteStride each (the decoder's working memory), whatever their
  // compressed size; overlapping views in one fallback buffer each count.
  for (const view of gltf.bufferViews) if (view.meshopt) geometryBytes += view.meshopt.count * view.meshopt.byteStride;
  geometryBytes += instanceBytes;
  if (geometryBytes > limits.maxDecodedBytes) {
    throw new TesseraError(
      'SCENE_LIMIT_EXCEEDED',
      `the scene's geometry would take about ${formatBytes(geometryBytes)} once decoded, ` +
        `more than maxDecodedBytes ${formatBytes(limits.maxDecodedBytes)}`,
    );
  }
  return { vertices, triangles, geometryBytes };
}
