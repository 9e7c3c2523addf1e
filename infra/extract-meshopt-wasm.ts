/**
 * Writes api/edge/meshopt-decoder.wasm: the WebAssembly module inside meshoptimizer's decoder
 * (its baseline, non-SIMD build), unpacked from the text the package embeds it as. A Worker may not
 * compile WebAssembly from bytes at run time, so wrangler must import it as a .wasm file and compile
 * it at deploy. Run after changing the meshoptimizer version: `npx tsx infra/extract-meshopt-wasm.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const MESHOPT_WASM_PATH = path.resolve(import.meta.dirname, '../api/edge/meshopt-decoder.wasm');

/** The decoder wasm inside the installed meshoptimizer package, and that package's version. */
export function extractMeshoptWasm(): { wasm: Uint8Array; version: string } {
  const require = createRequire(import.meta.url);
  const file = require.resolve('meshoptimizer/decoder');
  const source = readFileSync(file, 'utf8');
  const text = /var wasm_base =\s*'([^']+)'/.exec(source)?.[1];
  const pack = /var wasmpack = new Uint8Array\(\[([\d,\s]+)\]\)/.exec(source)?.[1];
  if (!text || !pack) throw new Error(`${file}: the embedded wasm was not found (the package layout changed)`);
  const wasmpack = pack.split(',').map((n) => Number(n.trim()));

  // The package's own unpack(): a base64-like alphabet, then a byte dictionary.
  const result = new Uint8Array(text.length);
  for (let i = 0; i < text.length; ++i) {
    const ch = text.charCodeAt(i);
    result[i] = ch > 96 ? ch - 97 : ch > 64 ? ch - 39 : ch + 4;
}
let write = 0;
for (let i = 0; i < text.length; ++i) {
  result[write++] = result[i] < 60 ? wasmpack[result[i]] : (result[i] - 60) * 64 + result[++i];
}
const wasm = result.slice(0, write);
if (!WebAssembly.validate(wasm)) throw new Error('the unpacked meshopt decoder is not valid WebAssembly');
const version = (JSON.parse(readFileSync(path.join(path.dirname(file), 'package.json'), 'utf8')) as { version: string }).version;
return { wasm, version };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { wasm, version } = extractMeshoptWasm();
  writeFileSync(MESHOPT_WASM_PATH, wasm);
  console.log(`wrote ${MESHOPT_WASM_PATH}: ${wasm.length} bytes from meshoptimizer ${version}`);
}
