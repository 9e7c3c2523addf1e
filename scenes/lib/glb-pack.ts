import type { JSONDocument } from '@gltf-transform/core';

const pad = (bytes: Uint8Array, fill: number): Uint8Array => {
  const padded = (bytes.byteLength + 3) & ~3;
  if (padded === bytes.byteLength) return bytes;
  const out = new Uint8Array(padded).fill(fill);
  out.set(bytes);
  return out;
};

/** Packs a single-buffer JSONDocument (as produced by NodeIO.writeJSON with format GLB) into GLB bytes. */
export function packGlb(jsonDoc: JSONDocument): Uint8Array {
  const jsonChunk = pad(new TextEncoder().encode(JSON.stringify(jsonDoc.json)), 0x20);
  const bins = Object.values(jsonDoc.resources);
  if (bins.length > 1) throw new Error('packGlb: expected at most one buffer');
  const binChunk = bins[0]?.byteLength ? pad(bins[0], 0) : undefined;
  const total = 12 + 8 + jsonChunk.byteLength + (binChunk ? 8 + binChunk.byteLength : 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x46546c67, true); // "glTF"
  dv.setUint32(4, 2, true);
  dv.setUint32(8, total, true);
  dv.setUint32(12, jsonChunk.byteLength, true);
  dv.setUint32(16, 0x4e4f534a, true); // "JSON"
  out.set(jsonChunk, 20);
  if (binChunk) {
    const o = 20 + jsonChunk.byteLength;
    dv.setUint32(o, binChunk.byteLength, true);
    dv.setUint32(o + 4, 0x004e4942, true); // "BIN\0"
    out.set(binChunk, o + 8);
  }
  return out;
}
