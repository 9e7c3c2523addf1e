/**
 * KTX2 (KHR_texture_basisu) to RGBA8 on the render node, with the Basis Universal transcoder three.js ships
 * (examples/jsm/libs/basis/, the build three r162's KTX2Loader runs). KTX2Loader runs it in a Web Worker built
 * from a Blob; Node has neither, so the Emscripten script is evaluated here directly, once, in this thread.
 * It is evaluated with `process` hidden, so Emscripten does not take the Node path, which would install
 * process-wide `uncaughtException`/`unhandledRejection` handlers; the .wasm is handed over as bytes, so
 * it reads no file and fetches nothing itself.
 *
 * headless-gl is WebGL 1 without compressed-texture extensions, so level 0 is transcoded to plain RGBA8
 * (the GL makes the mipmaps, as for PNG). The transcoding itself (container checked first, size bounded before
 * anything is allocated) is ktx2-transcoder.ts, shared with the Chromium backend's page.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { createKtx2Transcoder, type BasisFactory, type BasisModule } from './ktx2-transcoder.ts';

export type { TranscodedImage, TranscodeOptions } from './ktx2-transcoder.ts';

function basisFolder(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('three')), '../examples/jsm/libs/basis');
}

async function loadBasis(): Promise<BasisModule> {
  const folder = basisFolder();
  const file = path.join(folder, 'basis_transcoder.js');
  const source = readFileSync(file, 'utf8');
  const wasmBinary = new Uint8Array(readFileSync(path.join(folder, 'basis_transcoder.wasm')));
  // The script is a UMD wrapper around `var BASIS = ...`; in three's folder ("type": "module") Node would load
  // it as an ES module and lose the export, so it runs as CommonJS here, with `process` shadowed (see above).
  const wrapper = vm.runInThisContext(`(function (module, exports, process) {${source}\n})`, { filename: file }) as (
    module: { exports: unknown },
    exports: unknown,
    process: undefined,
  ) => void;
  const mod = { exports: {} as unknown };
  wrapper(mod, mod.exports, undefined);
  const factory = mod.exports as BasisFactory;
  if (typeof factory !== 'function') throw new Error(`${file} did not define the BASIS module factory`);
  const basis = await factory({ wasmBinary });
  basis.initializeBasis();
  return basis;
}

/** Transcodes level 0 of a KTX2 Basis Universal texture to RGBA8 (rows top first, as glTF images are), on Node. */
export const transcodeKtx2 = createKtx2Transcoder(loadBasis);
