/**
 * The frame pipe's records (render-node/agent/frame-records.ts): whatever the chunking, the node reads back exactly
 * the frames the render process's encoder thread wrote, in order; a malformed stream is refused, not misread.
 */
import { describe, expect, it } from 'vitest';
import { encodeRecord, RecordReader } from '../render-node/agent/frame-records.ts';

describe('frame records', () => {
  it('come back whole and in order from any chunking, empty parts included', () => {
    const frames = Array.from({ length: 5 }, (_, i) => ({
      header: { id: i + 1, ok: true, encodeMs: i * 1.5 },
      parts: i === 3 ? [] : [Uint8Array.from({ length: 1000 * (i + 1) }, (_, k) => (k * 7 + i) & 255), ...(i % 2 ? [new Uint8Array(0), Uint8Array.of(9, 8, 7)] : [])],
    }));
    const stream = Buffer.concat(frames.map((f) => encodeRecord(f.header, f.parts)));
    for (const size of [1, 3, 4, 5, 64, 999, stream.length]) {
      const reader = new RecordReader();
      const got: ReturnType<RecordReader['push']> = [];
      for (let at = 0; at < stream.length; at += size) got.push(...reader.push(stream.subarray(at, at + size)));
      expect(got.map((r) => r.header.id), `chunks of ${size}`).toEqual([1, 2, 3, 4, 5]);
      for (const [i, r] of got.entries()) {
        expect(r.header).toMatchObject(frames[i].header);
        expect(r.parts.map((p) => [...p])).toEqual(frames[i].parts.map((p) => [...p]));
      }
    }
  });

  it('refuses a huge header length and a header without part lengths', () => {
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(1 << 30);
    expect(() => new RecordReader().push(huge)).toThrow(/header of/);
    const json = Buffer.from(JSON.stringify({ id: 1, parts: [-1] }));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(json.length);
    expect(() => new RecordReader().push(Buffer.concat([length, json]))).toThrow(/part lengths/);
  });
});
