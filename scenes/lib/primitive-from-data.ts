import { type Document, type GLTF, type Material, type Primitive, Accessor } from '@gltf-transform/core';
import { type AttributeArray, type MeshData, componentsOf } from './mesh-data.ts';

const TYPE_BY_SIZE: Record<number, GLTF.AccessorType> = {
  1: Accessor.Type.SCALAR,
  2: Accessor.Type.VEC2,
  3: Accessor.Type.VEC3,
  4: Accessor.Type.VEC4,
  16: Accessor.Type.MAT4,
};

/** The document's single buffer (created on first use). */
export function mainBuffer(doc: Document) {
  return doc.getRoot().listBuffers()[0] ?? doc.createBuffer('main');
}

/** Creates an accessor in the document's buffer. */
export function createAccessor(
  doc: Document,
  name: string,
  array: AttributeArray | Uint32Array,
  components: number,
  normalized = false,
): Accessor {
  return doc
    .createAccessor(name)
    .setBuffer(mainBuffer(doc))
    .setType(TYPE_BY_SIZE[components])
    .setArray(array)
    .setNormalized(normalized);
}

export interface PrimitiveOptions {
  material?: Material;
  mode?: GLTF.MeshPrimitiveMode;
  /** Attribute semantics stored as normalized integers (KHR_mesh_quantization, COLOR_n, ...). */
  normalized?: string[];
  /** Components per attribute when not the project default (e.g. COLOR_0 as RGBA). */
  components?: Record<string, number>;
}

/** Builds a primitive from MeshData; accessor names are "<name>:<SEMANTIC>". */
export function primitiveFromData(doc: Document, name: string, data: MeshData, o: PrimitiveOptions = {}): Primitive {
  const prim = doc.createPrimitive().setMode(o.mode ?? 4);
  for (const [semantic, array] of Object.entries(data.attributes)) {
    const components = o.components?.[semantic] ?? componentsOf(semantic);
    prim.setAttribute(
      semantic,
      createAccessor(doc, `${name}:${semantic}`, array, components, o.normalized?.includes(semantic) ?? false),
    );
  }
  if (data.indices) prim.setIndices(createAccessor(doc, `${name}:indices`, data.indices, 1));
  if (o.material) prim.setMaterial(o.material);
  return prim;
}

/** A named single-primitive mesh. */
export function meshFromData(doc: Document, name: string, data: MeshData, o: PrimitiveOptions = {}) {
  return doc.createMesh(name).addPrimitive(primitiveFromData(doc, name, data, o));
}
