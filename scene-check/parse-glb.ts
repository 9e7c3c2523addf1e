/**
 * Splits a GLB container into its JSON and BIN chunks after checking the header and every chunk
 * length against the real size of the file. Nothing is copied: the chunks are views of `bytes`.
 */
import { TesseraError } from '../api/protocol/errors.ts';
import { malformed } from './gltf-fields.ts';

export const GLB_MAGIC = 0x46546c67; // 'glTF' little-endian
const CHUNK_JSON = 0x4e4f534a; // 'JSON'
const CHUNK_BIN = 0x004e4942; // 'BIN\0'

export interface GlbChunks {
  json: Uint8Array;
  bin: Uint8Array | undefined;
}

/** Whether `bytes` starts with the GLB magic `glTF`. */
export function isGlb(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x67 && bytes[1] === 0x6c && bytes[2] === 0x54 && bytes[3] === 0x46;
}

/** The first bytes of a file as text and hex, for messages: `"glTX" (67 6c 54 58)`. */
export function describeMagic(bytes: Uint8Array, length = 4): string {
  const head = Array.from(bytes.subarray(0, length));
  const text = head.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  const hex = head.map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `"${text}" (${hex})`;
}

function chunkName(type: number): string {
  if (type === CHUNK_JSON) return 'JSON';
  if (type === CHUNK_BIN) return 'BIN';
  return `type 0x${type.toString(16).padStart(8, '0')}`;
}

export function parseGlb(bytes: Uint8Array, maxJsonBytes: number): GlbChunks {
  const size = bytes.length;
  if (size < 12) throw malformed(`GLB is truncated: ${size} bytes, less than the 12-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== GLB_MAGIC) {
    throw malformed(`not a GLB: wrong magic ${describeMagic(bytes)}, a GLB starts with "glTF"`);
  }
  const version = view.getUint32(4, true);
  if (version !== 2) {
    throw new TesseraError(
      'SCENE_UNSUPPORTED',
      `GLB version ${version} is not supported; this renderer reads glTF 2.0 (GLB version 2)`,
    );
  }
  const length = view.getUint32(8, true);
  if (length > size) throw malformed(`GLB is truncated: the header says ${length} bytes but the file has ${size}`);
  if (length < size) throw malformed(`GLB header says ${length} bytes but the file has ${size}`);

  let json: Uint8Array | undefined;
  let bin: Uint8Array | undefined;
  let offset = 12;
  for (let index = 0; offset < size; index++) {
    if (size - offset < 8) {
      throw malformed(`GLB is truncated: chunk ${index} header at byte ${offset} needs 8 bytes, ${size - offset} remain`);
    }
    const chunkLength = view.getUint32(offset, true);
    const type = view.getUint32(offset + 4, true);
    const name = chunkName(type);
    const start = offset + 8;
    if (chunkLength > size - start) {
      throw malformed(
        `GLB chunk ${index} (${name}) claims ${chunkLength} bytes at byte ${start}, but only ${size - start} remain`,
      );
    }
    if (chunkLength % 4 !== 0) {
      throw malformed(`GLB chunk ${index} (${name}) length ${chunkLength} is not a multiple of 4`);
    }
    if (index === 0) {
      if (type !== CHUNK_JSON) throw malformed(`GLB chunk 0 must be JSON, found ${name}`);
      if (chunkLength === 0) throw malformed('GLB JSON chunk is empty');
      if (chunkLength > maxJsonBytes) {
        throw new TesseraError(
          'SCENE_LIMIT_EXCEEDED',
          `GLB JSON chunk is ${chunkLength} bytes, more than maxJsonBytes ${maxJsonBytes}`,
        );
      }
      let end = start + chunkLength;
      while (end > start && bytes[end - 1] === 0) end--; // tolerate zero padding instead of spaces
      json = bytes.subarray(start, end);
    } else if (type === CHUNK_JSON) {
      throw malformed(`GLB has a second JSON chunk (chunk ${index})`);
    } else if (type === CHUNK_BIN) {
      if (index !== 1) throw malformed(`GLB BIN chunk must directly follow the JSON chunk, found it as chunk ${index}`);
      bin = bytes.subarray(start, start + chunkLength);
    }
    // Chunks of other types are skipped, as the glTF spec asks.
    offset = start + chunkLength;
  }
  if (!json) throw malformed('GLB has no JSON chunk');
  return { json, bin };
}
