/** The SDK's depth-image decoder: every PNG row filter, RGB and RGBA, and what it refuses. */
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeDepth } from '../../api/client/decode-depth.ts';

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
/** A PNG whose row y uses filter `filterOf(y)` (0 none, 1 sub, 2 up, 3 average, 4 Paeth), encoded here. */
function png(pixels: Uint8Array, width: number, height: number, channels: 3 | 4, filterOf: (y: number) => number, opts: { bitDepth?: number; extraRaw?: number } = {}): Buffer {
  const stride = width * channels;
  const raw = Buffer.alloc(height * (stride + 1) + (opts.extraRaw ?? 0));
  for (let y = 0; y < height; y++) {
    const f = filterOf(y);
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const x = pixels[y * stride + i];
      const a = i >= channels ? pixels[y * stride + i - channels] : 0;
      const b = y ? pixels[(y - 1) * stride + i] : 0;
      const c = y && i >= channels ? pixels[(y - 1) * stride + i - channels] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      raw[y * (stride + 1) + 1 + i] = (x - pred) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = opts.bitDepth ?? 8;
  ihdr[9] = channels === 3 ? 2 : 6;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

const W = 37, H = 23;
const expectedMm = (x: number, y: number) => (1000 + x * 911 + y * 2477 + ((x * y) % 13) * 301) % 65536;
function depthPixels(channels: 3 | 4): Uint8Array {
  const px = new Uint8Array(W * H * channels);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const p = (y * W + x) * channels, mm = expectedMm(x, y);
    px[p] = mm >> 8;
    px[p + 1] = mm & 0xff;
    px[p + 2] = (x * 31) & 0xff; // B is ignored
    if (channels === 4) px[p + 3] = 255;
  }
  return px;
}

describe('decodeDepth', () => {
  it('decodes every row filter, RGB and RGBA, to R·256 + G millimetres', async () => {
    for (const channels of [3, 4] as const) {
      const d = await decodeDepth(png(depthPixels(channels), W, H, channels, (y) => y % 5));
      expect([d.width, d.height]).toEqual([W, H]);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) expect(d.mm[y * W + x]).toBe(expectedMm(x, y));
    }
  });

  it('refuses what is not a session depth image, and stops inflating at the size the header implies', async () => {
    await expect(decodeDepth(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).rejects.toThrow(RangeError);
    await expect(decodeDepth(png(depthPixels(3), W, H, 3, () => 0, { bitDepth: 16 }))).rejects.toThrow(/8-bit/);
    // Far larger than any session frame (4096 × 2048).
    const huge = png(new Uint8Array(3), 1, 1, 3, () => 0);
    huge.writeUInt32BE(5000, 16);
    await expect(decodeDepth(huge)).rejects.toThrow(/outside a session frame/);
    // Image data beyond what the header says (a deflate bomb would be this, bigger).
    await expect(decodeDepth(png(depthPixels(3), W, H, 3, () => 0, { extraRaw: 1 << 20 }))).rejects.toThrow(/larger than its header/);
    // An unknown filter type.
    await expect(decodeDepth(png(depthPixels(3), W, H, 3, (y) => (y === 3 ? 7 : 0)))).rejects.toThrow(/unknown filter/);
  });
});
