/**
 * The KHR_materials_* samples (scenes/materials.glb, one glTF scene per extension): each scene shows the same
 * sphere without (left half of the frame) and with (right half) the extension, and each check is the look the
 * extension must add, as scenes/README.md describes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawImage } from '../render-node/render/frame-renderer.ts';
import { OUTPUT_DIR, savePng } from './support/pictures.ts';
import { createTestRenderer } from './support/renderer.ts';

let t: Awaited<ReturnType<typeof createTestRenderer>>;
beforeAll(async () => {
  t = await createTestRenderer();
});
afterAll(() => t?.dispose());

interface Half {
  /** Pixels of the sphere (not background). */
  count: number;
  meanLuma: number;
  maxLuma: number;
  /** Mean luma of the sphere's outer ring (grazing angles). */
  rimLuma: number;
  /** Mean per-pixel chroma (max − min channel). */
  chroma: number;
  /** Spread of hue-ish direction: std of (r − b) over the sphere. */
  hueSpread: number;
}

const luma = (r: number, g: number, b: number) => 0.2126 * r + 0.7152 * g + 0.0722 * b;

/** Statistics of the sphere in the left or right half of a transparent-background render. */
function half(img: RawImage, side: 'left' | 'right'): Half {
  const x0 = side === 'left' ? 0 : img.width / 2;
  let count = 0, sum = 0, max = 0, chroma = 0, sx = 0, sy = 0;
  const rb: number[] = [];
  for (let y = 0; y < img.height; y++) for (let x = x0; x < x0 + img.width / 2; x++) {
    const p = (y * img.width + x) * 4;
    if (img.data[p + 3] < 250) continue;
    const [r, g, b] = [img.data[p], img.data[p + 1], img.data[p + 2]];
    const l = luma(r, g, b);
    count++; sum += l; max = Math.max(max, l); chroma += Math.max(r, g, b) - Math.min(r, g, b); sx += x; sy += y;
    rb.push(r - b);
  }
  const cx = sx / count, cy = sy / count, radius = Math.sqrt(count / Math.PI);
  let rim = 0, rimN = 0;
  for (let y = 0; y < img.height; y++) for (let x = x0; x < x0 + img.width / 2; x++) {
    const p = (y * img.width + x) * 4;
    if (img.data[p + 3] < 250) continue;
    const d = Math.hypot(x - cx, y - cy);
    if (d > radius * 0.85) { rim += luma(img.data[p], img.data[p + 1], img.data[p + 2]); rimN++; }
  }
  const mean = rb.reduce((a, b) => a + b, 0) / rb.length;
  const spread = Math.sqrt(rb.reduce((a, b) => a + (b - mean) ** 2, 0) / rb.length);
  return { count, meanLuma: sum / count, maxLuma: max, rimLuma: rim / rimN, chroma: chroma / count, hueSpread: spread };
}

/** Shape of the highlight: spread (standard deviation, pixels) in x and y of the pixels within 10 luma of the brightest. */
function highlight(img: RawImage, side: 'left' | 'right'): { sdX: number; sdY: number; count: number } {
  const x0 = side === 'left' ? 0 : img.width / 2;
  const opaque: [number, number, number][] = [];
  for (let y = 0; y < img.height; y++) for (let x = x0; x < x0 + img.width / 2; x++) {
    const p = (y * img.width + x) * 4;
    if (img.data[p + 3] >= 250) opaque.push([x, y, luma(img.data[p], img.data[p + 1], img.data[p + 2])]);
  }
  const max = Math.max(...opaque.map(([, , l]) => l));
  const bright = opaque.filter(([, , l]) => l >= max - 10);
  const sd = (values: number[]) => {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  };
  return { sdX: sd(bright.map(([x]) => x)), sdY: sd(bright.map(([, y]) => y)), count: bright.length };
}

async function pair(scene: string): Promise<{ without: Half; with: Half; img: RawImage }> {
  const img = await t.render('materials', { width: 320, height: 160, ssaa: 2, background: 'transparent', scene, camera: { kind: 'auto', yaw: 0, pitch: 10, fov: 40 } });
  await savePng(img, `${OUTPUT_DIR}/materials-${scene}.png`);
  const result = { without: half(img, 'left'), with: half(img, 'right'), img };
  // Both spheres are in view, the same size.
  expect(result.without.count).toBeGreaterThan(3000);
  expect(Math.abs(result.with.count - result.without.count)).toBeLessThan(result.without.count * 0.05);
  return result;
}

describe('KHR_materials_* look (scenes/materials.glb)', () => {
  it('clearcoat adds a sharp highlight the rough base lacks', async () => {
    const p = await pair('clearcoat');
    expect(p.with.maxLuma).toBeGreaterThan(p.without.maxLuma + 40);
  });

  it('sheen brightens grazing edges of dark velvet', async () => {
    const p = await pair('sheen');
    expect(p.with.rimLuma).toBeGreaterThan(p.without.rimLuma + 15);
  });

  it('specularFactor 0 removes the highlight', async () => {
    const p = await pair('specular');
    expect(p.with.maxLuma).toBeLessThan(p.without.maxLuma - 40);
  });

  it('a higher ior reflects more: brighter overall and at the edges', async () => {
    const p = await pair('ior');
    // (Both peak highlights clip at white, so compare the reflection everywhere else.)
    expect(p.with.meanLuma).toBeGreaterThan(p.without.meanLuma + 5);
    expect(p.with.rimLuma).toBeGreaterThan(p.without.rimLuma + 8);
  });

  it('iridescence tints the grey sphere with angle-dependent hues', async () => {
    const p = await pair('iridescence');
    expect(p.with.chroma).toBeGreaterThan(p.without.chroma + 8);
    expect(p.with.hueSpread).toBeGreaterThan(p.without.hueSpread + 4);
  });

  it('emissive_strength 4 glows brighter than 1', async () => {
    const p = await pair('emissive-strength');
    expect(p.with.meanLuma).toBeGreaterThan(p.without.meanLuma + 30);
  });

  it('anisotropy stretches the highlight into a streak along the tangent (east, so horizontal)', async () => {
    const { img } = await pair('anisotropy');
    const round = highlight(img, 'left');
    const streak = highlight(img, 'right');
    expect(round.count).toBeGreaterThan(100);
    expect(streak.count).toBeGreaterThan(100);
    // Isotropic: a spot about as tall as wide (measured 0.7). Anisotropic: several times wider than tall (measured 4.0).
    expect(round.sdX / round.sdY).toBeLessThan(1.5);
    expect(streak.sdX / streak.sdY).toBeGreaterThan(2.5);
  });
});
