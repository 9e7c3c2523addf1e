/**
 * meshoptimizer's glTF buffer decoder on a WebAssembly module handed in, for Workers: the package's
 * own decoder compiles its embedded wasm from bytes, which a Worker may not do, so wrangler imports
 * api/edge/meshopt-decoder.wasm (written by infra/extract-meshopt-wasm.ts from the same package
 * version) as a compiled module. The calls mirror the package's decode(): the target and the source
 * are placed on the wasm heap with sbrk, decoded, filtered, copied out, and the heap is released.
 */
import type { MeshoptDecoder } from '../../scene-check/decode-meshopt-views.ts';

interface MeshoptExports {
  memory: WebAssembly.Memory;
  __wasm_call_ctors(): void;
  sbrk(bytes: number): number;
  [name: string]: unknown;
}

type Decode = (target: number, count: number, size: number, source: number, length: number) => number;
type Filter = (target: number, count: number, size: number) => void;

const DECODERS: Record<string, string> = {
  ATTRIBUTES: 'meshopt_decodeVertexBuffer',
  TRIANGLES: 'meshopt_decodeIndexBuffer',
  INDICES: 'meshopt_decodeIndexSequence',
};
const FILTERS: Record<string, string> = {
  OCTAHEDRAL: 'meshopt_decodeFilterOct',
  QUATERNION: 'meshopt_decodeFilterQuat',
  EXPONENTIAL: 'meshopt_decodeFilterExp',
  COLOR: 'meshopt_decodeFilterColor',
};

export async function createMeshoptWasmDecoder(module: WebAssembly.Module): Promise<MeshoptDecoder> {
  const instance = await WebAssembly.instantiate(module, {});
  const exports = instance.exports as unknown as MeshoptExports;
  exports.__wasm_call_ctors();
  return {
    decodeGltfBuffer(target, count, size, source, mode, filter) {
      const decode = exports[DECODERS[mode] ?? ''] as Decode | undefined;
      if (!decode) throw new Error(`unknown meshopt mode ${mode}`);
      const filterFn = filter && filter !== 'NONE' ? (exports[FILTERS[filter] ?? ''] as Filter | undefined) : undefined;
      if (filter && filter !== 'NONE' && !filterFn) throw new Error(`unknown meshopt filter ${filter}`);
      const count4 = (count + 3) & ~3;
      const tp = exports.sbrk(count4 * size);
      const sp = exports.sbrk(source.length);
      try {
        new Uint8Array(exports.memory.buffer).set(source, sp);
        const res = decode(tp, count, size, sp, source.length);
        if (res !== 0) throw new Error(`Malformed buffer data: ${res}`);
        if (filterFn) filterFn(tp, count4, size);
        target.set(new Uint8Array(exports.memory.buffer).subarray(tp, tp + count * size));
      } finally {
        exports.sbrk(tp - exports.sbrk(0));
      }
    },
  };
}
