/**
 * Decode a session frame's depth image (`rg8-mm-png`, see api/protocol/session-depth.ts) into millimetres per
 * pixel, in Node 20, browsers and workers alike: the PNG is inflated with the platform's DecompressionStream and
 * unfiltered here (8-bit RGB or RGBA, not interlaced: what nodes send). A canvas would not do: browsers may
 * colour-manage or premultiply what they draw, and Node has none.
 */
import { DEPTH_FAR_MM, unpackDepthRg8 } from '../protocol/session-depth.ts';
import { readStreamAtMost } from '../protocol/read-at-most.ts';
import { MAX_EYE_EDGE } from '../protocol/session.ts';

export interface DepthMap {
  /** The whole image: both eyes side by side, like the colour image. */
  width: number;
  height: number;
  /** Linear eye depth in millimetres, rows top-down; DEPTH_FAR_MM where there is no surface. */
  mm: Uint16Array;
}

export { DEPTH_FAR_MM };

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Decode an `rg8-mm-png` depth image; throws RangeError for anything else. */
export async function decodeDepth(png: Uint8Array): Promise<DepthMap> {
  if (png.length < 8 || SIGNATURE.some((b, i) => png[i] !== b)) throw new RangeError('depth image is not a PNG');
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  for (let p = 8; p + 8 <= png.length; ) {
    const length = view.getUint32(p);
    const type = String.fromCharCode(png[p + 4], png[p + 5], png[p + 6], png[p + 7]);
    const data = png.subarray(p + 8, p + 8 + length);
    if (data.length !== length) throw new RangeError(`depth PNG chunk ${type} is truncated`);
    if (type === 'IHDR') {
      width = view.getUint32(p + 8);
      height = view.getUint32(p + 12);
      const [bitDepth, colorType, , , interlace] = data.subarray(8, 13);
      channels = colorType === 2 ? 3 : colorType === 6 ? 4 : 0;
      if (bitDepth !== 8 || !channels || interlace !== 0) throw new RangeError('depth PNG must be 8-bit RGB or RGBA, not interlaced');
      if (!(width > 0 && height > 0 && width <= 2 * MAX_EYE_EDGE && height <= MAX_EYE_EDGE)) throw new RangeError(`depth PNG of ${width}×${height} is outside a session frame's size`);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    p += 12 + length;
  }
  if (!channels || !idat.length) throw new RangeError('depth PNG has no header or no image data');
  const stride = width * channels;
  const raw = await inflate(idat, height * (stride + 1));
  if (raw.length !== height * (stride + 1)) throw new RangeError('depth PNG image data has the wrong size');
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const up = y ? pixels.subarray((y - 1) * stride, y * stride) : null;
    // Nodes write unfiltered rows (filter 0): a plain copy. Other filters are decoded too (any PNG encoder).
    if (filter === 0) {
      out.set(line);
      continue;
    }
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[i - channels] : 0;
      const b = up ? up[i] : 0;
      const c = up && i >= channels ? up[i - channels] : 0;
      let v = line[i];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new RangeError(`depth PNG uses unknown filter ${filter}`);
      out[i] = v & 0xff;
    }
  }
  return { width, height, mm: unpackDepthRg8(pixels, channels) };
}

/** zlib-inflate the IDAT chunks, refusing output beyond `limit` bytes (a deflate bomb stops there). */
async function inflate(parts: Uint8Array[], limit: number): Promise<Uint8Array> {
  const stream = new Blob(parts as BlobPart[]).stream().pipeThrough(new DecompressionStream('deflate'));
  const out = await readStreamAtMost(stream, limit);
  if (!out) throw new RangeError('depth PNG image data is larger than its header says');
  return out;
}
