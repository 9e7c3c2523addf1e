/**
 * KTX2 (KHR_texture_basisu) level 0 to RGBA8 with the Basis Universal transcoder three.js ships
 * (examples/jsm/libs/basis/), on any runtime: the module comes from the caller's loader (Node: basis-transcoder.ts
 * evaluates the script in-thread; a browser page: web/src/render-host/browser-basis.ts adds it as a script). The
 * container is checked first (scene-check's readKtx2Header) and its RGBA8 size bounded before the transcoder
 * allocates anything.
 */
import { readKtx2Header } from '../../scene-check/read-ktx2-header.ts';

/** The parts of the transcoder's embind API used here (basis_universal's webgl/transcoder/basis_wrappers.cpp). */
export interface Ktx2File {
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

export interface BasisModule {
  initializeBasis(): void;
  KTX2File: new (bytes: Uint8Array) => Ktx2File;
  transcoder_texture_format: { cTFRGBA32: { value: number } };
}

export type BasisFactory = (options: { wasmBinary: Uint8Array }) => Promise<BasisModule>;

export interface TranscodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface TranscodeOptions {
  /** Refuse a texture with more pixels than this before transcoding it. */
  maxPixels: number;
}

/**
 * A wasm heap only grows: after transcoding a texture bigger than this, the module is dropped (and garbage
 * collected), so one huge texture does not keep its memory on the node for good.
 */
const KEEP_MODULE_BELOW_BYTES = 64 * 1024 * 1024;

/** A KTX2 transcoder over the module `load` gives (loaded on first use, again after a trap or a huge texture). */
export function createKtx2Transcoder(load: () => Promise<BasisModule>): (bytes: Uint8Array, options: TranscodeOptions) => Promise<TranscodedImage> {
  let pending: Promise<BasisModule> | undefined;
  const basisTranscoder = (): Promise<BasisModule> => {
    pending ??= load().catch((err: unknown) => {
      pending = undefined;
      throw new Error(`the Basis Universal transcoder could not be loaded: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    });
    return pending;
  };
  return async function transcodeKtx2(bytes: Uint8Array, options: TranscodeOptions): Promise<TranscodedImage> {
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
  };
}
