import { CubeUVReflectionMapping, DataTexture, FloatType, LinearFilter, LinearSRGBColorSpace, RGBAFormat } from 'three';

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
 * Build the cubeUV atlas (RGBA float, rows bottom-up as GL expects) for the studio environment,
 * ready to use as `scene.environment` / `scene.background`.
 */
export function createStudioEnvironment(options: Partial<StudioEnvironmentOptions> = {}): DataTexture {
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
  texture.mapping = CubeUVReflectionMapping;
  texture.colorSpace = LinearSRGBColorSpace;
  texture.magFilter = LinearFilter;
  texture.minFilter = LinearFilter;
  texture.generateMipmaps = false;
  texture.flipY = false;
  texture.name = 'tessera.studio-environment';
  texture.needsUpdate = true;
  return texture;
}
