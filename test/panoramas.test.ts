import { CubeTexture, DataTexture, LinearFilter, LinearSRGBColorSpace, NoToneMapping, PerspectiveCamera, RGBAFormat, Scene } from 'three';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionSizeProblem } from '../api/protocol/projection.ts';
import { normalizeJobRequest, JobRequest } from '../api/protocol/job-spec.ts';
import { ViewSpec, type ViewSpecInput } from '../api/protocol/render-spec.ts';
import { stitchTiles } from '../render-node/output/stitch-tiles.ts';
import { cubeFaceDirection, majorFace, odsBands, odsSourcesFor } from '../render-node/render/projection-sources.ts';
import { tileGrid } from '../api/protocol/tile-grid.ts';
import type { RawImage } from '../render-node/render/frame-renderer.ts';
import { createTestRenderer } from './support/renderer.ts';

// The textured sample: a checkered sphere of radius 1 at (-1.2, 0, 0) and a 1.4 m cube at (1.6, 0, 0).
const SPHERE: [number, number, number] = [-1.2, 0, 0];

let t: Awaited<ReturnType<typeof createTestRenderer>>;
beforeAll(async () => {
  t = await createTestRenderer();
});
afterAll(() => t?.dispose());

const render = (view: ViewSpecInput, tile?: { x: number; y: number; width: number; height: number }) => t.render('textured-pbr', view, 0, tile);
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** Straight-alpha sRGB value of channel c at (x, y). */
const at = (img: RawImage, x: number, y: number, c: number) => img.data[(y * img.width + x) * 4 + c];

/** Bilinear sample of an equirect image at a direction (wrapping in longitude), channel c. */
function sampleEquirect(img: RawImage, d: number[], c: number): number {
  const theta = Math.atan2(d[0], -d[2]);
  const phi = Math.asin(Math.max(-1, Math.min(1, d[1])));
  const X = (theta / (2 * Math.PI) + 0.5) * img.width - 0.5;
  const Y = (0.5 - phi / Math.PI) * img.height - 0.5;
  const x0 = Math.floor(X);
  const y0 = Math.max(0, Math.min(img.height - 2, Math.floor(Y)));
  const fx = X - x0;
  const fy = Math.max(0, Math.min(1, Y - y0));
  const wrap = (x: number) => ((x % img.width) + img.width) % img.width;
  const v = (x: number, y: number) => at(img, wrap(x), y, c);
  return (v(x0, y0) * (1 - fx) + v(x0 + 1, y0) * fx) * (1 - fy) + (v(x0, y0 + 1) * (1 - fx) + v(x0 + 1, y0 + 1) * fx) * fy;
}

/** Centroid column of the opaque pixels of rows [y0, y1) and columns [x0, x1). */
function opaqueCentroid(img: RawImage, x0: number, x1: number, y0: number, y1: number): { x: number; count: number } {
  let sum = 0;
  let count = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      if (at(img, x, y, 3) > 128) {
        sum += x;
        count++;
      }
    }
  }
  return { x: sum / count, count };
}

/** Mean absolute difference per channel between two same-size images (optionally `b` rolled by `roll` columns). */
function meanDiff(a: RawImage, b: RawImage, roll = 0): { mean: number; p99: number } {
  const diffs: number[] = [];
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const xb = (x + roll + b.width) % b.width;
      for (let c = 0; c < 3; c++) diffs.push(Math.abs(at(a, x, y, c) - at(b, xb, y, c)));
    }
  }
  diffs.sort((p, q) => p - q);
  return { mean: diffs.reduce((s, v) => s + v, 0) / diffs.length, p99: diffs[Math.floor(diffs.length * 0.99)] };
}

describe('projections are bounded', () => {
  it('refuses sizes that do not suit the projection, and out-of-range ipd', () => {
    expect(projectionSizeProblem('equirect', 1000, 400, 1)).toMatch(/2:1/);
    expect(projectionSizeProblem('equirect', 1024, 512, 1)).toBeNull();
    expect(projectionSizeProblem('equirect-stereo', 1024, 512, 1)).toMatch(/1:1/);
    expect(projectionSizeProblem('equirect-stereo', 1024, 1024, 1)).toBeNull();
    expect(projectionSizeProblem('equirect', 16384, 8192, 1)).toMatch(/8192/);
    expect(projectionSizeProblem('equirect', 8192, 4096, 4)).toMatch(/samples/);
    expect(projectionSizeProblem('stereo', 1001, 500, 1)).toMatch(/even/);
    expect(projectionSizeProblem('cube', 600, 100, 1)).toBeNull();
    expect(projectionSizeProblem('cube', 600, 128, 1)).toMatch(/6 ×/);
    expect(projectionSizeProblem('cube', 6 * 4096, 4096, 1)).toMatch(/at most/);
    expect(() => ViewSpec.parse({ width: 1000, height: 400, projection: 'equirect' })).toThrow(/2:1/);
    expect(() => ViewSpec.parse({ width: 512, height: 512, projection: 'stereo', ipd: -0.1 })).toThrow(/ipd/);
    expect(() => ViewSpec.parse({ width: 512, height: 512, projection: 'stereo', ipd: 2 })).toThrow(/ipd/);
    expect(() => ViewSpec.parse({ width: 512, height: 256, projection: 'fisheye' })).toThrow();
    const job = (over: object) => normalizeJobRequest(JobRequest.parse({ sceneId: '0'.repeat(64), size: '1000x400', ...over }));
    expect(() => job({ projection: 'equirect' })).toThrow(RangeError);
    expect(job({ projection: 'equirect', size: '1000x500' }).width).toBe(1000);
    expect(() => JobRequest.parse({ sceneId: '0'.repeat(64), size: '512x512', projection: 'stereo', ipd: 5 })).toThrow();
  });
});

describe('projection maths', () => {
  it('omni-directional stereo: bands tile each eye, full ipd in the middle, none at the poles; slices cover every pixel once', () => {
    const bands = odsBands(1024);
    expect(bands[0].y0).toBe(0);
    expect(bands[bands.length - 1].y1).toBe(1024);
    for (let i = 1; i < bands.length; i++) expect(bands[i].y0).toBe(bands[i - 1].y1);
    expect(bands[0].taper).toBe(0);
    expect(bands[bands.length - 1].taper).toBe(0);
    expect(bands.find((b) => b.y0 <= 512 && b.y1 > 512)!.taper).toBe(1);
    const width = 200;
    const cover = new Uint8Array(width * width);
    for (const s of odsSourcesFor(width, 1, 0.064, { x: 0, y: 0, width, height: width })) {
      for (let y = s.rect.y; y < s.rect.y + s.rect.height; y++) for (let x = s.rect.x; x < s.rect.x + s.rect.width; x++) cover[y * width + x]++;
      expect(s.view.width).toBeGreaterThan(0);
      expect(s.view.height).toBeLessThanOrEqual(16384);
    }
    expect(cover.every((c) => c === 1)).toBe(true);
  });

  it('cube faces: the texels of each face lie on that face', () => {
    for (let face = 0; face < 6; face++) {
      for (const [i, j] of [[0, 0], [63, 0], [0, 63], [63, 63], [32, 17]]) expect(majorFace(...cubeFaceDirection(face, i, j, 64))).toBe(face);
    }
  });
});

describe('tiles of every projection stitch into the whole frame bit for bit', () => {
  const cases: [string, ViewSpecInput, number][] = [
    ['stereo, transparent, ssaa 2, a tile across the eyes', { width: 192, height: 96, projection: 'stereo', ssaa: 2, ipd: 0.3 }, 50],
    ['equirect, transparent, ssaa 2', { width: 256, height: 128, projection: 'equirect', ssaa: 2, camera: { kind: 'look', position: [0, 0.3, 2.5], target: [0, 0, 0] } }, 48],
    ['equirect, environment', { width: 200, height: 100, projection: 'equirect', background: 'environment' }, 64],
    ['equirect-stereo, transparent, ssaa 2', { width: 128, height: 128, projection: 'equirect-stereo', ssaa: 2, ipd: 0.3, camera: { kind: 'look', position: [0, 0.3, 2.5], target: [0, 0, 0] } }, 40],
    ['cube, environment, ssaa 2', { width: 288, height: 48, projection: 'cube', ssaa: 2, background: 'environment' }, 40],
  ];
  it.each(cases)('%s', async (_name, view, size) => {
    const v = ViewSpec.parse(view);
    const whole = await render(view);
    const parts = [];
    for (const tile of tileGrid(v.width, v.height, size)) parts.push({ x: tile.x, y: tile.y, image: await render(view, tile) });
    const stitched = await stitchTiles(v.width, v.height, parts);
    expect(same(stitched.data, whole.data)).toBe(true);
    // Not an empty picture: the scene is in it.
    expect(whole.data.some((b, i) => i % 4 === 3 && b === 255)).toBe(true);
  });
});

describe('equirect', () => {
  const eye: [number, number, number] = [0, 0.2, 2.5];

  it('is seamless at ±180°: turned around, it is the same panorama rolled by half a turn', async () => {
    // No key light: it follows the camera's heading, and this test turns the camera around.
    const view = { width: 512, height: 256, projection: 'equirect', background: 'environment', keyLight: false } as const;
    const front = await render({ ...view, camera: { kind: 'look', position: eye, target: [0, 0.2, 0] } });
    // Facing away, the sphere and the cube straddle the left and right edges.
    const back = await render({ ...view, camera: { kind: 'look', position: eye, target: [0, 0.2, 5] } });
    const d = meanDiff(front, back, 256);
    expect(d.mean).toBeLessThan(0.5);
    expect(d.p99).toBeLessThanOrEqual(3);
    // And the edges meet: the first and last columns differ no more than neighbouring columns do.
    let edge = 0;
    let inner = 0;
    for (let y = 0; y < 256; y++) {
      for (let c = 0; c < 3; c++) {
        edge += Math.abs(at(back, 0, y, c) - at(back, 511, y, c));
        inner += Math.abs(at(back, 1, y, c) - at(back, 0, y, c));
      }
    }
    expect(edge).toBeLessThanOrEqual(inner * 2 + 256);
  });

  it('is seamless at the poles: the top and bottom rows each look one way', async () => {
    const img = await render({ width: 512, height: 256, projection: 'equirect', background: 'environment', keyLight: false, camera: { kind: 'look', position: eye, target: [0, 0.2, 0] } });
    for (const y of [0, 255]) {
      for (let c = 0; c < 3; c++) {
        const row = Array.from({ length: 512 }, (_, x) => at(img, x, y, c));
        expect(Math.max(...row) - Math.min(...row), `row ${y} channel ${c}`).toBeLessThanOrEqual(2);
      }
    }
  });

  it('cube faces equal the equirect sampled in the same directions', async () => {
    // From above and to the side, so the scene reaches the -Y face (the bottom pole) and the side faces.
    const camera = { kind: 'look' as const, position: [0, 2.5, 1.5] as [number, number, number], target: [0.5, 2.5, 0] as [number, number, number] };
    const n = 128;
    const cube = await render({ width: 6 * n, height: n, projection: 'cube', background: 'environment', ssaa: 2, camera });
    const pano = await render({ width: 1024, height: 512, projection: 'equirect', background: 'environment', ssaa: 2, camera });
    for (let face = 0; face < 6; face++) {
      const diffs: number[] = [];
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < n; i++) {
          const d = cubeFaceDirection(face, i, j, n);
          for (let c = 0; c < 3; c++) diffs.push(Math.abs(at(cube, face * n + i, j, c) - sampleEquirect(pano, d, c)));
        }
      }
      diffs.sort((a, b) => a - b);
      const mean = diffs.reduce((s, v) => s + v, 0) / diffs.length;
      // Measured: mean 0.2–1.5 levels, p95 under 9 (the textured bottom face); the largest differences sit on edges.
      expect(mean, `face ${face} mean`).toBeLessThan(2);
      expect(diffs[Math.floor(diffs.length * 0.95)], `face ${face} p95`).toBeLessThan(10);
    }
  });
});

describe('stereo', () => {
  it('the eyes differ by the parallax of their distance: ipd × focal length / depth', async () => {
    // Looking straight at the sphere from 4 m: only the sphere is in view, centered.
    const ipd = 0.4;
    const size = 256;
    const img = await render({ width: 2 * size, height: size, projection: 'stereo', ipd, camera: { kind: 'look', position: [SPHERE[0], 0, 4], target: SPHERE, fov: 40 } });
    // The sphere's outline on the middle row, per eye: its edges are at f·tan(α ± β), α the center's angle and
    // β = asin(R / distance) the outline's half-angle, with the center at ∓ipd/2 to the side of each eye.
    const focal = size / 2 / Math.tan((20 * Math.PI) / 180);
    const middle = (side: number) => {
      const cx = (-side * ipd) / 2;
      const alpha = Math.atan2(cx, 4);
      const beta = Math.asin(1 / Math.hypot(cx, 4));
      return size / 2 + (focal * (Math.tan(alpha - beta) + Math.tan(alpha + beta))) / 2;
    };
    const measured = (x0: number) => {
      const row = Array.from({ length: size }, (_, x) => (at(img, x0 + x, size / 2, 3) + at(img, x0 + x, size / 2 - 1, 3)) / 2);
      const first = row.findIndex((a) => a > 128);
      const last = row.length - 1 - [...row].reverse().findIndex((a) => a > 128);
      return (first + last + 1) / 2;
    };
    const disparity = measured(0) - measured(size);
    const expected = middle(-1) - middle(1);
    // Parallel eyes: the left eye sees the sphere further right, by about ipd·f/Z (35 px here).
    expect(disparity).toBeGreaterThan(0);
    expect(Math.abs(disparity - expected)).toBeLessThanOrEqual(1);
    expect(Math.abs(disparity - (ipd * focal) / 4) / ((ipd * focal) / 4)).toBeLessThan(0.1);
    // ipd 0: the two eyes are the same picture.
    const mono = await render({ width: 2 * size, height: size, projection: 'stereo', ipd: 0, camera: { kind: 'look', position: [SPHERE[0], 0, 4], target: SPHERE, fov: 40 } });
    for (let y = 0; y < size; y++) {
      expect(same(mono.data.subarray(y * 2 * size * 4, (y * 2 * size + size) * 4), mono.data.subarray((y * 2 * size + size) * 4, (y + 1) * 2 * size * 4))).toBe(true);
    }
  });
});

describe('omni-directional stereo', () => {
  it('a near object sits further right in the left eye (top) than in the right eye (bottom), by 2·asin(ipd/2 / distance)', async () => {
    const width = 1024;
    const ipd = 0.3;
    const distance = 2.5;
    const img = await render({ width, height: width, projection: 'equirect-stereo', ipd, camera: { kind: 'look', position: [SPHERE[0], 0, distance], target: SPHERE } });
    // Columns within ±30° of straight ahead hold the sphere (23.6° in radius) and not the cube.
    const x0 = Math.round(width / 2 - width / 12);
    const x1 = Math.round(width / 2 + width / 12);
    const left = opaqueCentroid(img, x0, x1, 0, width / 2);
    const right = opaqueCentroid(img, x0, x1, width / 2, width);
    expect(left.count).toBeGreaterThan(1000);
    const disparity = left.x - right.x;
    const expected = ((2 * Math.asin(ipd / 2 / distance)) / (2 * Math.PI)) * width;
    expect(disparity).toBeGreaterThan(0);
    expect(Math.abs(disparity - expected) / expected).toBeLessThan(0.15);
    // The eye circle shrinks to nothing toward the poles: the rows nearest each pole are mono, the same in both eyes.
    const row = (y: number) => img.data.subarray(y * width * 4, (y + 1) * width * 4);
    expect(same(row(0), row(width / 2))).toBe(true);
    expect(same(row(width / 2 - 1), row(width - 1))).toBe(true);
    expect(same(row(width / 4), row(width / 2 + width / 4))).toBe(false);
  });
});

describe('cube faces as a cube map', () => {
  // Draw the cube strip as a scene background (a GL cube map) and compare with a perspective render from the
  // same eye: the faces' order and orientation are right exactly when the two agree.
  async function backgroundFromStrip(faces: DataTexture[], renderTarget: boolean, n: number, camera: PerspectiveCamera): Promise<Uint8Array> {
    const cube = new CubeTexture(faces);
    cube.isRenderTargetTexture = renderTarget;
    cube.format = RGBAFormat;
    cube.generateMipmaps = false;
    cube.minFilter = LinearFilter;
    cube.magFilter = LinearFilter;
    cube.needsUpdate = true;
    const r = t.renderer.renderer;
    const saved = { color: r.outputColorSpace, tone: r.toneMapping };
    try {
      // Pass the faces' sRGB bytes through untouched.
      r.outputColorSpace = LinearSRGBColorSpace;
      r.toneMapping = NoToneMapping;
      const scene = new Scene();
      scene.background = cube;
      t.renderer.backend.resize(n, n);
      r.setSize(n, n, false);
      r.setScissorTest(false);
      r.render(scene, camera);
      return t.renderer.backend.readPixels(0, 0, n, n).slice();
    } finally {
      r.outputColorSpace = saved.color;
      r.toneMapping = saved.tone;
      cube.dispose();
    }
  }

  it('in GL order and orientation (XRCubeLayer; three.js render-target cube maps), and for a three.js CubeTexture mirrored with ±X swapped', async () => {
    const eyePos: [number, number, number] = [0, 0.5, 3];
    const target: [number, number, number] = [-0.8, 0.1, 0];
    const face = 256;
    const strip = await render({ width: 6 * face, height: face, projection: 'cube', background: 'environment', keyLight: false, camera: { kind: 'look', position: eyePos, target: [0, 0.5, 2] } });
    const n = 192;
    const view = await render({ width: n, height: n, background: 'environment', keyLight: false, camera: { kind: 'look', position: eyePos, target, fov: 60 } });
    const camera = new PerspectiveCamera(60, 1, 0.01, 100);
    camera.position.set(...eyePos);
    camera.lookAt(...target);
    camera.updateMatrixWorld(true);
    const faceTexture = (k: number, mirrored: boolean) => {
      const data = new Uint8Array(face * face * 4);
      for (let y = 0; y < face; y++) {
        for (let x = 0; x < face; x++) {
          const sx = mirrored ? face - 1 - x : x;
          data.set(strip.data.subarray((y * 6 * face + k * face + sx) * 4, (y * 6 * face + k * face + sx) * 4 + 4), (y * face + x) * 4);
        }
      }
      const tex = new DataTexture(data, face, face, RGBAFormat);
      return tex;
    };
    const compare = (pixels: Uint8Array) => {
      const diffs: number[] = [];
      for (let i = 0; i < n * n * 4; i++) if (i % 4 !== 3) diffs.push(Math.abs(pixels[i] - view.data[i]));
      diffs.sort((a, b) => a - b);
      return { mean: diffs.reduce((s, v) => s + v, 0) / diffs.length, p95: diffs[Math.floor(diffs.length * 0.95)] };
    };
    // GL convention, sampled the GL way (three does so for render-target cube textures).
    const gl = compare(await backgroundFromStrip([0, 1, 2, 3, 4, 5].map((k) => faceTexture(k, false)), true, n, camera));
    expect(gl.mean).toBeLessThan(3);
    expect(gl.p95).toBeLessThan(12);
    // three.js image CubeTexture (x mirrored when sampled): mirror each face and swap +X and -X.
    const three = compare(await backgroundFromStrip([1, 0, 2, 3, 4, 5].map((k) => faceTexture(k, true)), false, n, camera));
    expect(three.mean).toBeLessThan(3);
    expect(three.p95).toBeLessThan(12);
    // The strip used as it is in an image CubeTexture shows a mirrored world: the check can fail.
    const wrong = compare(await backgroundFromStrip([0, 1, 2, 3, 4, 5].map((k) => faceTexture(k, false)), false, n, camera));
    // Measured: 1.8 levels for both right ways, 41 for the wrong one.
    expect(wrong.mean).toBeGreaterThan(gl.mean * 3);
  });
});
