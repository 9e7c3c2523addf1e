import sharp from 'sharp';
import type { EncodeSpec } from '../../api/protocol/render-spec.ts';
import type { RawImage } from '../render/frame-renderer.ts';

/** What every output file records about how it was made (EXIF Software / ImageDescription). */
export interface ImageProvenance {
  /** The renderer version string (RENDERER_VERSION). */
  software: string;
  /** A short, deterministic description (e.g. scene hash and frame). */
  description?: string;
}

/** File extension for a format. */
export const EXTENSIONS = { png: 'png', webp: 'webp', jpeg: 'jpg' } as const;

function provenance(meta: ImageProvenance) {
  return { IFD0: { Software: meta.software, ...(meta.description ? { ImageDescription: meta.description } : {}) } };
}

/**
 * zlib level per effort, no adaptive filtering (it costs ~7× the encode time for ~30% smaller files). Measured on
 * the 1080p textured sample (README, Throughput: "Encoder effort"): level 1 encodes ~3× faster than level 6 for ~45% more bytes (level 3: ~2×, +5%).
 */
export const PNG_OPTIONS = {
  small: { compressionLevel: 6, adaptiveFiltering: false, palette: false },
  fast: { compressionLevel: 1, adaptiveFiltering: false, palette: false },
} as const;

/**
 * A session depth pass's pixels (RGBA8, R·256 + G = millimetres) as the `rg8-mm-png` depth image: a lossless
 * 8-bit RGB PNG, not interlaced (what clients' decoders take), with the fast zlib level (a frame budget).
 */
export function encodeDepthPng(data: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(data, { raw: { width, height, channels: 4 } }).removeAlpha().png({ ...PNG_OPTIONS.fast, progressive: false }).toBuffer();
}

/**
 * Encode straight-alpha RGBA8 pixels as PNG (8-bit RGBA), WebP (lossless or lossy) or JPEG (alpha flattened
 * onto `flatten`, default white) with `spec.effort` (default 'small'). Deterministic: same pixels and options give the same bytes.
 */
export async function encodeImage(image: RawImage, spec: EncodeSpec, meta: ImageProvenance, flatten = '#ffffff'): Promise<Buffer> {
  const effort = spec.effort ?? 'small';
  const input = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 4 } }).withExif(provenance(meta));
  switch (spec.format) {
    case 'png':
      return input.png(PNG_OPTIONS[effort]).toBuffer();
    case 'webp': {
      const webpEffort = effort === 'fast' ? 1 : 4;
      return input.webp(spec.lossless ? { lossless: true, effort: webpEffort } : { quality: spec.quality, alphaQuality: 100, effort: webpEffort }).toBuffer();
    }
    case 'jpeg':
      // mozjpeg saves ~10% of the bytes for ~5× the time (~25 vs ~5 ms per 1024×512 frame): only where frames are kept.
      return input.flatten({ background: flatten }).jpeg({ quality: spec.quality, mozjpeg: effort === 'small' }).toBuffer();
  }
}

/** Encode frames (all the same size) as one looping animated WebP at `fps`. */
export async function encodeAnimatedWebp(frames: RawImage[], fps: number, spec: Pick<EncodeSpec, 'lossless' | 'quality'>, meta: ImageProvenance): Promise<Buffer> {
  if (!frames.length) throw new RangeError('an animation needs at least one frame');
  const { width, height } = frames[0];
  for (const f of frames) if (f.width !== width || f.height !== height) throw new RangeError('all frames of an animation must have the same size');
  const strip = Buffer.concat(frames.map((f) => f.data));
  const delay = frames.map((_, i) => Math.round(((i + 1) * 1000) / fps) - Math.round((i * 1000) / fps));
  return sharp(strip, { raw: { width, height: height * frames.length, channels: 4, pageHeight: height } as any })
    .withExif(provenance(meta))
    .webp({ ...(spec.lossless ? { lossless: true } : { quality: spec.quality }), loop: 0, delay, effort: 4 })
    .toBuffer();
}
