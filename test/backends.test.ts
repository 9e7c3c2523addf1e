/**
 * The two GL backends behind `tessera render --local --backend`: headless-gl (WebGL 1, in process) and headless
 * Chromium (WebGL 2 on llvmpipe through ANGLE/EGL, the same bundled pipeline as the /join tab).
 * - scenes/transmission.glb: with Chromium the coloured bars show THROUGH the glass ball (bar colours inside
 *   its disc, magnified by the lens and tinted by the volume); with headless-gl transmission is dropped (a
 *   warning) and the disc is an opaque, unsaturated glossy ball. Outside the ball both backends draw the same bars.
 * - Tiles from the Chromium backend stitch into the whole frame bit for bit.
 * - A scene without WebGL 2 features (textured-pbr.glb) renders within the verifier's pixel tolerance on both.
 * - The renderer identity names the backend; `auto` picks Chromium only for WebGL 2 scenes.
 * - Features of other models (many morph targets, colour targets, WebP, EXIF orientation) draw the same on both.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pixelmatch from 'pixelmatch';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DIFF_RATIO } from '../api/core/verification-policy.ts';
import { ViewSpec, type ViewSpecInput } from '../api/protocol/render-spec.ts';
import { tileGrid } from '../api/protocol/tile-grid.ts';
import { chooseBackend } from '../render-node/chromium/choose-backend.ts';
import { chromiumUnavailable } from '../render-node/chromium/chromium-render-host.ts';
import { startSceneRenderer } from '../render-node/local-render.ts';
import { decodeRaw } from '../render-node/output/stitch-tiles.ts';
import type { RawImage, RenderResult } from '../render-node/render/frame-renderer.ts';
import type { SceneHandle, SceneRenderer } from '../render-node/render/scene-renderer.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { blueish, greenish, OUTPUT_DIR, pixel, reddish, savePng, yellowish } from './support/pictures.ts';
import { BROWSER_THREE_REVISION, ensureRenderHostBuilt } from './support/render-host.ts';
import { scenePath } from './support/renderer.ts';
import { COVERAGE_SIZE, COVERAGE_VIEW, coverageGlb, coveragePixel } from './support/gltf-coverage-scene.ts';
import { tessera } from './support/tessera-cli.ts';

const SIZE = 256;
/** The ball (radius 1) seen from 6 units with a 40° vertical field of view: its disc's radius in pixels. */
const DISC_RADIUS = (Math.tan(Math.asin(1 / 6)) / Math.tan((20 * Math.PI) / 180)) * (SIZE / 2);
const GLASS_VIEW: ViewSpecInput = { width: SIZE, height: SIZE, camera: { kind: 'gltf', name: 'front' }, background: '#808080' };

const HUES = { red: reddish, green: greenish, blue: blueish, yellow: yellowish };
const BAR_HUES = ['red', 'green', 'blue', 'yellow'];

/**
 * Pixels between radii `r0` and `r1` of the frame's centre that show a bar hue: the mean colour of each hue.
 */
function barColours(img: RawImage, r0: number, r1: number) {
  const sums: Record<string, [number, number, number, number]> = Object.fromEntries(BAR_HUES.map((h) => [h, [0, 0, 0, 0]]));
  const c = img.width / 2;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const d = Math.hypot(x + 0.5 - c, y + 0.5 - c);
      if (d < r0 || d > r1) continue;
      const p = (y * img.width + x) * 4;
      const [r, g, b, a] = [img.data[p], img.data[p + 1], img.data[p + 2], img.data[p + 3]];
      const hue = BAR_HUES.find((h) => HUES[h as keyof typeof HUES](r, g, b, a));
      if (!hue) continue;
      const s = sums[hue];
      s[0] += r; s[1] += g; s[2] += b; s[3]++;
    }
  }
  return Object.fromEntries(Object.entries(sums).map(([h, s]) => [h, s[3] ? [s[0] / s[3], s[1] / s[3], s[2] / s[3]] : null])) as Record<string, [number, number, number] | null>;
}

/** Mean length in pixels of the runs of one bar hue along row `y` between columns `x0` and `x1` (runs cut by the ends count too). */
function meanRun(img: RawImage, y: number, x0: number, x1: number): number {
  const runs: number[] = [];
  let hue: string | undefined;
  let len = 0;
  for (let x = Math.round(x0); x < Math.round(x1); x++) {
    const p = (y * img.width + x) * 4;
    const h = BAR_HUES.find((k) => HUES[k as keyof typeof HUES](img.data[p], img.data[p + 1], img.data[p + 2], img.data[p + 3]));
    if (h === hue) len++;
    else {
      if (hue && len) runs.push(len);
      hue = h;
      len = 1;
    }
  }
  if (hue && len) runs.push(len);
  return runs.reduce((a, b) => a + b, 0) / Math.max(1, runs.length);
}

/** Statistics of the pixels within `radius` of the frame's centre: share of each bar hue and mean chroma. */
function disc(img: RawImage, radius: number) {
  const share: Record<string, number> = { red: 0, green: 0, blue: 0, yellow: 0 };
  let n = 0;
  let chroma = 0;
  const c = img.width / 2;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (Math.hypot(x + 0.5 - c, y + 0.5 - c) > radius) continue;
      const p = (y * img.width + x) * 4;
      const [r, g, b, a] = [img.data[p], img.data[p + 1], img.data[p + 2], img.data[p + 3]];
      n++;
      chroma += Math.max(r, g, b) - Math.min(r, g, b);
      for (const [name, test] of Object.entries(HUES)) if (test(r, g, b, a)) share[name]++;
    }
  }
  for (const k of Object.keys(share)) share[k] /= n;
  return { share, chroma: chroma / n, hues: Object.values(share).filter((s) => s >= 0.01).length };
}


describe('GL backends: headless-gl (WebGL 1) and Chromium (WebGL 2)', () => {
  const r: Record<'chromium' | 'headless-gl', SceneRenderer> = {} as never;
  const scenes = new Map<string, SceneHandle>();
  const load = async (backend: 'chromium' | 'headless-gl', name: string) => {
    const key = `${backend}:${name}`;
    if (!scenes.has(key)) scenes.set(key, await r[backend].load((await readScene({ path: scenePath(name) })).glb, { maxTexturePixels: 64 << 20 }));
    return scenes.get(key)!;
  };
  const render = async (backend: 'chromium' | 'headless-gl', name: string, view: ViewSpecInput, tile?: { x: number; y: number; width: number; height: number }): Promise<RenderResult> =>
    r[backend].render(await load(backend, name), ViewSpec.parse(view), 0, tile);

  beforeAll(async () => {
    ensureRenderHostBuilt();
    const why = chromiumUnavailable();
    if (why) throw new Error(`these tests need Chromium: ${why}`);
    r.chromium = await startSceneRenderer('chromium');
    r['headless-gl'] = await startSceneRenderer('headless-gl');
  }, 180_000);
  afterAll(async () => {
    await r.chromium?.dispose();
    await r['headless-gl']?.dispose();
  });

  it('the identities name the backend: Chromium is WebGL 2, headless-gl WebGL 1', () => {
    expect(r.chromium.info.webgl2).toBe(true);
    expect(r.chromium.info.backend).toBe('chromium');
    // Mesa's llvmpipe through ANGLE's EGL backend (with --disable-gpu Chromium would fall back to SwiftShader).
    expect(r.chromium.info.renderer).toMatch(/llvmpipe/);
    // The pages run the current three (three-latest); headless-gl keeps three 0.162 (WebGL 1).
    expect(Number(BROWSER_THREE_REVISION)).toBeGreaterThan(162);
    expect(r.chromium.version).toMatch(new RegExp(`^tessera-render/\\S+ three/${BROWSER_THREE_REVISION} chromium/.+ sharp/\\S+$`));
    expect(r['headless-gl'].info.webgl2).toBe(false);
    expect(r['headless-gl'].version).toMatch(/^tessera-render\/\S+ three\/0\.162\.\d+ headless-gl\/\S+ sharp\/\S+$/);
    expect(r.chromium.version).not.toBe(r['headless-gl'].version);
  });

  it('transmission: the bars show through the glass ball on Chromium; headless-gl renders it opaque, with a warning', async () => {
    const glass = await render('chromium', 'transmission', GLASS_VIEW);
    const opaque = await render('headless-gl', 'transmission', GLASS_VIEW);
    await savePng(glass, join(OUTPUT_DIR, 'backends-transmission-chromium.png'));
    await savePng(opaque, join(OUTPUT_DIR, 'backends-transmission-headless-gl.png'));
    expect((await load('chromium', 'transmission')).warnings).toEqual([]);
    expect((await load('headless-gl', 'transmission')).warnings.join('\n')).toMatch(/glass.*KHR_materials_transmission needs WebGL 2/);
    const inner = DISC_RADIUS * 0.7;
    const seen = disc(glass, inner);
    const flat = disc(opaque, inner);
    console.info(`transmission disc (r=${inner.toFixed(0)} px): chromium hues ${JSON.stringify(seen.share)} chroma ${seen.chroma.toFixed(1)}; headless-gl hues ${JSON.stringify(flat.share)} chroma ${flat.chroma.toFixed(1)}`);
    // Through the glass: bar colours (two or more), saturated on average.
    expect(seen.hues).toBeGreaterThanOrEqual(2);
    expect(seen.chroma).toBeGreaterThan(60);
    // Opaque fallback: no bar colour inside the disc, nearly grey.
    expect(flat.hues).toBe(0);
    expect(flat.chroma).toBeLessThan(seen.chroma / 3);
    // Refracted: the ball is a lens that magnifies the bars behind it: along the middle row, a bar seen through
    // the ball is at least 1.8 times as wide as the same bars seen beside it (three's thickness model, as in the
    // Khronos Sample Viewer). Tinted: the cyan volume absorbs red and some green, so bars seen through the glass
    // keep less of their green than of their blue.
    const c = SIZE / 2;
    const throughRun = meanRun(glass, c, c - inner, c + inner);
    const besideRun = (meanRun(glass, c, 0, c - DISC_RADIUS * 1.1) + meanRun(glass, c, c + DISC_RADIUS * 1.1, SIZE)) / 2;
    const through = barColours(glass, 0, inner);
    const beside = barColours(glass, DISC_RADIUS * 1.25, SIZE / 2);
    console.info(`transmission: bar width through the ball ${throughRun.toFixed(1)} px, beside it ${besideRun.toFixed(1)} px; bar colours through ${JSON.stringify(through)}, beside ${JSON.stringify(beside)}`);
    expect(throughRun).toBeGreaterThan(besideRun * 1.8);
    // The central bars behind the ball are green and blue: the cyan attenuation (0.4, 0.8, 1) dims green, not blue.
    const greenKept = through.green![1] / beside.green![1];
    const blueKept = through.blue![2] / beside.blue![2];
    expect(greenKept).toBeLessThan(0.95);
    expect(greenKept).toBeLessThan(blueKept - 0.05);
    // Outside the ball (a ring beyond its edge) both backends draw the same unlit bars.
    const ringDiff = ringDifference(glass, opaque, DISC_RADIUS * 1.25, SIZE / 2);
    expect(ringDiff).toBeLessThan(0.01);
  }, 120_000);

  it('Chromium tiles stitch into the whole frame bit for bit', async () => {
    const view = { ...GLASS_VIEW, width: 160, height: 120 };
    const whole = await render('chromium', 'transmission', view);
    const stitched = new Uint8Array(whole.data.length);
    for (const tile of tileGrid(160, 120, 48)) {
      const part = await render('chromium', 'transmission', view, tile);
      for (let row = 0; row < tile.height; row++) stitched.set(part.data.subarray(row * tile.width * 4, (row + 1) * tile.width * 4), ((tile.y + row) * 160 + tile.x) * 4);
    }
    expect(tileGrid(160, 120, 48).length).toBeGreaterThan(4);
    expect(Buffer.from(stitched).equals(Buffer.from(whole.data))).toBe(true);
  }, 120_000);

  it('KTX2 (KHR_texture_basisu): the page transcodes with three\'s Basis transcoder; scenes/ktx2.glb on Chromium is within 1% of headless-gl', async () => {
    const view = { width: 160, height: 100, background: '#303540', camera: { kind: 'auto' as const, yaw: 30, pitch: 20 } };
    const a = await render('chromium', 'ktx2', view);
    const b = await render('headless-gl', 'ktx2', view);
    await savePng(a, join(OUTPUT_DIR, 'backends-ktx2-chromium.png'));
    expect((await load('chromium', 'ktx2')).warnings).toEqual([]);
    const pixels = 160 * 100;
    const differing = pixelmatch(a.data, b.data, new Uint8Array(a.data.length), 160, 100, { threshold: 0.1, includeAA: false });
    console.info(`ktx2: chromium vs headless-gl: ${differing}/${pixels} pixels differ (pixelmatch 0.1)`);
    expect(differing / pixels).toBeLessThanOrEqual(0.01);
    // Not a blank frame: the textured objects cover much of it (the background is #303540).
    let scene = 0;
    for (let p = 0; p < pixels; p++) if (Math.abs(a.data[p * 4] - 0x30) + Math.abs(a.data[p * 4 + 1] - 0x35) + Math.abs(a.data[p * 4 + 2] - 0x40) > 30) scene++;
    expect(scene).toBeGreaterThan(pixels / 10);
  }, 120_000);

  it('a scene without WebGL 2 features renders within the verifier tolerance on both backends', async () => {
    const view = { width: 160, height: 120, background: '#20242c' };
    const a = await render('chromium', 'textured-pbr', view);
    const b = await render('headless-gl', 'textured-pbr', view);
    await savePng(a, join(OUTPUT_DIR, 'backends-textured-pbr-chromium.png'));
    const pixels = 160 * 120;
    const differing = pixelmatch(a.data, b.data, new Uint8Array(a.data.length), 160, 120, { threshold: 0.1, includeAA: false });
    let sum = 0;
    for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
    console.info(`textured-pbr: chromium vs headless-gl: ${differing}/${pixels} pixels differ (pixelmatch 0.1), channel delta mean ${(sum / a.data.length).toFixed(3)}`);
    expect(differing / pixels).toBeLessThanOrEqual(MAX_DIFF_RATIO);
    expect(sum / a.data.length).toBeLessThan(1);
    // The studio environment as the background too: three r187 draws it from the mipmapped cube (three-compat.ts),
    // r162 from the cube-UV atlas; the same sky either way.
    const sky = { width: 160, height: 120, background: 'environment' as const };
    const c = await render('chromium', 'textured-pbr', sky);
    const d = await render('headless-gl', 'textured-pbr', sky);
    const skyDiffering = pixelmatch(c.data, d.data, new Uint8Array(c.data.length), 160, 120, { threshold: 0.1, includeAA: false });
    console.info(`textured-pbr, environment background: chromium vs headless-gl: ${skyDiffering}/${pixels} pixels differ (pixelmatch 0.1)`);
    expect(skyDiffering / pixels).toBeLessThanOrEqual(MAX_DIFF_RATIO);
  }, 120_000);

  it('glTF features of other models (test/support/gltf-coverage-scene.ts) draw the same on both backends', async () => {
    // 16 morph targets, 6 with normals, a COLOR_0 target (three r187 threw on it), WebP, an EXIF-oriented JPEG;
    // frame 12 is halfway through the weight animation. test/gltf-coverage.test.ts checks the picture itself.
    const glb = (await readScene({ bytes: await coverageGlb(), name: 'coverage.glb' })).glb;
    const pixels = COVERAGE_SIZE * COVERAGE_SIZE;
    const handles = { chromium: await r.chromium.load(glb, { maxTexturePixels: 1 << 20 }), 'headless-gl': await r['headless-gl'].load(glb, { maxTexturePixels: 1 << 20 }) };
    for (const frame of [0, 12]) {
      const a = await r.chromium.render(handles.chromium, COVERAGE_VIEW, frame);
      const b = await r['headless-gl'].render(handles['headless-gl'], COVERAGE_VIEW, frame);
      await savePng(a, join(OUTPUT_DIR, `backends-coverage-f${frame}-chromium.png`));
      // The EXIF JPEG is upscaled (12×24 upright to 16×32), by Lanczos-3 (sharp) or Chromium's own filter: its colour
      // edges differ by a few pixels, so that square is checked by colour, and blanked for the comparison.
      const [jx0, jy0] = coveragePixel(0, -1.6);
      const [jx1, jy1] = coveragePixel(2, -3.6);
      expect(near(pixel(a, ...coveragePixel(0.5, -2.6)), [0, 0, 255])).toBe(true);
      expect(near(pixel(a, ...coveragePixel(1.5, -2.1)), [255, 0, 0])).toBe(true);
      expect(near(pixel(a, ...coveragePixel(1.5, -3.1)), [0, 255, 0])).toBe(true);
      for (const img of [a, b]) for (let y = jy0; y < jy1; y++) img.data.fill(0, (y * COVERAGE_SIZE + jx0) * 4, (y * COVERAGE_SIZE + jx1) * 4);
      const differing = pixelmatch(a.data, b.data, new Uint8Array(a.data.length), COVERAGE_SIZE, COVERAGE_SIZE, { threshold: 0.1, includeAA: false });
      console.info(`coverage frame ${frame}: chromium vs headless-gl: ${differing}/${pixels} pixels differ (pixelmatch 0.1)`);
      expect(differing / pixels).toBeLessThanOrEqual(MAX_DIFF_RATIO);
    }
    expect(handles.chromium.warnings).toEqual([]);
    expect(handles['headless-gl'].warnings).toEqual([]);
  }, 120_000);
});

/** Whether the RGB of `rgba` is within 40 of `want` in every channel. */
const near = (rgba: number[], want: number[]) => want.every((v, i) => Math.abs(rgba[i] - v) <= 40);

/** Share of pixels in the ring from `r0` to `r1` around the centre whose colours differ by more than 24 in a channel. */
function ringDifference(a: RawImage, b: RawImage, r0: number, r1: number): number {
  let n = 0;
  let off = 0;
  const c = a.width / 2;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const d = Math.hypot(x + 0.5 - c, y + 0.5 - c);
      if (d < r0 || d > r1) continue;
      const p = (y * a.width + x) * 4;
      n++;
      if (Math.max(Math.abs(a.data[p] - b.data[p]), Math.abs(a.data[p + 1] - b.data[p + 1]), Math.abs(a.data[p + 2] - b.data[p + 2])) > 24) off++;
    }
  }
  return off / n;
}

describe('choosing a backend', () => {
  it('auto takes Chromium only for scenes that need WebGL 2, and falls back with a warning', () => {
    expect(chooseBackend('auto', ['KHR_materials_clearcoat'], null)).toEqual({ backend: 'headless-gl' });
    expect(chooseBackend('auto', ['KHR_materials_transmission'], null)).toEqual({ backend: 'chromium' });
    expect(chooseBackend('auto', ['KHR_materials_volume'], null)).toEqual({ backend: 'chromium' });
    const fallback = chooseBackend('auto', ['KHR_materials_transmission'], 'Chromium is not at /nowhere');
    expect(fallback.backend).toBe('headless-gl');
    expect(fallback.warning).toMatch(/KHR_materials_transmission needs WebGL 2.*Chromium backend is unavailable \(Chromium is not at \/nowhere\)/);
    // KTX2 textures are transcoded in the page too: a glass scene with KTX2 textures goes to Chromium.
    expect(chooseBackend('auto', ['KHR_materials_transmission', 'KHR_texture_basisu'], null)).toEqual({ backend: 'chromium' });
    expect(chooseBackend('auto', ['KHR_texture_basisu'], null)).toEqual({ backend: 'headless-gl' });
    expect(chooseBackend('headless-gl', ['KHR_materials_transmission'], null)).toEqual({ backend: 'headless-gl' });
    expect(() => chooseBackend('chromium', [], 'Chromium is not at /nowhere')).toThrow(/--backend chromium: Chromium is not at \/nowhere/);
    expect(chooseBackend('chromium', ['KHR_texture_basisu'], null)).toEqual({ backend: 'chromium' });
  });

  it('tessera render --local: auto renders transmission.glb on Chromium and names it in the PNG; without Chromium it falls back with a warning', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tessera-backend-'));
    const run = await tessera('render', scenePath('transmission'), '--local', '--size', '96x96', '--camera', 'front', '--background', '#808080', '--out', out, '--json');
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { backend: string; renderer: string; warnings: string[] };
    expect(summary.backend).toBe('chromium');
    expect(summary.renderer).toMatch(/ chromium\//);
    expect(summary.warnings).toEqual([]);
    const png = readFileSync(join(out, 'frame-0000.png'));
    const meta = await sharp(png).metadata();
    expect(JSON.stringify(meta.comments ?? []) + String(meta.exif ?? '')).toMatch(/chromium\//);
    expect((await decodeRaw(png)).width).toBe(96);

    const out2 = mkdtempSync(join(tmpdir(), 'tessera-backend-'));
    const fallback = await tesseraWith({ TESSERA_CHROMIUM: '/nonexistent/chromium' }, 'render', scenePath('transmission'), '--local', '--size', '96x96', '--camera', 'front', '--out', out2, '--json');
    expect(fallback.code, fallback.stderr).toBe(0);
    expect(JSON.parse(fallback.stdout).backend).toBe('headless-gl');
    expect(fallback.stderr).toMatch(/warning: .*KHR_materials_(transmission|volume).* need WebGL 2.*Chromium is not at \/nonexistent\/chromium/);
  }, 180_000);
});

/** `tessera ARGS` with extra environment variables. */
async function tesseraWith(env: Record<string, string>, ...args: string[]) {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await tessera(...args);
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}
