/**
 * The Worker's meshopt decoder: api/edge/meshopt-decoder.wasm must be the wasm of the installed meshoptimizer
 * (re-extract after a version bump: `npx tsx infra/extract-meshopt-wasm.ts`), and the Worker's wrapper around it
 * must decode exactly what the package's own decoder does, filters included.
 */
import { readFile } from 'node:fs/promises';
import { MeshoptDecoder } from 'meshoptimizer/decoder';
import { MeshoptEncoder } from 'meshoptimizer/encoder';
import { describe, expect, it } from 'vitest';
import { createMeshoptWasmDecoder } from '../../api/edge/meshopt-wasm-decoder.ts';
import { MESHOPT_WASM_PATH, extractMeshoptWasm } from '../../infra/extract-meshopt-wasm.ts';

describe('the Worker meshopt decoder', () => {
  it('is the wasm of the installed meshoptimizer', async () => {
    const committed = new Uint8Array(await readFile(MESHOPT_WASM_PATH));
    expect(Buffer.compare(Buffer.from(committed), Buffer.from(extractMeshoptWasm().wasm)), 're-run infra/extract-meshopt-wasm.ts').toBe(0);
  });

  it('decodes attributes (with the octahedral filter), triangles and corrupt data as the package does', async () => {
    await Promise.all([MeshoptEncoder.ready, MeshoptDecoder.ready]);
    const worker = await createMeshoptWasmDecoder(await WebAssembly.compile(await readFile(MESHOPT_WASM_PATH)));
    const count = 1000;
    const normals = new Float32Array(count * 4);
    for (let i = 0; i < count; i++) {
      const a = i * 0.37, b = i * 0.11;
      normals.set([Math.cos(a) * Math.sin(b), Math.cos(b), Math.sin(a) * Math.sin(b), 0], i * 4);
    }
    const oct = MeshoptEncoder.encodeFilterOct(normals, count, 4, 8);
    const attributes = MeshoptEncoder.encodeGltfBuffer(oct, count, 4, 'ATTRIBUTES');
    const indices = new Uint32Array(3 * 300).map((_, i) => (i * 7) % count);
    const triangles = MeshoptEncoder.encodeGltfBuffer(new Uint8Array(indices.buffer), indices.length, 4, 'TRIANGLES');
    for (const [source, n, size, mode, filter] of [
      [attributes, count, 4, 'ATTRIBUTES', 'OCTAHEDRAL'],
      [triangles, indices.length, 4, 'TRIANGLES', undefined],
    ] as const) {
      const a = new Uint8Array(n * size);
      const b = new Uint8Array(n * size);
      MeshoptDecoder.decodeGltfBuffer(a, n, size, source, mode, filter);
      worker.decodeGltfBuffer(b, n, size, source, mode, filter);
      expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    }
    const corrupt = attributes.slice();
    corrupt[0] = 0x55;
    expect(() => worker.decodeGltfBuffer(new Uint8Array(count * 4), count, 4, corrupt, 'ATTRIBUTES')).toThrow(/Malformed buffer data/);
  });
});
