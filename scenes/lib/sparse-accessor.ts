import type { GLTF, JSONDocument } from '@gltf-transform/core';

/**
 * gltf-transform always writes sparse accessors with zero base values, so real "base + substitution" sparse
 * accessors are made after writing: mark a FLOAT accessor with extras[SPARSE_EXTRAS_KEY] and call
 * applySparseSubstitutions on the written JSONDocument. The accessor keeps its bufferView (the base values) and gains
 * a `sparse` block that replaces the listed elements.
 */
export const SPARSE_EXTRAS_KEY = 'tesseraSparseSubstitution';

export interface SparseSubstitution {
  /** Element indices to replace, strictly increasing. */
  indices: number[];
  /** Replacement values, indices.length * components. */
  values: number[];
}

const COMPONENTS: Record<string, number> = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4 };
const FLOAT = 5126;
const UNSIGNED_SHORT = 5123;

const pad4 = (n: number): number => (n + 3) & ~3;

/** Applies every marked substitution to a single-buffer (GLB) JSONDocument, in place. */
export function applySparseSubstitutions(jsonDoc: JSONDocument): number {
  const { json, resources } = jsonDoc;
  const bufferKey = Object.keys(resources)[0];
  let bin = resources[bufferKey];
  let applied = 0;
  for (const accessor of json.accessors ?? []) {
    const sub = accessor.extras?.[SPARSE_EXTRAS_KEY] as SparseSubstitution | undefined;
    if (!sub) continue;
    if (accessor.componentType !== FLOAT || accessor.bufferView === undefined) {
      throw new Error(`sparse: accessor ${accessor.name} must be a FLOAT accessor with a bufferView`);
    }
    const n = COMPONENTS[accessor.type];
    if (sub.values.length !== sub.indices.length * n) throw new Error('sparse: values length mismatch');
    if (sub.indices.some((v, i) => i > 0 && v <= sub.indices[i - 1])) throw new Error('sparse: indices not increasing');

    // three.js r162's GLTFLoader mis-reads sparse accessors whose base lives in an interleaved bufferView (it copies
    // the whole interleaved array as if tightly packed), so the base values get their own tightly packed bufferView.
    json.bufferViews ??= [];
    const baseView = json.bufferViews[accessor.bufferView];
    if (baseView.byteStride !== undefined && baseView.byteStride !== n * 4) {
      const packed = new Uint8Array(accessor.count * n * 4);
      const start = (baseView.byteOffset ?? 0) + (accessor.byteOffset ?? 0);
      for (let e = 0; e < accessor.count; e++) {
        packed.set(bin.subarray(start + e * baseView.byteStride, start + e * baseView.byteStride + n * 4), e * n * 4);
      }
      const packedOffset = pad4(bin.byteLength);
      const grown = new Uint8Array(packedOffset + packed.byteLength);
      grown.set(bin, 0);
      grown.set(packed, packedOffset);
      bin = grown;
      accessor.bufferView =
        json.bufferViews.push({
          buffer: 0,
          byteOffset: packedOffset,
          byteLength: packed.byteLength,
          target: 34962, // ARRAY_BUFFER
          name: `${accessor.name}:sparse-base`,
        }) - 1;
      delete accessor.byteOffset;
    }

    // Append indices (uint16) and values (float32) as two new, 4-byte aligned bufferViews.
    const idxBytes = new Uint8Array(new Uint16Array(sub.indices).buffer);
    const valBytes = new Uint8Array(new Float32Array(sub.values).buffer);
    const idxOffset = pad4(bin.byteLength);
    const valOffset = pad4(idxOffset + idxBytes.byteLength);
    const next = new Uint8Array(valOffset + valBytes.byteLength);
    next.set(bin, 0);
    next.set(idxBytes, idxOffset);
    next.set(valBytes, valOffset);
    bin = next;
    const idxView = json.bufferViews.push({ buffer: 0, byteOffset: idxOffset, byteLength: idxBytes.byteLength, name: `${accessor.name}:sparse-indices` }) - 1;
    const valView = json.bufferViews.push({ buffer: 0, byteOffset: valOffset, byteLength: valBytes.byteLength, name: `${accessor.name}:sparse-values` }) - 1;
    accessor.sparse = {
      count: sub.indices.length,
      indices: { bufferView: idxView, componentType: UNSIGNED_SHORT as GLTF.AccessorComponentType },
      values: { bufferView: valView },
    } as GLTF.IAccessorSparse;

    // min/max must describe the values after substitution.
    if (accessor.min && accessor.max) {
      const view = json.bufferViews[accessor.bufferView];
      const stride = view.byteStride ?? n * 4;
      const start = (view.byteOffset ?? 0) + (accessor.byteOffset ?? 0);
      const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
      const min = new Array<number>(n).fill(Infinity);
      const max = new Array<number>(n).fill(-Infinity);
      const replaced = new Map(sub.indices.map((e, i) => [e, sub.values.slice(i * n, i * n + n)]));
      for (let e = 0; e < accessor.count; e++) {
        for (let k = 0; k < n; k++) {
          const v = replaced.get(e)?.[k] ?? dv.getFloat32(start + e * stride + k * 4, true);
          min[k] = Math.min(min[k], v);
          max[k] = Math.max(max[k], v);
        }
      }
      accessor.min = min.map(Math.fround);
      accessor.max = max.map(Math.fround);
    }

    delete accessor.extras![SPARSE_EXTRAS_KEY];
    if (Object.keys(accessor.extras!).length === 0) delete accessor.extras;
    applied++;
  }
  resources[bufferKey] = bin;
  if (json.buffers?.[0]) json.buffers[0].byteLength = bin.byteLength;
  return applied;
}
