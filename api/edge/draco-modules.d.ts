/** What api/edge/web-scene-io.ts imports from draco3dgltf: its Emscripten decoder factory and its .wasm. */
declare module 'draco3dgltf/draco_decoder_gltf_nodejs.js' {
  interface DracoDecoderOptions {
    instantiateWasm(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void): object;
  }
  const DracoDecoderModule: (options: DracoDecoderOptions) => Promise<unknown>;
  export default DracoDecoderModule;
}

/** wrangler compiles imported .wasm files at deploy and hands the module in. */
declare module 'draco3dgltf/draco_decoder_gltf.wasm' {
  const module: WebAssembly.Module;
  export default module;
}

/** meshoptimizer's decoder wasm, extracted by infra/extract-meshopt-wasm.ts; wrangler compiles it at deploy. */
declare module '*/meshopt-decoder.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
