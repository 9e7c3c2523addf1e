/**
 * Encoded frames from a session's render process to the node: a byte stream of records, each a u32 big-endian JSON
 * header length, the JSON header (`parts`: the byte length of each binary part that follows), then the parts. Used on
 * the extra pipe the render process's encoder thread writes to (session-encoder.ts), so frames leave while the
 * process's main thread is busy drawing the next one. Pure.
 */

export interface RecordHeader {
  /** Byte length of each binary part after the header, in order. */
  parts: number[];
  [key: string]: unknown;
}

/** Largest JSON header accepted (a frame's is ~150 bytes). */
const MAX_HEADER_BYTES = 64 * 1024;

/** One record: header (its `parts` filled in from `parts`) and the parts, as one buffer. */
export function encodeRecord(header: object, parts: readonly Uint8Array[]): Buffer {
  const json = Buffer.from(JSON.stringify({ ...header, parts: parts.map((p) => p.byteLength) }));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json, ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))]);
}

/** Reassembles records from chunks as they arrive. */
export class RecordReader {
  #chunks: Buffer[] = [];
  #buffered = 0;

  /** Add a chunk; returns every record it completes, in order. Throws on a malformed stream. */
  push(chunk: Buffer): { header: RecordHeader; parts: Buffer[] }[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: { header: RecordHeader; parts: Buffer[] }[] = [];
    for (;;) {
      if (this.#buffered < 4) break;
      const head = this.#peek(4);
      const jsonBytes = head.readUInt32BE(0);
      if (jsonBytes > MAX_HEADER_BYTES) throw new Error(`a frame record header of ${jsonBytes} bytes`);
      if (this.#buffered < 4 + jsonBytes) break;
      const header = JSON.parse(this.#peek(4 + jsonBytes).subarray(4).toString()) as RecordHeader;
      if (!Array.isArray(header.parts) || header.parts.some((n) => !Number.isInteger(n) || n < 0)) throw new Error('a frame record without part lengths');
      const total = 4 + jsonBytes + header.parts.reduce((a, b) => a + b, 0);
      if (this.#buffered < total) break;
      const all = this.#take(total);
      const parts: Buffer[] = [];
      let at = 4 + jsonBytes;
      for (const n of header.parts) {
        parts.push(all.subarray(at, at + n));
        at += n;
      }
      out.push({ header, parts });
    }
    return out;
  }

  /** The first `n` buffered bytes (joined when they span chunks), left buffered. */
  #peek(n: number): Buffer {
    if (this.#chunks[0].length < n) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0].subarray(0, n);
  }

  /** The first `n` buffered bytes, removed. */
  #take(n: number): Buffer {
    const head = this.#peek(n);
    const rest = this.#chunks[0].subarray(n);
    this.#chunks[0] = rest;
    if (!rest.length) this.#chunks.shift();
    this.#buffered -= n;
    return head;
  }
}
