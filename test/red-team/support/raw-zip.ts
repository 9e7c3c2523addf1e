/**
 * A zip writer that lies on request: every field of every local header and central-directory entry can be
 * set by hand, so tests can build the bombs and inconsistent archives attackers build.
 */
import { crc32 } from 'node:zlib';

export interface RawEntry {
  name: string;
  /** The bytes stored in the archive (already deflated when method is 8). */
  data: Uint8Array;
  method: 0 | 8;
  /** What the local header / central directory declare (default: the honest values). */
  crc?: number;
  size: number;
  compressedSize?: number;
  local?: Partial<{ name: string; size: number; compressedSize: number; crc: number; method: number }>;
}

export interface RawDirEntry {
  name: string;
  method: number;
  crc: number;
  size: number;
  compressedSize: number;
  offset: number;
}

function u16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff];
}
function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Write local records for `entries`, then the central directory `dir(offsets)` (default: one per entry, honest). */
export function rawZip(entries: RawEntry[], dir?: (records: RawDirEntry[]) => RawDirEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const records: RawDirEntry[] = [];
  for (const e of entries) {
    const crc = e.crc ?? 0;
    const compressedSize = e.compressedSize ?? e.data.length;
    const l = { name: e.name, size: e.size, compressedSize, crc, method: e.method, ...e.local };
    const name = enc.encode(l.name);
    const header = new Uint8Array([...u32(0x04034b50), ...u16(20), ...u16(0x800), ...u16(l.method), ...u16(0), ...u16(0x21), ...u32(l.crc), ...u32(l.compressedSize), ...u32(l.size), ...u16(name.length), ...u16(0)]);
    records.push({ name: e.name, method: e.method, crc, size: e.size, compressedSize, offset });
    chunks.push(header, name, e.data);
    offset += header.length + name.length + e.data.length;
  }
  const cdStart = offset;
  for (const r of dir ? dir(records) : records) {
    const name = enc.encode(r.name);
    const h = new Uint8Array([
      ...u32(0x02014b50), ...u16(20), ...u16(20), ...u16(0x800), ...u16(r.method), ...u16(0), ...u16(0x21),
      ...u32(r.crc), ...u32(r.compressedSize), ...u32(r.size), ...u16(name.length), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u32(0), ...u32(r.offset),
    ]);
    chunks.push(h, name);
    offset += h.length + name.length;
  }
  const count = (dir ? dir(records) : records).length;
  chunks.push(new Uint8Array([...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(count), ...u16(count), ...u32(offset - cdStart), ...u32(cdStart), ...u16(0)]));
  const out = new Uint8Array(offset + 22);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** The CRC-32 a zip records for `bytes`. */
export function zipCrc(bytes: Uint8Array): number {
  return crc32(bytes) >>> 0;
}
