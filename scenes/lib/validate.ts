import type { Accessor, Document, GLTF } from '@gltf-transform/core';
import { type Vec3, cross, dot, sub } from './math.ts';

export interface FileSummary {
  scenes: string[];
  nodes: number;
  meshes: number;
  primitives: number;
  vertices: number;
  triangles: number;
  /** Primitive counts by mode. */
  modes: Record<number, number>;
  materials: number;
  textures: number;
  animations: string[];
  cameras: string[];
  extensionsUsed: string[];
  extensionsRequired: string[];
}

/** Decoded (denormalized) float view of an accessor. */
function floats(acc: Accessor): Float32Array {
  const arr = acc.getArray();
  if (arr instanceof Float32Array && !acc.getNormalized()) return arr;
  const n = acc.getElementSize();
  const out = new Float32Array(acc.getCount() * n);
  const el: number[] = [];
  for (let i = 0; i < acc.getCount(); i++) out.set(acc.getElement(i, el), i * n);
  return out;
}

/** Triangle vertex triples for modes 4/5/6 (strip triangles re-ordered to keep winding). */
function triangles(mode: number, count: number, index: (i: number) => number): number[][] {
  const out: number[][] = [];
  if (mode === 4) for (let i = 0; i + 2 < count; i += 3) out.push([index(i), index(i + 1), index(i + 2)]);
  if (mode === 5) {
    for (let i = 0; i + 2 < count; i++) {
      out.push(i % 2 === 0 ? [index(i), index(i + 1), index(i + 2)] : [index(i + 1), index(i), index(i + 2)]);
    }
  }
  if (mode === 6) for (let i = 1; i + 1 < count; i++) out.push([index(0), index(i), index(i + 1)]);
  return out;
}

/**
 * Reads back a written document and checks it: finite attributes, unit normals and triangle winding that agrees
 * with the vertex normals (counter-clockwise = front). Throws on the first problem.
 */
export function summarize(doc: Document, label: string): FileSummary {
  const root = doc.getRoot();
  const s: FileSummary = {
    scenes: root.listScenes().map((x) => x.getName()),
    nodes: root.listNodes().length,
    meshes: root.listMeshes().length,
    primitives: 0,
    vertices: 0,
    triangles: 0,
    modes: {},
    materials: root.listMaterials().length,
    textures: root.listTextures().length,
    animations: root.listAnimations().map((a) => {
      const end = Math.max(...a.listSamplers().map((smp) => smp.getInput()!.getMax([])[0]));
      return `${a.getName()}(${end}s)`;
    }),
    cameras: root.listCameras().map((c, i) => `${i}:${c.getName() || '<unnamed>'}:${c.getType()}`),
    extensionsUsed: root.listExtensionsUsed().map((e) => e.extensionName),
    extensionsRequired: root.listExtensionsRequired().map((e) => e.extensionName),
  };
  for (const mesh of root.listMeshes()) {
    if (!mesh.getName()) throw new Error(`${label}: unnamed mesh`);
    for (const prim of mesh.listPrimitives()) {
      const where = `${label}/${mesh.getName()}`;
      s.primitives++;
      const mode = prim.getMode();
      s.modes[mode] = (s.modes[mode] ?? 0) + 1;
      const posAcc = prim.getAttribute('POSITION');
      if (!posAcc) throw new Error(`${where}: no POSITION`);
      const pos = floats(posAcc);
      const vcount = posAcc.getCount();
      s.vertices += vcount;
      for (const sem of prim.listSemantics()) {
        const a = floats(prim.getAttribute(sem)!);
        for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) throw new Error(`${where}: non-finite ${sem}`);
      }
      const idxAcc = prim.getIndices();
      const idx = idxAcc?.getArray();
      const count = idxAcc ? idxAcc.getCount() : vcount;
      if (idx) for (let i = 0; i < idx.length; i++) if (idx[i] >= vcount) throw new Error(`${where}: index out of range`);
      const tris = triangles(mode, count, idx ? (i) => idx[i] : (i) => i);
      s.triangles += tris.length;
      const nrmAcc = prim.getAttribute('NORMAL');
      if (!nrmAcc) {
        if (tris.length) throw new Error(`${where}: triangles without normals`);
        continue;
      }
      if (!prim.getMaterial()?.getName()) throw new Error(`${where}: unnamed or missing material`);
      const nrm = floats(nrmAcc);
      for (let i = 0; i < vcount; i++) {
        const l = Math.hypot(nrm[i * 3], nrm[i * 3 + 1], nrm[i * 3 + 2]);
        if (Math.abs(l - 1) > 0.02) throw new Error(`${where}: normal ${i} has length ${l}`);
      }
      const P = (i: number): Vec3 => [pos[i * 3], pos[i * 3 + 1], pos[i * 3 + 2]];
      const N = (i: number): Vec3 => [nrm[i * 3], nrm[i * 3 + 1], nrm[i * 3 + 2]];
      let flipped = 0;
      for (const [a, b, c] of tris) {
        const face = cross(sub(P(b), P(a)), sub(P(c), P(a)));
        const vn = N(a).map((v, k) => v + N(b)[k] + N(c)[k]) as Vec3;
        if (dot(face, vn) < 0) flipped++;
      }
      if (flipped) throw new Error(`${where}: ${flipped}/${tris.length} triangles wound against their normals`);
    }
  }
  for (const n of root.listNodes()) {
    if (!n.getName() && !n.getCamera()) throw new Error(`${label}: unnamed node`);
  }
  for (const m of root.listMaterials()) if (!m.getName()) throw new Error(`${label}: unnamed material`);
  for (const a of root.listAnimations()) if (!a.getName()) throw new Error(`${label}: unnamed animation`);
  return s;
}

const COMPONENT_BYTES: Record<number, number> = { 5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4 };

/** Structural checks on the raw JSON that gltf-transform would silently accept (alignment, strides, extensions). */
export function checkJson(json: GLTF.IGLTF, label: string): void {
  if (json.asset.version !== '2.0') throw new Error(`${label}: asset.version`);
  const views = json.bufferViews ?? [];
  for (const [i, v] of views.entries()) {
    if (v.byteStride !== undefined && (v.byteStride % 4 !== 0 || v.byteStride < 4 || v.byteStride > 252)) {
      throw new Error(`${label}: bufferView ${i} byteStride ${v.byteStride}`);
    }
  }
  for (const [i, a] of (json.accessors ?? []).entries()) {
    const size = COMPONENT_BYTES[a.componentType];
    if (a.bufferView !== undefined) {
      const v = views[a.bufferView];
      if (((v.byteOffset ?? 0) + (a.byteOffset ?? 0)) % size !== 0) throw new Error(`${label}: accessor ${i} misaligned`);
    }
    if (a.sparse) {
      for (const bv of [a.sparse.indices.bufferView, a.sparse.values.bufferView]) {
        if (views[bv].byteStride !== undefined || views[bv].target !== undefined) {
          throw new Error(`${label}: sparse bufferView ${bv} must have no byteStride/target`);
        }
      }
    }
  }
  const used = new Set(json.extensionsUsed ?? []);
  for (const r of json.extensionsRequired ?? []) if (!used.has(r)) throw new Error(`${label}: ${r} required but not used`);
}

/** The JSON chunk of a GLB. */
export function glbJson(bytes: Uint8Array): GLTF.IGLTF {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== 0x46546c67) throw new Error('not a GLB');
  if (dv.getUint32(8, true) !== bytes.byteLength) throw new Error('GLB length mismatch');
  const len = dv.getUint32(12, true);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(20, 20 + len))) as GLTF.IGLTF;
}
