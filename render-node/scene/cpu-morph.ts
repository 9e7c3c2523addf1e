import { BufferAttribute, BufferGeometry, type InterleavedBufferAttribute, type Mesh } from 'three';

type Attribute = BufferAttribute | InterleavedBufferAttribute;

/**
 * What three 0.162 morphs on the GPU under WebGL 1: vertex attributes, so at most 8 position targets per draw, or 4
 * when the targets also move normals, and never colours. It picks the largest weights and silently drops the rest
 * (a face with 20 blend shapes loses 12 of them); COLOR_0 targets are ignored. WebGL 2 morphs from a texture, without
 * these limits.
 */
export const WEBGL1_MORPH_LIMITS = { positions: 8, withNormals: 4 } as const;

/**
 * Whether three would draw `geometry`'s morph targets wrongly: on WebGL 1 past WEBGL1_MORPH_LIMITS or with colour
 * targets; on WebGL 2 (`morphTextures`, the current three) when the targets move normals or colours but no positions
 * (three r187 builds the morph texture from the position targets and throws reading their count).
 */
export function gpuCannotMorph(geometry: BufferGeometry, morphTextures: boolean): boolean {
  const m = geometry.morphAttributes;
  const count = Math.max(m.position?.length ?? 0, m.normal?.length ?? 0, m.color?.length ?? 0);
  if (!count) return false;
  if (morphTextures) return !m.position?.length;
  if (m.color?.length) return true;
  return count > (m.normal?.length ? WEBGL1_MORPH_LIMITS.withNormals : WEBGL1_MORPH_LIMITS.positions);
}

/** One morphed attribute: its rest values and each target's deltas (glTF targets are relative), as plain floats. */
interface MorphChannel {
  name: 'position' | 'normal' | 'color';
  itemSize: number;
  base: Float32Array;
  deltas: (Float32Array | null)[];
  out: BufferAttribute;
}

/**
 * Morphs a mesh on the CPU: the mesh gets its own geometry without morph attributes (so three compiles no GPU
 * morphing for it) whose position, normal and colour hold base + Σ weight × delta for the mesh's current
 * `morphTargetInfluences`, rewritten by `update()` when the weights change. Skinning still runs on the GPU, on
 * the morphed positions, in the order glTF asks (morph, then skin). Bounds stay those of the original geometry,
 * which three computes to cover every target.
 */
export class CpuMorph {
  private readonly channels: MorphChannel[] = [];
  private readonly applied: Float32Array;

  constructor(private readonly mesh: Mesh) {
    const source = mesh.geometry;
    if (!source.boundingBox) source.computeBoundingBox();
    if (!source.boundingSphere) source.computeBoundingSphere();
    const geometry = new BufferGeometry();
    geometry.name = source.name;
    geometry.setIndex(source.index);
    for (const [name, attribute] of Object.entries(source.attributes)) geometry.setAttribute(name, attribute);
    for (const g of source.groups) geometry.addGroup(g.start, g.count, g.materialIndex);
    geometry.setDrawRange(source.drawRange.start, source.drawRange.count);
    geometry.boundingBox = source.boundingBox!.clone();
    geometry.boundingSphere = source.boundingSphere!.clone();
    geometry.userData = source.userData;
    const targets = (mesh.morphTargetInfluences ?? []).length;
    for (const name of ['position', 'normal', 'color'] as const) {
      const morphs = source.morphAttributes[name] as Attribute[] | undefined;
      const rest = source.attributes[name] as Attribute | undefined;
      if (!morphs?.length || !rest) continue;
      const itemSize = rest.itemSize;
      const base = readFloats(rest, itemSize);
      const deltas = Array.from({ length: targets }, (_, i) => (morphs[i] ? readFloats(morphs[i], itemSize) : null));
      const out = new BufferAttribute(base.slice(), itemSize);
      geometry.setAttribute(name, out);
      this.channels.push({ name, itemSize, base, deltas, out });
    }
    mesh.geometry = geometry;
    this.applied = new Float32Array(targets).fill(Number.NaN);
    this.update();
  }

  /** Write the vertices for the mesh's current morph weights (nothing to do when they have not changed). */
  update(): void {
    const weights = this.mesh.morphTargetInfluences ?? [];
    let changed = false;
    for (let i = 0; i < this.applied.length; i++) if (this.applied[i] !== (weights[i] ?? 0)) changed = true;
    if (!changed) return;
    for (let i = 0; i < this.applied.length; i++) this.applied[i] = weights[i] ?? 0;
    for (const c of this.channels) {
      const out = c.out.array as Float32Array;
      out.set(c.base);
      for (let t = 0; t < c.deltas.length; t++) {
        const w = this.applied[t];
        const d = c.deltas[t];
        if (!w || !d) continue;
        for (let k = 0; k < out.length; k++) out[k] += w * d[k];
      }
      c.out.needsUpdate = true;
    }
  }
}

/** An attribute's values as floats, `itemSize` per vertex (normalized and interleaved data read through three). */
function readFloats(attribute: Attribute, itemSize: number): Float32Array {
  const out = new Float32Array(attribute.count * itemSize);
  const size = Math.min(itemSize, attribute.itemSize);
  for (let i = 0; i < attribute.count; i++) {
    for (let k = 0; k < size; k++) out[i * itemSize + k] = attribute.getComponent(i, k);
  }
  return out;
}
