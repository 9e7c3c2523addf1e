import { makeRaster, type Raster } from './raster.ts';

/** 8-bit sRGB color as 0..1 floats. */
const rgb = (r: number, g: number, b: number): number[] => [r / 255, g / 255, b / 255];

/** `cells` x `cells` checkerboard; the top-left cell uses color `a`. */
export function checkerboard(size: number, cells: number, a: number[], b: number[]): Raster {
  return makeRaster(size, size, 3, (x, y) => ((Math.floor(x * cells) + Math.floor(y * cells)) % 2 === 0 ? a : b));
}

export const RED = rgb(220, 20, 20);
export const WHITE = rgb(255, 255, 255);

/** Vertical stripes (varying along x) alternating between two colors. */
export function stripes(width: number, height: number, count: number, a: number[], b: number[]): Raster {
  return makeRaster(width, height, 3, (x) => (Math.floor(x * count) % 2 === 0 ? a : b));
}

/**
 * Tangent-space normal map of a tileable bump field h = bumps(6x6) + fine ripples.
 * glTF convention: +X right, +Y up (toward the top of the image), +Z out of the surface.
 */
export function bumpNormalMap(size: number, strength = 0.9): Raster {
  const f1 = 6;
  const f2 = 23;
  const tau = 2 * Math.PI;
  return makeRaster(size, size, 3, (x, y) => {
    // h(x, y) = 0.5 * cos(tau f1 x) cos(tau f1 y) + 0.1 * sin(tau f2 x) sin(tau f2 y); x right, y down.
    const dhdx =
      -0.5 * tau * f1 * Math.sin(tau * f1 * x) * Math.cos(tau * f1 * y) +
      0.1 * tau * f2 * Math.cos(tau * f2 * x) * Math.sin(tau * f2 * y);
    const dhdy =
      -0.5 * tau * f1 * Math.cos(tau * f1 * x) * Math.sin(tau * f1 * y) +
      0.1 * tau * f2 * Math.sin(tau * f2 * x) * Math.cos(tau * f2 * y);
    const k = strength / (tau * f1); // keep slopes moderate
    // "up" is -y, so dh/dup = -dh/dy.
    const nx = -dhdx * k;
    const ny = dhdy * k;
    const nz = 1;
    const l = Math.hypot(nx, ny, nz);
    return [(nx / l + 1) / 2, (ny / l + 1) / 2, (nz / l + 1) / 2];
  });
}

/** Roughness (G) in `count` vertical stripes stepping 0.15..0.95; metallic (B) 0; R (occlusion slot) 1. */
export function roughnessStripes(size: number, count: number): Raster {
  return makeRaster(size, size, 3, (x) => {
    const i = Math.floor(x * count);
    return [1, 0.15 + (0.8 * i) / (count - 1), 0];
  });
}

/** Ambient occlusion (R=G=B): 1 on the top half, darkening to 0.25 at the bottom edge. */
export function occlusionGradient(size: number): Raster {
  return makeRaster(size, size, 3, (_x, y) => {
    const ao = y < 0.5 ? 1 : 1 - 0.75 * ((y - 0.5) / 0.5);
    return [ao, ao, ao];
  });
}

/** Black with a white horizontal band covering y in [y0, y1]. */
export function horizontalBand(width: number, height: number, y0: number, y1: number): Raster {
  return makeRaster(width, height, 3, (_x, y) => (y >= y0 && y <= y1 ? [1, 1, 1] : [0, 0, 0]));
}

/** RGBA: `color` everywhere, alpha 1 inside a centered disc of radius `radius` (0..0.5), 0 outside. */
export function alphaDisc(size: number, radius: number, color: number[]): Raster {
  return makeRaster(size, size, 4, (x, y) => {
    const inside = Math.hypot(x - 0.5, y - 0.5) <= radius;
    return [color[0], color[1], color[2], inside ? 1 : 0];
  });
}
