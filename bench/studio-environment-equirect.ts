import { studioRadiance } from '../render-node/render/studio-environment.ts';

/**
 * Tessera's studio environment (sky/ground gradient plus spherical-Gaussian softboxes, see
 * render-node/render/studio-environment.ts) baked into an equirectangular RGBA float32 image, so that
 * Blender and three.js in Chromium are lit by the same environment as Tessera.
 *
 * Rows are stored bottom-up (row 0 looks straight down), as GL textures and Blender's pixel arrays expect.
 * The image is laid out for three.js's equirectUv (u = atan2(z, x)/2π + ½, v = asin(y)/π + ½); three.js in
 * Chromium (PMREMGenerator.fromEquirectangular) then lights scenes exactly as Tessera's CPU-built cubeUV atlas
 * does (million.glb: 0 % of pixels differ). Blender needs the azimuth mirrored (`mirrorAzimuth`): measured on
 * million.glb at 4K, EEVEE differs from Tessera on 6 % of the pixels with the mirrored image, 19 % without
 * (and 17 % with an x mirror instead), i.e. three's environment lookup and Blender's world (after the glTF
 * importer's (x, −z, y) axis change) disagree by a z mirror.
 */

export interface EquirectImage {
  width: number;
  height: number;
  /** RGBA float32, linear, rows bottom-up. */
  data: Float32Array;
}

/** Direction (glTF space) of equirect texel center (u, v) ∈ [0,1]². */
function texelDirection(u: number, v: number): [number, number, number] {
  const elevation = (v - 0.5) * Math.PI;
  const azimuth = (u - 0.5) * 2 * Math.PI;
  const ce = Math.cos(elevation);
  return [Math.cos(azimuth) * ce, Math.sin(elevation), Math.sin(azimuth) * ce];
}

/** Bake the studio environment at `width × width/2` texels. */
export function bakeStudioEquirect(width = 1024): EquirectImage {
  const height = width / 2;
  const data = new Float32Array(width * height * 4);
  const radiance = studioRadiance();
  const rgb = new Float64Array(3);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      radiance(...texelDirection((i + 0.5) / width, (j + 0.5) / height), rgb);
      const p = (j * width + i) * 4;
      data[p] = rgb[0];
      data[p + 1] = rgb[1];
      data[p + 2] = rgb[2];
      data[p + 3] = 1;
    }
  }
  return { width, height, data };
}

/** The same image with u → 1 − u (a mirror of the azimuth), the layout Blender's world needs to match Tessera. */
export function mirrorAzimuth(img: EquirectImage): EquirectImage {
  const { width, height, data } = img;
  const out = new Float32Array(data.length);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const src = (j * width + (width - 1 - i)) * 4;
      out.set(data.subarray(src, src + 4), (j * width + i) * 4);
    }
  }
  return { width, height, data: out };
}
