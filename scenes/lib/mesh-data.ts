/** Plain, document-independent geometry: typed arrays per glTF attribute semantic. */

export type AttributeArray = Float32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;
export type IndexArray = Uint16Array | Uint32Array;

export interface MeshData {
  /** Keyed by glTF semantic (POSITION, NORMAL, TEXCOORD_0, TANGENT, COLOR_0, ...). */
  attributes: Record<string, AttributeArray>;
  indices?: IndexArray;
}

/** Components per vertex for the float attributes this project generates. */
export function componentsOf(semantic: string): number {
  if (semantic.startsWith('TEXCOORD_')) return 2;
  if (semantic === 'TANGENT' || semantic.startsWith('JOINTS_') || semantic.startsWith('WEIGHTS_')) return 4;
  return 3; // POSITION, NORMAL, COLOR_n (RGB)
}

export function vertexCountOf(data: MeshData): number {
  return data.attributes.POSITION.length / 3;
}

/** Picks Uint16 indices when they fit, otherwise Uint32. */
export function makeIndexArray(indices: number[] | Uint32Array, vertexCount: number): IndexArray {
  return vertexCount <= 65535 ? Uint16Array.from(indices) : Uint32Array.from(indices);
}

/** Concatenates indexed meshes that share the same float attribute set. */
export function mergeMeshData(parts: MeshData[]): MeshData {
  const semantics = Object.keys(parts[0].attributes);
  const attributes: Record<string, Float32Array> = {};
  for (const semantic of semantics) {
    const total = parts.reduce((n, p) => n + p.attributes[semantic].length, 0);
    const out = new Float32Array(total);
    let offset = 0;
    for (const p of parts) {
      const arr = p.attributes[semantic];
      if (!arr) throw new Error(`mergeMeshData: part is missing ${semantic}`);
      out.set(arr, offset);
      offset += arr.length;
    }
    attributes[semantic] = out;
  }
  const vertexCount = attributes.POSITION.length / 3;
  const indices: number[] = [];
  let base = 0;
  for (const p of parts) {
    if (!p.indices) throw new Error('mergeMeshData: parts must be indexed');
    for (const i of p.indices) indices.push(i + base);
    base += vertexCountOf(p);
  }
  return { attributes, indices: makeIndexArray(indices, vertexCount) };
}

/** Returns a copy with every POSITION moved by `offset`. */
export function translateMeshData(data: MeshData, offset: [number, number, number]): MeshData {
  const src = data.attributes.POSITION;
  const pos = new Float32Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    pos[i] = src[i] + offset[0];
    pos[i + 1] = src[i + 1] + offset[1];
    pos[i + 2] = src[i + 2] + offset[2];
  }
  return { ...data, attributes: { ...data.attributes, POSITION: pos } };
}
