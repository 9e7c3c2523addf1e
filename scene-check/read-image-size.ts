/**
 * Reads an image's pixel size from its header alone (PNG IHDR, JPEG SOF, WebP VP8/VP8L/VP8X,
 * KTX2, AVIF ispe) without decoding any pixel data, so a decompression bomb is caught by what it
 * claims before anything inflates it.
 */

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'ktx2' | 'avif';

export interface ImageSize {
  format: ImageFormat;
  mimeType: string;
  width: number;
  height: number;
  /** Pixels of all layers, faces and depth slices (width × height for ordinary images). */
  pixels: number;
}

/** A recognized format with a broken header, or an unknown format. */
export interface ImageSizeProblem {
  problem: string;
}

const MIME: Record<ImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  ktx2: 'image/ktx2',
  avif: 'image/avif',
};

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const KTX2_SIGNATURE = [0xab, 0x4b, 0x54, 0x58, 0x20, 0x32, 0x30, 0xbb, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, sig: number[], at = 0): boolean {
  if (bytes.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[at + i] !== sig[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}

function size(format: ImageFormat, width: number, height: number, pixels = width * height): ImageSize | ImageSizeProblem {
  if (width === 0 || height === 0) return { problem: `${format.toUpperCase()} header gives a size of ${width}×${height}` };
  return { format, mimeType: MIME[format], width, height, pixels };
}

export function readImageSize(bytes: Uint8Array): ImageSize | ImageSizeProblem {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  if (startsWith(bytes, PNG_SIGNATURE)) {
    if (bytes.length < 24 || ascii(bytes, 12, 4) !== 'IHDR') return { problem: 'PNG has no IHDR header' };
    return size('png', view.getUint32(16), view.getUint32(20));
  }

  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return readJpeg(bytes, view);

  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return readWebp(bytes, view);

  if (startsWith(bytes, KTX2_SIGNATURE)) {
    if (bytes.length < 44) return { problem: 'KTX2 header is truncated' };
    const width = view.getUint32(20, true);
    const height = Math.max(1, view.getUint32(24, true));
    const depth = Math.max(1, view.getUint32(28, true));
    const layers = Math.max(1, view.getUint32(32, true));
    const faces = Math.max(1, view.getUint32(36, true));
    return size('ktx2', width, height, width * height * depth * layers * faces);
  }

  if (bytes.length >= 12 && ascii(bytes, 4, 4) === 'ftyp' && /^(avif|avis)$/.test(ascii(bytes, 8, 4))) {
    return readAvif(bytes, view);
  }

  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return { problem: `not a PNG, JPEG, WebP, KTX2 or AVIF image (it starts with ${head || 'nothing'})` };
}

function readJpeg(bytes: Uint8Array, view: DataView): ImageSize | ImageSizeProblem {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) return { problem: `JPEG marker expected at byte ${pos}` };
    let marker = bytes[pos + 1];
    while (marker === 0xff && pos + 2 < bytes.length) {
      pos++; // fill bytes
      marker = bytes[pos + 1];
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break; // end of image or start of scan before any frame header
    if (pos + 4 > bytes.length) break;
    const length = view.getUint16(pos + 2);
    if (length < 2) return { problem: `JPEG segment at byte ${pos} has length ${length}` };
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (pos + 9 > bytes.length) break;
      return size('jpeg', view.getUint16(pos + 7), view.getUint16(pos + 5));
    }
    pos += 2 + length;
  }
  return { problem: 'JPEG has no frame header (SOF) with its size' };
}

function readWebp(bytes: Uint8Array, view: DataView): ImageSize | ImageSizeProblem {
  if (bytes.length < 30) return { problem: 'WebP header is truncated' };
  const chunk = ascii(bytes, 12, 4);
  if (chunk === 'VP8 ') {
    if (bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) return { problem: 'WebP VP8 frame has a bad start code' };
    return size('webp', view.getUint16(26, true) & 0x3fff, view.getUint16(28, true) & 0x3fff);
  }
  if (chunk === 'VP8L') {
    if (bytes[20] !== 0x2f) return { problem: 'WebP VP8L header has a bad signature' };
    const b1 = bytes[21];
    const b2 = bytes[22];
    const b3 = bytes[23];
    const b4 = bytes[24];
    const width = 1 + (((b2 & 0x3f) << 8) | b1);
    const height = 1 + (((b4 & 0x0f) << 10) | (b3 << 2) | ((b2 & 0xc0) >> 6));
    return size('webp', width, height);
  }
  if (chunk === 'VP8X') {
    const width = 1 + (bytes[24] | (bytes[25] << 8) | (bytes[26] << 16));
    const height = 1 + (bytes[27] | (bytes[28] << 8) | (bytes[29] << 16));
    return size('webp', width, height);
  }
  return { problem: `WebP has an unknown first chunk ${JSON.stringify(chunk)}` };
}

/**
 * AVIF (ISO-BMFF): the size is in `ispe` property boxes inside meta/iprp/ipco. Takes the largest
 * `ispe` found in the first megabyte, which is enough to bound the decoded size.
 */
function readAvif(bytes: Uint8Array, view: DataView): ImageSize | ImageSizeProblem {
  const end = Math.min(bytes.length, 1 << 20);
  let width = 0;
  let height = 0;
  for (let i = 4; i + 16 <= end; i++) {
    if (bytes[i] === 0x69 && bytes[i + 1] === 0x73 && bytes[i + 2] === 0x70 && bytes[i + 3] === 0x65) {
      // 'ispe' box type; then version/flags (4 bytes), width, height.
      width = Math.max(width, view.getUint32(i + 8));
      height = Math.max(height, view.getUint32(i + 12));
    }
  }
  if (!width || !height) return { problem: 'AVIF has no image size (ispe) box' };
  return size('avif', width, height);
}
