import { CubeTexture, DataTexture, DataUtils, FloatType, HalfFloatType, LinearFilter, LinearMipmapLinearFilter, LinearSRGBColorSpace, RGBAFormat, type Texture } from 'three';
import { CUBE_UV_REFLECTION_MAPPING, pmremIsCubeMap } from './three-compat.ts';

/**
 * Image-based lighting without render-to-float.
 *
 * three's PMREMGenerator renders its prefiltered "cubeUV" atlas into half-float or float targets; headless-gl
 * (WebGL 1) can sample float textures but cannot render into them (the framebuffer is incomplete), so PMREM
 * output stays black. We build the same atlas on the CPU instead. The environment is a studio made of a
 * smooth sky/ground gradient plus soft area lights written as spherical Gaussians; both have closed-form
 * blurs, so every PMREM level (a Gaussian blur of angle σ) is evaluated exactly per texel, in milliseconds.
 */

/** A soft light in the environment: radiance `color·exp(sharpness·(cos θ − 1))` around `direction`. */
export interface EnvironmentLobe {
  direction: [number, number, number];
  sharpness: number;
  color: [number, number, number];
}

export interface StudioEnvironmentOptions {
  /** Radiance straight up and straight down; linear in the direction's y in between. */
  sky: [number, number, number];
  ground: [number, number, number];
  lobes: EnvironmentLobe[];
  /** log2 of the finest face size (three's PMREM uses 8 → 256 px faces). */
  lodMax: number;
}

export const STUDIO_ENVIRONMENT_DEFAULTS: StudioEnvironmentOptions = {
  sky: [0.42, 0.43, 0.45],
  ground: [0.07, 0.065, 0.06],
  lobes: [
    { direction: [0.6, 0.65, 0.6], sharpness: 30, color: [9, 8.7, 8.4] }, // key softbox, front right, high
    { direction: [-0.8, 0.35, 0.45], sharpness: 12, color: [1.6, 1.65, 1.75] }, // fill, left
    { direction: [-0.1, 0.55, -0.85], sharpness: 45, color: [7, 7, 7] }, // rim, behind
    { direction: [0, 1, 0], sharpness: 6, color: [0.5, 0.5, 0.5] }, // overhead
  ],
  lodMax: 8,
};

// Must match three's PMREMGenerator (r162): LOD_MIN and EXTRA_LOD_SIGMA.
const LOD_MIN = 4;
const EXTRA_LOD_SIGMA = [0.125, 0.215, 0.35, 0.446, 0.526, 0.582];

interface Level {
  size: number;
  sigma: number;
  x: number;
  y: number;
}

/** The PMREM levels: face size, total blur σ (radians) and atlas origin of each. */
export function cubeUVLevels(lodMax: number): Level[] {
  const cubeSize = 2 ** lodMax;
  const levels: Level[] = [];
  let lod = lodMax;
  const total = lodMax - LOD_MIN + 1 + EXTRA_LOD_SIGMA.length;
  for (let i = 0; i < total; i++) {
    const size = 2 ** lod;
    let sigma = 1 / size;
    if (i > lodMax - LOD_MIN) sigma = EXTRA_LOD_SIGMA[i - lodMax + LOD_MIN - 1];
    else if (i === 0) sigma = 0;
    const x = 3 * size * (i > lodMax - LOD_MIN ? i - lodMax + LOD_MIN : 0);
    const y = 4 * (cubeSize - size);
    levels.push({ size, sigma, x, y });
    if (lod > LOD_MIN) lod--;
  }
  return levels;
}

/** PMREM's face convention: direction for face-local uv in [0,1]² (see PMREMGenerator's getDirection). */
function faceDirection(u: number, v: number, face: number, out: Float64Array): void {
  const a = 2 * u - 1;
  const b = 2 * v - 1;
  let x: number, y: number, z: number;
  switch (face) {
    case 0: x = 1; y = b; z = a; break;
    case 1: x = -a; y = 1; z = -b; break;
    case 2: x = -a; y = b; z = 1; break;
    case 3: x = -1; y = b; z = -a; break;
    case 4: x = -a; y = -1; z = b; break;
    default: x = a; y = b; z = -1; break;
  }
  const len = Math.hypot(x, y, z);
  out[0] = x / len;
  out[1] = y / len;
  out[2] = z / len;
}

/** Mean cosine of a von Mises–Fisher kernel of concentration κ (how much blur shrinks a linear term). */
function meanCosine(kappa: number): number {
  if (kappa > 50) return 1 - 1 / kappa;
  return 1 / Math.tanh(kappa) - 1 / kappa;
}

/** Integral of exp(λ(cosθ−1)) over the sphere, divided by 2π. */
function sgIntegral(lambda: number): number {
  return (1 - Math.exp(-2 * lambda)) / lambda;
}

/**
 * The studio's radiance blurred by a Gaussian of `sigma` radians (0: unblurred), as a function writing RGB for a
 * unit direction into `out`. The blur is exact: a linear gradient shrinks by the kernel's mean cosine, and a
 * spherical Gaussian stays one, sharper ⊗ kernel, with its energy kept.
 */
export function studioRadiance(options: Partial<StudioEnvironmentOptions> = {}, sigma = 0): (x: number, y: number, z: number, out: Float64Array | number[]) => void {
  const opts = { ...STUDIO_ENVIRONMENT_DEFAULTS, ...options };
  // A Gaussian blur of σ radians acts like a vMF kernel of κ = 1/σ².
  const kappa = sigma > 0 ? 1 / (sigma * sigma) : Infinity;
  const mid = opts.sky.map((s, i) => (s + opts.ground[i]) / 2);
  const gradient = opts.sky.map((s, i) => ((s - opts.ground[i]) / 2) * (Number.isFinite(kappa) ? meanCosine(kappa) : 1));
  const lobes = opts.lobes.map((l) => {
    const len = Math.hypot(...l.direction);
    const lambda = Number.isFinite(kappa) ? (l.sharpness * kappa) / (l.sharpness + kappa) : l.sharpness;
    const scale = sgIntegral(l.sharpness) / sgIntegral(lambda); // energy is conserved by the blur
    return { d: l.direction.map((c) => c / len), lambda, color: l.color.map((c) => c * scale) };
  });
  return (x, y, z, out) => {
    let r = mid[0] + gradient[0] * y;
    let g = mid[1] + gradient[1] * y;
    let b = mid[2] + gradient[2] * y;
    for (const l of lobes) {
      const w = Math.exp(l.lambda * (l.d[0] * x + l.d[1] * y + l.d[2] * z - 1));
      r += l.color[0] * w;
      g += l.color[1] * w;
      b += l.color[2] * w;
    }
    out[0] = r;
    out[1] = g;
    out[2] = b;
  };
}

/**
 * The studio environment, ready to use as `scene.environment` / `scene.background`, in the form this three
 * samples: three 0.162's cube-UV atlas (createStudioAtlas), or the current three's mipmapped cube map
 * (createStudioCube).
 */
export function createStudioEnvironment(options: Partial<StudioEnvironmentOptions> = {}): Texture {
  return pmremIsCubeMap() ? createStudioCube(options) : createStudioAtlas(options);
}

// three 0.162's roughnessToMip (cube_uv_reflection_fragment): the atlas level, fractional, a roughness is read at.
const CUBE_UV_MIPS: [number, number][] = [
  [1.0, -2.0],
  [0.8, -1.0],
  [0.4, 2.0],
  [0.305, 3.0],
  [0.21, 4.0],
];
function cubeUVMip(roughness: number, lodMax: number): number {
  let mip: number;
  const k = CUBE_UV_MIPS.findIndex(([r], i) => i > 0 && roughness >= r);
  if (k > 0) {
    const [r0, m0] = CUBE_UV_MIPS[k - 1];
    const [r1, m1] = CUBE_UV_MIPS[k];
    mip = ((r0 - roughness) * (m1 - m0)) / (r0 - r1) + m0;
  } else mip = -2 * Math.log2(1.16 * roughness);
  return Math.min(Math.max(mip, -2), lodMax);
}

/**
 * Radiance as three 0.162 reads the atlas at `roughness`: the two atlas levels around its fractional level,
 * mixed. Atlas level i (cubeUVLevels) is what the shader calls mip lodMax − i, down to −2 for the extra blurs.
 */
function atlasRadianceAt(options: StudioEnvironmentOptions, roughness: number): (x: number, y: number, z: number, out: Float64Array) => void {
  const levels = cubeUVLevels(options.lodMax);
  const mip = cubeUVMip(roughness, options.lodMax);
  const whole = Math.floor(mip);
  const f = mip - whole;
  const a = studioRadiance(options, levels[options.lodMax - whole].sigma);
  if (f === 0) return a;
  const b = studioRadiance(options, levels[options.lodMax - whole - 1].sigma);
  const other = new Float64Array(3);
  return (x, y, z, out) => {
    a(x, y, z, out);
    b(x, y, z, other);
    for (let c = 0; c < 3; c++) out[c] += (other[c] - out[c]) * f;
  };
}

/** GL's cube faces (+X −X +Y −Y +Z −Z): the direction of face texel coordinates a, b in [−1, 1] (GL spec table). */
function glFaceDirection(face: number, a: number, b: number, out: Float64Array): void {
  let x: number, y: number, z: number;
  switch (face) {
    case 0: x = 1; y = -b; z = -a; break;
    case 1: x = -1; y = -b; z = a; break;
    case 2: x = a; y = 1; z = b; break;
    case 3: x = a; y = -1; z = -b; break;
    case 4: x = a; y = -b; z = 1; break;
    default: x = -a; y = -b; z = -1; break;
  }
  const len = Math.hypot(x, y, z);
  out[0] = x / len;
  out[1] = y / len;
  out[2] = z / len;
}

// The current three's PMREM: the roughest level has faces of 2^3 texels (PMREMGenerator's LOD_MIN).
const CUBE_LOD_MIN = 3;

/**
 * The studio as the current three's PMREM: a half-float cube map whose mip level L of M holds the radiance for
 * roughness 1 − √(1 − L/M) (PMREMGenerator.lodToRoughness, which its shaders invert), flagged `isPMREMTexture` so
 * three samples it as it is. Each level holds what three 0.162 reads from the cube-UV atlas at that roughness
 * (the same closed-form blurs, mixed the same way), so both backends light a surface alike.
 *
 * three samples a CubeTexture at (−x, y, z) for a world direction (x, y, z) (the mirrored skybox convention), so a
 * texel at GL cube direction g holds the radiance of (−g.x, g.y, g.z).
 */
export function createStudioCube(options: Partial<StudioEnvironmentOptions> = {}): CubeTexture {
  const opts = { ...STUDIO_ENVIRONMENT_DEFAULTS, ...options };
  const maxLod = opts.lodMax - CUBE_LOD_MIN;
  const dir = new Float64Array(3);
  const rgb = new Float64Array(3);
  const level = (lod: number, radianceLod: number) => {
    const size = 2 ** (opts.lodMax - lod);
    const radiance = atlasRadianceAt(opts, maxLod > 0 ? 1 - Math.sqrt(1 - radianceLod / maxLod) : 0);
    return Array.from({ length: 6 }, (_, face) => {
      const data = new Uint16Array(size * size * 4);
      for (let j = 0; j < size; j++) {
        for (let i = 0; i < size; i++) {
          glFaceDirection(face, (2 * (i + 0.5)) / size - 1, (2 * (j + 0.5)) / size - 1, dir);
          radiance(-dir[0], dir[1], dir[2], rgb);
          const p = (j * size + i) * 4;
          data[p] = DataUtils.toHalfFloat(rgb[0]);
          data[p + 1] = DataUtils.toHalfFloat(rgb[1]);
          data[p + 2] = DataUtils.toHalfFloat(rgb[2]);
          data[p + 3] = DataUtils.toHalfFloat(1);
        }
      }
      return { data, width: size, height: size };
    });
  };
  const faces = level(0, 0).map((image) => {
    const t = new DataTexture(image.data, image.width, image.height, RGBAFormat, HalfFloatType);
    return t;
  });
  // Three counts a PMREM's levels as `mipmaps.length` (a render target lists its base level there), but uploads a
  // data cube's `mipmaps` as the levels after the base: so one more, smallest, level follows the roughest one
  // (the same radiance), and the shader's last level is still the roughest.
  const mipmaps = [];
  for (let lod = 1; lod <= maxLod + 1; lod++) mipmaps.push({ image: level(lod, Math.min(lod, maxLod)).map((image) => ({ image })) });
  const cube = new CubeTexture(faces as unknown as HTMLImageElement[]);
  cube.mipmaps = mipmaps as unknown as CubeTexture['mipmaps'];
  (cube as unknown as { isPMREMTexture: boolean }).isPMREMTexture = true;
  cube.format = RGBAFormat;
  cube.type = HalfFloatType;
  cube.colorSpace = LinearSRGBColorSpace;
  cube.magFilter = LinearFilter;
  cube.minFilter = LinearMipmapLinearFilter;
  cube.generateMipmaps = false;
  cube.flipY = false;
  cube.name = 'tessera.studio-environment';
  cube.needsUpdate = true;
  return cube;
}

/**
 * Build the cubeUV atlas (RGBA float, rows bottom-up as GL expects) for the studio environment, as three 0.162's
 * PMREMGenerator lays it out.
 */
export function createStudioAtlas(options: Partial<StudioEnvironmentOptions> = {}): DataTexture {
  const opts = { ...STUDIO_ENVIRONMENT_DEFAULTS, ...options };
  const cubeSize = 2 ** opts.lodMax;
  const width = 3 * Math.max(cubeSize, 16 * 7);
  const height = 4 * cubeSize;
  const data = new Float32Array(width * height * 4);
  const dir = new Float64Array(3);
  const rgb = new Float64Array(3);

  for (const level of cubeUVLevels(opts.lodMax)) {
    const radiance = studioRadiance(opts, level.sigma);
    const s = level.size;
    for (let face = 0; face < 6; face++) {
      const ox = level.x + (face % 3) * s;
      const oy = level.y + (face > 2 ? s : 0);
      for (let j = 0; j < s; j++) {
        for (let i = 0; i < s; i++) {
          // Texel centers map to face uv (i − 0.5)/(s − 2): a one-texel gutter around every face.
          faceDirection((i - 0.5) / (s - 2), (j - 0.5) / (s - 2), face, dir);
          radiance(dir[0], dir[1], dir[2], rgb);
          const p = ((oy + j) * width + ox + i) * 4;
          data[p] = rgb[0];
          data[p + 1] = rgb[1];
          data[p + 2] = rgb[2];
          data[p + 3] = 1;
        }
      }
    }
  }

  const texture = new DataTexture(data, width, height, RGBAFormat, FloatType);
  texture.mapping = CUBE_UV_REFLECTION_MAPPING as DataTexture['mapping'];
  texture.colorSpace = LinearSRGBColorSpace;
  texture.magFilter = LinearFilter;
  texture.minFilter = LinearFilter;
  texture.generateMipmaps = false;
  texture.flipY = false;
  texture.name = 'tessera.studio-environment';
  texture.needsUpdate = true;
  return texture;
}
