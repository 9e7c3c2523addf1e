/**
 * glTF-Transform's WebIO for scene normalization on Workers: every extension registered, logs silenced,
 * and the same Draco decoder as Node (draco3dgltf). A Worker may not compile WebAssembly from bytes, so
 * the decoder's .wasm comes in as a module wrangler compiles at deploy, handed to Emscripten through
 * `instantiateWasm`; meshoptimizer's decoder likewise (api/edge/meshopt-decoder.wasm). No encoder: normalization only decodes. Resources are always in memory (readScene
 * rewrites every URI), so it never fetches.
 */
import { Logger, WebIO, type PlatformIO } from '@gltf-transform/core';
import { ALL_EXTENSIONS } from '@gltf-transform/extensions';
import DracoDecoderModule from 'draco3dgltf/draco_decoder_gltf_nodejs.js';
import decoderWasm from 'draco3dgltf/draco_decoder_gltf.wasm';
import type { MeshoptDecoder } from '../../scene-check/decode-meshopt-views.ts';
import type { SceneIoProvider } from '../../scene-check/scene-io.ts';
import { createMeshoptWasmDecoder } from './meshopt-wasm-decoder.ts';
import meshoptWasm from './meshopt-decoder.wasm';

let pending: Promise<PlatformIO> | undefined;
let meshopt: Promise<MeshoptDecoder> | undefined;

async function create(): Promise<PlatformIO> {
  const decoder = await DracoDecoderModule({
    instantiateWasm(imports, done) {
      void WebAssembly.instantiate(decoderWasm, imports).then(done);
      return {};
    },
  });
  return new WebIO()
    .setLogger(new Logger(Logger.Verbosity.SILENT))
    .registerExtensions(ALL_EXTENSIONS)
    .registerDependencies({ 'draco3d.decoder': decoder });
}

export const webSceneIo: SceneIoProvider = {
  get() {
    return (pending ??= create().catch((err: unknown) => {
      pending = undefined;
      throw err;
    }));
  },
  reset() {
    pending = undefined;
  },
  meshoptDecoder() {
    return (meshopt ??= createMeshoptWasmDecoder(meshoptWasm).catch((err: unknown) => {
      meshopt = undefined;
      throw err;
    }));
  },
};
