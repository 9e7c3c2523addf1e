/**
 * Hand-built glTF files for readScene tests: raw GLB packing (so tests can lie in any field),
 * a minimal triangle, and crafted PNG headers.
 */
import { crc32, deflateSync } from 'node:zlib';

/** Packs JSON (object or raw text) and an optional BIN chunk into a GLB, padding as the spec says. */
export function packGlb(json: object | string, bin?: Uint8Array): Uint8Array {
  const text = typeof json === 'string' ? json : JSON.stringify(json);
  const jsonBytes = Buffer.from(text, 'utf8');
  const jsonPadded = Buffer.alloc(Math.ceil(jsonBytes.length / 4) * 4, 0x20);
  jsonBytes.copy(jsonPadded);
  const parts: Buffer[] = [chunkHeader(jsonPadded.length, 0x4e4f534a), jsonPadded];
  if (bin) {
    const binPadded = Buffer.alloc(Math.ceil(bin.length / 4) * 4);
    binPadded.set(bin);
    parts.push(chunkHeader(binPadded.length, 0x004e4942), binPadded);
  }
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(12);
  header.writeUInt32LE(0x46546c67, 0);
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(12 + body.length, 8);
  return new Uint8Array(Buffer.concat([header, body]));
}

function chunkHeader(length: number, type: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(length, 0);
  b.writeUInt32LE(type, 4);
  return b;
}

/** Bytes of a Float32Array/Uint16Array/etc. as a Uint8Array. */
export function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

export type Json = Record<string, any>;

/** A one-triangle glTF: buffer 0 = 3 float positions (36 bytes), bufferView 0, accessor 0, mesh 0, node 0, scene 0. */
export function triangleGltf(): { json: Json; bin: Uint8Array } {
  const positions = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]);
  const json: Json = {
    asset: { version: '2.0', generator: 'tessera-test' },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0 }],
    meshes: [{ primitives: [{ attributes: { POSITION: 0 } }] }],
    accessors: [
      { bufferView: 0, componentType: 5126, count: 3, type: 'VEC3', min: [0, 0, 0], max: [1, 1, 0] },
    ],
    bufferViews: [{ buffer: 0, byteOffset: 0, byteLength: 36 }],
    buffers: [{ byteLength: 36 }],
  };
  return { json, bin: bytesOf(positions) };
}

/** The triangle as a GLB, after `edit` changed its JSON. */
export function triangleGlb(edit: (json: Json) => void = () => {}): Uint8Array {
  const { json, bin } = triangleGltf();
  edit(json);
  return packGlb(json, bin);
}

/** The triangle as .gltf JSON bytes with its buffer as a data: URI, after `edit`. */
export function triangleGltfBytes(edit: (json: Json) => void = () => {}): Uint8Array {
  const { json, bin } = triangleGltf();
  json.buffers[0].uri = `data:application/octet-stream;base64,${Buffer.from(bin).toString('base64')}`;
  edit(json);
  return new Uint8Array(Buffer.from(JSON.stringify(json)));
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([len, typeAndData, crc]);
}

/**
 * An 8-bit grayscale PNG whose IHDR claims `width`×`height`. With `realData`, the IDAT really
 * inflates to that many pixels (a decompression bomb: ~1 KB of zeros per MB); otherwise it holds
 * a few bytes only (a lying header).
 */
export function grayPng(width: number, height: number, realData = false): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const raw = realData ? Buffer.alloc(height * (width + 1)) : Buffer.alloc(16);
  const idat = deflateSync(raw, { level: 9 });
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      pngChunk('IHDR', ihdr),
      pngChunk('IDAT', idat),
      pngChunk('IEND', new Uint8Array(0)),
    ]),
  );
}

/** Adds `image` (bytes) to the triangle GLB's JSON/BIN as image 0 + texture 0 + material 0. */
export function triangleWithImageGlb(image: Uint8Array, mimeType = 'image/png'): Uint8Array {
  const { json, bin } = triangleGltf();
  const all = new Uint8Array(36 + image.length);
  all.set(bin, 0);
  all.set(image, 36);
  json.buffers[0].byteLength = all.length;
  json.bufferViews.push({ buffer: 0, byteOffset: 36, byteLength: image.length });
  json.images = [{ bufferView: 1, mimeType }];
  json.textures = [{ source: 0 }];
  json.materials = [{ pbrMetallicRoughness: { baseColorTexture: { index: 0 } } }];
  json.meshes[0].primitives[0].material = 0;
  return packGlb(json, all);
}

/** Rewrites the JSON of a well-formed GLB, keeping its BIN chunk. */
export function editGlb(glb: Uint8Array, edit: (json: Json) => void): Uint8Array {
  const buf = Buffer.from(glb.buffer, glb.byteOffset, glb.byteLength);
  const jsonLength = buf.readUInt32LE(12);
  const json = JSON.parse(buf.subarray(20, 20 + jsonLength).toString('utf8')) as Json;
  const binStart = 20 + jsonLength;
  const bin = binStart < buf.length ? buf.subarray(binStart + 8, binStart + 8 + buf.readUInt32LE(binStart)) : undefined;
  edit(json);
  return packGlb(json, bin);
}
