/**
 * KTX2 (KHR_texture_basisu) to RGBA8 on the render node, with the Basis Universal transcoder three.js ships
 * (examples/jsm/libs/basis/, the build three r162's KTX2Loader runs). KTX2Loader runs it in a Web Worker built
 * from a Blob; Node has neither, so the Emscripten script is evaluated here directly, once, in this thread.
 * It is evaluated with `process` hidden, so Emscripten does not take the Node path, which would install
 * process-wide `uncaughtException`/`unhandledRejection` handlers; the .wasm is handed over as bytes, so
 * it reads no file and fetches nothing itself.
 *
 * headless-gl is WebGL 1 without compressed-texture extensions, so level 0 is transcoded to plain RGBA8
 * (the GL makes the mipmaps, as for PNG). The container is checked first (scene-check's readKtx2Header, the
 * check uploads already passed) and its RGBA8 size bounded before the transcoder allocates anything.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { readKtx2Header } from '../../scene-check/read-ktx2-header.ts';

/** The parts of the transcoder's embind API used here (basis_universal's webgl/transcoder/basis_wrappers.cpp). */
interface Ktx2File {
  isValid(): boolean;
  getWidth(): number;
  getHeight(): number;
  getLevels(): number;
  startTranscoding(): boolean;
  getImageTranscodedSizeInBytes(level: number, layer: number, face: number, format: number): number;
  transcodeImage(dst: Uint8Array, level: number, layer: number, face: number, format: number, getAlphaForOpaqueFormats: number, channel0: number, channel1: number): number;
  close(): void;
  delete(): void;
}

interface BasisModule {
  initializeBasis(): void;
  KTX2File: new (bytes: Uint8Array) => Ktx2File;
  transcoder_texture_format: { cTFRGBA32: { value: number } };
}

type BasisFactory = (options: { wasmBinary: Uint8Array }) => Promise<BasisModule>;

export interface TranscodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface TranscodeOptions {
  /** Refuse a texture with more pixels than this before transcoding it. */
  maxPixels: number;
}

let pending: Promise<BasisModule> | undefined;

/**
 * A wasm heap only grows: after transcoding a texture bigger than this, the module is dropped (and garbage
 * collected), so one huge texture does not keep its memory on the node for good.
 */
const KEEP_MODULE_BELOW_BYTES = 64 * 1024 * 1024;

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

/** The transcoder module, loaded on first use. */
export function basisTranscoder(): Promise<BasisModule> {
  pending ??= loadBasis().catch((err: unknown) => {
    pending = undefined;
    throw new Error('the Basis Universal transcoder could not be loaded', { cause: err });
  });
  return pending;
}

/** Transcodes level 0 of a KTX2 Basis Universal texture to RGBA8 (rows top first, as glTF images are). */
export async function transcodeKtx2(bytes: Uint8Array, options: TranscodeOptions): Promise<TranscodedImage> {
  const header = readKtx2Header(bytes);
  if ('problem' in header) throw new Error(header.problem);
  const { width, height } = header;
  if (width * height > options.maxPixels) {
    throw new Error(`KTX2 texture is ${width}×${height} = ${width * height} pixels, more than the ${options.maxPixels} allowed`);
  }
  const basis = await basisTranscoder();
  const format = basis.transcoder_texture_format.cTFRGBA32.value;
  let file: Ktx2File | undefined;
  try {
    file = new basis.KTX2File(bytes);
    if (!file.isValid()) throw new Error('KTX2 file is not valid for the Basis Universal transcoder');
    if (file.getWidth() !== width || file.getHeight() !== height) {
      throw new Error(`KTX2 transcoder reads a size of ${file.getWidth()}×${file.getHeight()}, the header says ${width}×${height}`);
    }
    if (!file.startTranscoding()) throw new Error('KTX2 transcoding could not start (corrupt supercompressed data or codebooks)');
    const size = file.getImageTranscodedSizeInBytes(0, 0, 0, format);
    if (size !== header.rgba8Bytes) throw new Error(`KTX2 level 0 would transcode to ${size} bytes, not the ${header.rgba8Bytes} of ${width}×${height} RGBA8`);
    const data = new Uint8Array(size);
    if (!file.transcodeImage(data, 0, 0, 0, format, 0, -1, -1)) throw new Error('KTX2 level 0 could not be transcoded (corrupt texture data)');
    return { data, width, height };
  } catch (err) {
    // A trap inside the wasm may leave the module's state broken: load a fresh one next time.
    if (err instanceof WebAssembly.RuntimeError) pending = undefined;
    throw err;
  } finally {
    file?.close();
    file?.delete();
    if (header.rgba8Bytes > KEEP_MODULE_BELOW_BYTES) pending = undefined;
  }
}
