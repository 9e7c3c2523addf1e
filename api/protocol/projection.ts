import { z } from 'zod';

/**
 * How a frame maps directions to pixels. `perspective` is one camera; `stereo` is two perspective eyes side by
 * side (left | right); `equirect` is a 2:1 longitude/latitude panorama; `equirect-stereo` is omni-directional
 * stereo (two 2:1 equirect eyes, left over right); `cube` is six cube faces in a 6×1 strip (+X −X +Y −Y +Z −Z,
 * GL cube-map orientation).
 */
export const Projection = z.enum(['perspective', 'stereo', 'equirect', 'equirect-stereo', 'cube']);
export type Projection = z.infer<typeof Projection>;

/** Default interpupillary distance in metres (world units). */
export const DEFAULT_IPD = 0.064;
/** Largest interpupillary distance accepted: 1 m already makes a scene look like a toy. */
export const MAX_IPD = 1;
/** Largest panorama width (`equirect`, `equirect-stereo`) in pixels. */
export const MAX_PANORAMA_WIDTH = 8192;
/** Most samples (output pixels × ssaa²) one `equirect` or `equirect-stereo` frame may take: bounds the node's memory. */
export const MAX_PANORAMA_SAMPLES = 2 ** 26;
/** Smallest panorama width: every eye and cube face keeps a few pixels. */
export const MIN_PANORAMA_WIDTH = 16;
/** Largest cube face edge in pixels (the strip is 6 faces wide). */
export const MAX_CUBE_FACE = 2730;

/** Why a width × height × ssaa frame does not suit `projection`, or null when it does. */
export function projectionSizeProblem(projection: Projection, width: number, height: number, ssaa: number): string | null {
  switch (projection) {
    case 'perspective':
      return null;
    case 'stereo':
      return width % 2 === 0 && width >= 2 ? null : `a stereo frame is two eyes side by side, so its width must be even (got ${width})`;
    case 'equirect':
    case 'equirect-stereo': {
      const eyes = projection === 'equirect' ? 1 : 2;
      const what = projection === 'equirect' ? 'an equirect frame is 2:1' : 'an equirect-stereo frame is 1:1 (two 2:1 eyes, left over right)';
      if (width !== 2 * (height / eyes)) return `${what}: ${width}x${height} does not fit (use ${width}x${width / 2 * eyes})`;
      if (width < MIN_PANORAMA_WIDTH || width > MAX_PANORAMA_WIDTH) return `a panorama is ${MIN_PANORAMA_WIDTH} to ${MAX_PANORAMA_WIDTH} pixels wide (got ${width})`;
      if (width * height * ssaa * ssaa > MAX_PANORAMA_SAMPLES) {
        return `${width}x${height} at ssaa ${ssaa} is ${width * height * ssaa * ssaa} samples, more than ${MAX_PANORAMA_SAMPLES}; lower the size or the supersampling`;
      }
      return null;
    }
    case 'cube': {
      if (width !== 6 * height) return `a cube frame is six square faces in a row, so its width is 6 × its height (got ${width}x${height}; e.g. ${6 * height}x${height})`;
      if (height > MAX_CUBE_FACE) return `a cube face is at most ${MAX_CUBE_FACE} pixels (got ${height})`;
      return null;
    }
  }
}
