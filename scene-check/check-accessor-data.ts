/**
 * Checks on accessor data that need the loaded buffers but no decoding: sparse indices fall within
 * their accessor, vertex indices within their primitive's vertices, and animation key times are
 * finite; and measures each animation's length against maxAnimationSeconds (from the key times
 * themselves, not the accessor's declared max, which a file can get wrong).
 */
import type { SceneLimits } from '../api/protocol/render-spec.ts';
import { TesseraError } from '../api/protocol/errors.ts';
import { malformed } from './gltf-fields.ts';
import { readAccessorScalars, type ScalarArray } from './read-accessor-scalars.ts';
import type { AccessorInfo, ValidatedGltf } from './validated-gltf.ts';

export interface AccessorDataFacts {
  /** Longest animation, in seconds (0 without animations). */
  animationSeconds: number;
}

/**
 * The stored values of a SCALAR accessor: its buffer view data and its sparse values. Bounds taken
 * over these parts hold for the accessor whatever the sparse substitution does, without building
 * the (possibly large, possibly zero-filled) full array.
 */
function scalarParts(gltf: ValidatedGltf, buffers: Uint8Array[], a: AccessorInfo): ScalarArray[] {
  const parts: ScalarArray[] = [];
  if (a.bufferView !== undefined) {
    const view = gltf.bufferViews[a.bufferView];
    const start = view.byteOffset + a.byteOffset;
    parts.push(readAccessorScalars(buffers[view.buffer], start, a.count, a.componentType, view.byteStride));
  }
  if (a.sparse) {
    const { values, count } = a.sparse;
    const view = gltf.bufferViews[values.bufferView];
    parts.push(readAccessorScalars(buffers[view.buffer], view.byteOffset + values.byteOffset, count, a.componentType));
  }
  return parts;
}

export function checkAccessorData(gltf: ValidatedGltf, buffers: Uint8Array[], limits: SceneLimits): AccessorDataFacts {
  // Sparse indices.
  gltf.accessors.forEach((a, i) => {
    if (!a.sparse) return;
    const { indices, count } = a.sparse;
    const view = gltf.bufferViews[indices.bufferView];
    const idx = readAccessorScalars(buffers[view.buffer], view.byteOffset + indices.byteOffset, count, indices.componentType);
    for (let k = 0; k < count; k++) {
      if (idx[k] >= a.count) {
        throw malformed(`accessor ${i}: sparse index ${idx[k]} (entry ${k}) is beyond its count ${a.count}`);
      }
    }
  });

  // Vertex indices, except Draco-compressed primitives (their indices come out of the decoder). Each accessor is
  // read once, however many primitives share it: a file may point thousands of primitives at one large accessor.
  const maxIndex = new Map<number, number>();
  for (const prim of gltf.primitives) {
    if (prim.indices === undefined || prim.dracoBufferView !== undefined) continue;
    const vertexCount = gltf.accessors[prim.attributes[0][1]].count;
    let max = maxIndex.get(prim.indices);
    if (max === undefined) {
      max = 0;
      for (const values of scalarParts(gltf, buffers, gltf.accessors[prim.indices])) {
        for (let k = 0; k < values.length; k++) {
          if (values[k] > max) max = values[k];
        }
      }
      maxIndex.set(prim.indices, max);
    }
    if (max >= vertexCount) {
      throw malformed(
        `mesh ${prim.mesh} primitive ${prim.primitive}: index ${max} in accessor ${prim.indices} is beyond its ${vertexCount} vertices`,
      );
    }
  }

  // Animation key times, each input accessor read once however many samplers share it.
  const seconds = new Map<number, number>();
  const lastTime = new Map<number, number>();
  for (const s of gltf.animationSamplers) {
    let last = lastTime.get(s.input);
    if (last === undefined) {
      last = 0;
      for (const times of scalarParts(gltf, buffers, gltf.accessors[s.input])) {
        for (let k = 0; k < times.length; k++) {
          const t = times[k];
          if (!Number.isFinite(t)) {
            throw malformed(
              `animation ${s.animation} sampler ${s.sampler}: key time ${t} (key ${k} of accessor ${s.input}) is not a finite number`,
            );
          }
          if (t > last) last = t;
        }
      }
      lastTime.set(s.input, last);
    }
    seconds.set(s.animation, Math.max(seconds.get(s.animation) ?? 0, last));
  }
  let animationSeconds = 0;
  for (const [animation, length] of seconds) {
    if (length > limits.maxAnimationSeconds) {
      throw new TesseraError(
        'SCENE_LIMIT_EXCEEDED',
        `animation ${animation} lasts ${length} s, more than maxAnimationSeconds ${limits.maxAnimationSeconds}`,
      );
    }
    animationSeconds = Math.max(animationSeconds, length);
  }
  return { animationSeconds };
}
