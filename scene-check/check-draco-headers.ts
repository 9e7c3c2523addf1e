/**
 * Draco streams say how many faces and points they hold, and the decoder sizes its work by what they say.
 * The decoder (draco3dgltf 1.5) happens to refuse the inconsistent streams tried in test/red-team, but that is
 * its own check, in WebAssembly we do not control, and the count checks after decoding come too late. So each KHR_draco_mesh_compression stream's header is read first (bitstream 2.2, the version the extension
 * requires) and its counts must agree with the accessors the JSON declared, which the scene caps already
 * bound: faces × 3 = the indices count, points (sequential) = the vertex count, encoded vertices
 * (edgebreaker) ≤ the vertex count. Only then is anything decoded.
 */
import { malformed } from './gltf-fields.ts';
import type { ValidatedGltf } from './validated-gltf.ts';

/** What a Draco header declares. */
export interface DracoHeader {
  version: [number, number];
  /** 0: point cloud, 1: triangular mesh. */
  encoderType: number;
  /** 0: sequential, 1: edgebreaker (meshes); 0: sequential, 1: kd-tree (point clouds). */
  method: number;
  faces: number;
  /** Points (sequential meshes, point clouds) or encoded vertices (edgebreaker, a lower bound on points). */
  points: number;
}

const METADATA_FLAG = 0x8000;
const MAX_METADATA_DEPTH = 32;

/** A stream whose header cannot be read is data that does not decode, and says so as the decoder's errors do. */
const undecodable = (where: string, why: string) => malformed(`${where}: the KHR_draco_mesh_compression data could not be decoded: ${why}`);

class Reader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly where: string,
  ) {}
  u8(): number {
    if (this.pos >= this.bytes.length) throw undecodable(this.where, 'the Draco header is truncated');
    return this.bytes[this.pos++];
  }
  u16(): number {
    return this.u8() | (this.u8() << 8);
  }
  u32(): number {
    return (this.u8() | (this.u8() << 8) | (this.u8() << 16) | (this.u8() << 24)) >>> 0;
  }
  /** LEB128, at most 5 bytes (a uint32). */
  varU32(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.u8();
      value += (b & 0x7f) * 2 ** (7 * i);
      if (!(b & 0x80)) return value;
    }
    throw undecodable(this.where, 'the Draco header has a varint longer than 5 bytes');
  }
  skip(n: number): void {
    if (this.pos + n > this.bytes.length) throw undecodable(this.where, 'the Draco header is truncated');
    this.pos += n;
  }
}

function skipMetadataElement(r: Reader, depth: number): void {
  if (depth > MAX_METADATA_DEPTH) throw undecodable(r.where, `the Draco metadata nests deeper than ${MAX_METADATA_DEPTH}`);
  const entries = r.varU32();
  for (let i = 0; i < entries; i++) {
    r.skip(r.u8()); // key
    r.skip(r.u8()); // value
  }
  const children = r.varU32();
  for (let i = 0; i < children; i++) {
    r.skip(r.u8()); // key
    skipMetadataElement(r, depth + 1);
  }
}

/** Read the counts a Draco stream declares, without decoding it. */
export function readDracoHeader(bytes: Uint8Array, where: string): DracoHeader {
  const r = new Reader(bytes, where);
  const magic = String.fromCharCode(r.u8(), r.u8(), r.u8(), r.u8(), r.u8());
  if (magic !== 'DRACO') throw undecodable(where, 'it does not start with "DRACO"');
  const version: [number, number] = [r.u8(), r.u8()];
  if (version[0] !== 2 || version[1] < 2) {
    throw undecodable(where, `Draco bitstream ${version.join('.')}; KHR_draco_mesh_compression needs version 2.2`);
  }
  const encoderType = r.u8();
  const method = r.u8();
  const flags = r.u16();
  if (flags & METADATA_FLAG) {
    const attributes = r.varU32();
    for (let i = 0; i < attributes; i++) {
      r.varU32(); // attribute id
      skipMetadataElement(r, 0);
    }
    skipMetadataElement(r, 0); // file metadata
  }
  if (encoderType === 0) return { version, encoderType, method, faces: 0, points: r.u32() };
  if (encoderType !== 1) throw undecodable(where, `unknown Draco encoder type ${encoderType}`);
  if (method === 0) {
    const faces = r.varU32();
    const points = r.varU32();
    return { version, encoderType, method, faces, points };
  }
  if (method === 1) {
    r.u8(); // traversal decoder type
    const points = r.varU32(); // encoded vertices
    const faces = r.varU32();
    return { version, encoderType, method, faces, points };
  }
  throw undecodable(where, `unknown Draco mesh encoding method ${method}`);
}

/** Check every Draco stream's declared counts against its primitive's accessors, before anything decodes. */
export function checkDracoHeaders(gltf: ValidatedGltf, buffers: Uint8Array[]): void {
  for (const prim of gltf.primitives) {
    if (prim.dracoBufferView === undefined) continue;
    const where = `mesh ${prim.mesh} primitive ${prim.primitive}`;
    const view = gltf.bufferViews[prim.dracoBufferView];
    const bytes = buffers[view.buffer].subarray(view.byteOffset, view.byteOffset + view.byteLength);
    const header = readDracoHeader(bytes, where);
    const vertices = Math.max(0, ...prim.attributes.map(([, index]) => gltf.accessors[index].count));
    const indices = prim.indices === undefined ? 0 : gltf.accessors[prim.indices].count;
    if (header.faces * 3 !== indices) {
      throw malformed(`${where}: the Draco header declares ${header.faces} faces (${header.faces * 3} indices), but the indices accessor declares ${indices}`);
    }
    const exact = header.encoderType === 0 || header.method === 0;
    if (exact ? header.points !== vertices : header.points > vertices) {
      throw malformed(`${where}: the Draco header declares ${header.points} ${exact ? 'points' : 'encoded vertices'}, but the accessors declare ${vertices} vertices`);
    }
  }
}
