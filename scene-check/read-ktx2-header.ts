/**
 * Reads and checks a KTX 2.0 container as KHR_texture_basisu allows it (a 2D Basis Universal texture:
 * ETC1S with BasisLZ, or UASTC with no or Zstandard supercompression), from its header, level index and
 * data format descriptor alone: no payload byte is decompressed or transcoded. Every offset and length is
 * checked against the file, so a transcoder handed a file that passed reads only inside it, and the size
 * it will transcode to (level 0 as RGBA8) is known before anything is allocated.
 */

export const KTX2_IDENTIFIER = [0xab, 0x4b, 0x54, 0x58, 0x20, 0x32, 0x30, 0xbb, 0x0d, 0x0a, 0x1a, 0x0a];

/** The header (80 bytes) before the level index. */
const HEADER_BYTES = 80;
/** One level index entry: byteOffset, byteLength, uncompressedByteLength (3 × uint64). */
const LEVEL_ENTRY_BYTES = 24;
/** DFD total size (4) + basic descriptor block header (24) + one sample (16). */
const MIN_DFD_BYTES = 44;
const KHR_DF_MODEL_ETC1S = 163;
const KHR_DF_MODEL_UASTC = 166;
/** Bytes of one UASTC 4×4 block. */
const UASTC_BLOCK_BYTES = 16;
/** The largest edge a KTX2 header may claim here, whatever the caps (they apply later). */
const MAX_EDGE = 1 << 16;

export type Ktx2Codec = 'ETC1S' | 'UASTC';

export interface Ktx2Header {
  width: number;
  height: number;
  /** Mip levels stored (at least 1). */
  levels: number;
  codec: Ktx2Codec;
  /** 0 none, 1 BasisLZ, 2 Zstandard. */
  supercompression: number;
  /** The DFD's transfer function says sRGB. */
  srgb: boolean;
  /** Bytes level 0 takes once transcoded to RGBA8. */
  rgba8Bytes: number;
}

export interface Ktx2Problem {
  problem: string;
}

export function isKtx2(bytes: Uint8Array): boolean {
  if (bytes.length < KTX2_IDENTIFIER.length) return false;
  return KTX2_IDENTIFIER.every((b, i) => bytes[i] === b);
}

const problem = (text: string): Ktx2Problem => ({ problem: `KTX2 ${text}` });

export function readKtx2Header(bytes: Uint8Array): Ktx2Header | Ktx2Problem {
  if (!isKtx2(bytes)) return problem('file identifier is missing');
  if (bytes.length < HEADER_BYTES) return problem(`header is truncated: the file has ${bytes.length} bytes, the header alone takes ${HEADER_BYTES}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => {
    const value = view.getBigUint64(at, true);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(value);
  };

  const vkFormat = u32(12);
  const typeSize = u32(16);
  const width = u32(20);
  const height = u32(24);
  const depth = u32(28);
  const layers = u32(32);
  const faces = u32(36);
  const levelCount = u32(40);
  const supercompression = u32(44);
  if (vkFormat !== 0) return problem(`vkFormat is ${vkFormat}; KHR_texture_basisu needs a Basis Universal texture (vkFormat 0, VK_FORMAT_UNDEFINED)`);
  if (typeSize !== 1) return problem(`typeSize is ${typeSize}; a Basis Universal texture has typeSize 1`);
  if (width === 0 || height === 0) return problem(`header gives a size of ${width}×${height}`);
  if (width > MAX_EDGE || height > MAX_EDGE) return problem(`header gives a size of ${width}×${height}, more than ${MAX_EDGE} on an edge`);
  if (width % 4 !== 0 || height % 4 !== 0) return problem(`size ${width}×${height} is not a multiple of 4, as KHR_texture_basisu requires`);
  if (depth !== 0 || layers !== 0 || faces !== 1) {
    return problem(`is not a 2D texture (pixelDepth ${depth}, layerCount ${layers}, faceCount ${faces}); KHR_texture_basisu material textures must be 2D`);
  }
  const levels = Math.max(1, levelCount);
  const maxLevels = Math.floor(Math.log2(Math.max(width, height))) + 1;
  if (levels > maxLevels) return problem(`levelCount ${levelCount} is more than the ${maxLevels} levels a ${width}×${height} texture can have`);
  if (supercompression > 2) return problem(`supercompressionScheme is ${supercompression}; KHR_texture_basisu allows 0 (none), 1 (BasisLZ) or 2 (Zstandard)`);

  const indexEnd = HEADER_BYTES + levels * LEVEL_ENTRY_BYTES;
  if (bytes.length < indexEnd) return problem(`level index is truncated: ${levels} levels need ${indexEnd} bytes, the file has ${bytes.length}`);
  const inside = (what: string, offset: number, length: number): Ktx2Problem | undefined => {
    if (length === 0) return undefined;
    if (offset < indexEnd || offset + length > bytes.length) {
      return problem(`${what} (byteOffset ${offset}, byteLength ${length}) lies outside the file's data (bytes ${indexEnd}..${bytes.length})`);
    }
    return undefined;
  };

  const dfdOffset = u32(48);
  const dfdLength = u32(52);
  const kvdOffset = u32(56);
  const kvdLength = u32(60);
  const sgdOffset = u64(64);
  const sgdLength = u64(72);
  const bad =
    inside('data format descriptor', dfdOffset, dfdLength) ??
    inside('key/value data', kvdOffset, kvdLength) ??
    inside('supercompression global data', sgdOffset, sgdLength);
  if (bad) return bad;
  if (dfdLength < MIN_DFD_BYTES) return problem(`data format descriptor has ${dfdLength} bytes, fewer than the ${MIN_DFD_BYTES} of one basic block`);
  if (u32(dfdOffset) !== dfdLength) return problem(`data format descriptor says it has ${u32(dfdOffset)} bytes, the header ${dfdLength}`);
  const colorModel = bytes[dfdOffset + 12];
  const transfer = bytes[dfdOffset + 14];
  let codec: Ktx2Codec;
  if (colorModel === KHR_DF_MODEL_ETC1S) {
    codec = 'ETC1S';
    if (supercompression !== 1) return problem(`ETC1S texture has supercompressionScheme ${supercompression}; ETC1S needs 1 (BasisLZ)`);
    if (sgdLength === 0) return problem('ETC1S texture has no supercompression global data (its BasisLZ codebooks)');
  } else if (colorModel === KHR_DF_MODEL_UASTC) {
    codec = 'UASTC';
    if (supercompression === 1) return problem('UASTC texture has supercompressionScheme 1 (BasisLZ), which is for ETC1S only');
  } else {
    return problem(`data format descriptor has colorModel ${colorModel}; KHR_texture_basisu needs ${KHR_DF_MODEL_ETC1S} (ETC1S) or ${KHR_DF_MODEL_UASTC} (UASTC)`);
  }

  for (let level = 0; level < levels; level++) {
    const at = HEADER_BYTES + level * LEVEL_ENTRY_BYTES;
    const offset = u64(at);
    const length = u64(at + 8);
    const uncompressed = u64(at + 16);
    if (length === 0) return problem(`level ${level} is empty (byteLength 0)`);
    const outside = inside(`level ${level}`, offset, length);
    if (outside) return outside;
    // What a level inflates to is fixed by its size: UASTC is 16 bytes per 4×4 block, so a Zstandard level cannot
    // claim more (a zstd bomb); BasisLZ levels declare 0 (their ETC1S slices decode straight into the output).
    const blocks = Math.ceil(Math.max(1, width >> level) / 4) * Math.ceil(Math.max(1, height >> level) / 4);
    const uastcBytes = blocks * UASTC_BLOCK_BYTES;
    if (codec === 'ETC1S' && uncompressed !== 0) {
      return problem(`level ${level} declares uncompressedByteLength ${uncompressed}; a BasisLZ level declares 0`);
    }
    if (codec === 'UASTC' && uncompressed !== uastcBytes) {
      return problem(`level ${level} declares uncompressedByteLength ${uncompressed}, but its ${blocks} UASTC blocks take ${uastcBytes} bytes`);
    }
    if (codec === 'UASTC' && supercompression === 0 && length !== uastcBytes) {
      return problem(`level ${level} has byteLength ${length}, but its ${blocks} UASTC blocks take ${uastcBytes} bytes`);
    }
  }

  return { width, height, levels, codec, supercompression, srgb: transfer === 2, rgba8Bytes: width * height * 4 };
}
