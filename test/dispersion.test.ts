/**
 * KHR_materials_dispersion on the Chromium backend (WebGL 2, the current three): scenes/dispersion.glb holds two
 * clear glass prisms in front of black and white stripes, the left with dispersion 0, the right with dispersion 10.
 * - The upload keeps the extension and flags the scene as needing WebGL 2 (so a farm gives it only WebGL 2 nodes),
 *   and `auto` picks Chromium for it.
 * - On Chromium both prisms refract the stripes; only the dispersive one splits them into colour: its stripe edges
 *   get red/orange fringes on one side and blue ones on the other, the plain prism's stay black and white.
 * - Tiles of it stitch into the whole frame bit for bit (the transmission pass is drawn whole for every tile).
 * - On headless-gl (three 0.162, WebGL 1) transmission is dropped with a warning: opaque prisms, no fringe.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewSpec, type ViewSpecInput } from '../api/protocol/render-spec.ts';
import { tileGrid } from '../api/protocol/tile-grid.ts';
import { chooseBackend } from '../render-node/chromium/choose-backend.ts';
import { chromiumUnavailable } from '../render-node/chromium/chromium-render-host.ts';
import { startSceneRenderer } from '../render-node/local-render.ts';
import type { RawImage } from '../render-node/render/frame-renderer.ts';
import type { SceneHandle, SceneRenderer } from '../render-node/render/scene-renderer.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { readSceneInfo } from '../scene-check/read-scene-info.ts';
import { webgl2ExtensionsOf } from '../scene-check/supported-extensions.ts';
import { DISPERSION_PRISMS } from '../scenes/lib/builders/dispersion.ts';
import { OUTPUT_DIR, savePng } from './support/pictures.ts';
import { ensureRenderHostBuilt } from './support/render-host.ts';
import { scenePath } from './support/renderer.ts';

const W = 320;
const H = 240;
const VIEW: ViewSpecInput = { width: W, height: H, camera: { kind: 'gltf', name: 'front' }, background: '#808080' };
/** Pixels per scene unit at the prisms' axes (z = 0), seen from (0, 0, 7) with a 40° vertical field of view. */
const PX_PER_UNIT = H / 2 / (7 * Math.tan((20 * Math.PI) / 180));

/** A fringe colour: red/orange (red well above blue) or blue (blue well above red). */
const redFringe = (r: number, _g: number, b: number) => r - b > 60;
const blueFringe = (r: number, _g: number, b: number) => b - r > 60;

/** What the pixels through one prism's two front faces look like: fringe shares, chroma, and light/dark stripes. */
function throughPrism(img: RawImage, prismX: number) {
  const cx = W / 2 + prismX * PX_PER_UNIT;
  // The front faces span about ±0.8 units across and ±1.2 up: stay well inside both.
  const halfW = Math.round(0.55 * PX_PER_UNIT);
  const halfH = Math.round(0.8 * PX_PER_UNIT);
  let n = 0, red = 0, blue = 0, chroma = 0, light = 0, dark = 0;
  for (let y = H / 2 - halfH; y < H / 2 + halfH; y++) {
    for (let x = Math.round(cx) - halfW; x < Math.round(cx) + halfW; x++) {
      const p = (y * W + x) * 4;
      const [r, g, b] = [img.data[p], img.data[p + 1], img.data[p + 2]];
      n++;
      if (redFringe(r, g, b)) red++;
      if (blueFringe(r, g, b)) blue++;
      chroma += Math.max(r, g, b) - Math.min(r, g, b);
      const lum = (r + g + b) / 3;
      if (lum > 170) light++;
      if (lum < 60) dark++;
    }
  }
  return { red: red / n, blue: blue / n, chroma: chroma / n, light: light / n, dark: dark / n };
}

const fmt = (s: ReturnType<typeof throughPrism>) =>
  `red ${(s.red * 100).toFixed(1)}% blue ${(s.blue * 100).toFixed(1)}% chroma ${s.chroma.toFixed(1)} light ${(s.light * 100).toFixed(0)}% dark ${(s.dark * 100).toFixed(0)}%`;

describe('KHR_materials_dispersion: a dispersive prism splits the stripes behind it into colour on WebGL 2', () => {
  const r: Partial<Record<'chromium' | 'headless-gl', SceneRenderer>> = {};
  const scenes: Partial<Record<'chromium' | 'headless-gl', SceneHandle>> = {};
  let glb: Uint8Array;
  let extensionsUsed: string[];

  beforeAll(async () => {
    ensureRenderHostBuilt();
    const why = chromiumUnavailable();
    if (why) throw new Error(`these tests need Chromium: ${why}`);
    ({ glb, extensionsUsed } = await readScene({ path: scenePath('dispersion') }));
    r.chromium = await startSceneRenderer('chromium');
    r['headless-gl'] = await startSceneRenderer('headless-gl');
    for (const backend of ['chromium', 'headless-gl'] as const) scenes[backend] = await r[backend]!.load(glb, { maxTexturePixels: 64 << 20 });
  }, 180_000);
  afterAll(async () => {
    await r.chromium?.dispose();
    await r['headless-gl']?.dispose();
  });

  it('the upload keeps the extension and flags the scene for WebGL 2; auto picks Chromium', async () => {
    expect(extensionsUsed).toContain('KHR_materials_dispersion');
    expect(webgl2ExtensionsOf(extensionsUsed)).toEqual(['KHR_materials_transmission', 'KHR_materials_volume', 'KHR_materials_dispersion']);
    // The stored scene info that routes its jobs (the same code on Node and in the Worker).
    expect((await readSceneInfo(glb)).webgl2).toEqual(['KHR_materials_transmission', 'KHR_materials_volume', 'KHR_materials_dispersion']);
    expect(chooseBackend('auto', extensionsUsed, null)).toEqual({ backend: 'chromium' });
    expect(chooseBackend('auto', ['KHR_materials_dispersion'], null)).toEqual({ backend: 'chromium' });
  });

  it('on Chromium the dispersive prism shows red and blue fringes at the stripe edges; the same prism with dispersion 0 does not', async () => {
    const img = await r.chromium!.render(scenes.chromium!, ViewSpec.parse(VIEW), 0);
    await savePng(img, join(OUTPUT_DIR, 'dispersion-chromium.png'));
    expect(scenes.chromium!.warnings).toEqual([]);
    const [plainPrism, dispersivePrism] = DISPERSION_PRISMS;
    expect(plainPrism.dispersion).toBe(0);
    const plain = throughPrism(img, plainPrism.x);
    const dispersive = throughPrism(img, dispersivePrism.x);
    console.info(`dispersion on chromium: plain prism ${fmt(plain)}; dispersive prism ${fmt(dispersive)}`);
    // Both prisms are glass: the stripes show through each (light and dark pixels), not an opaque grey block.
    for (const s of [plain, dispersive]) {
      expect(s.light).toBeGreaterThan(0.1);
      expect(s.dark).toBeGreaterThan(0.1);
    }
    // Dispersion 0: black and white stay black and white.
    expect(plain.red).toBeLessThan(0.005);
    expect(plain.blue).toBeLessThan(0.005);
    // Dispersion 10: the channels refract apart, so stripe edges are fringed red on one side and blue on the other.
    expect(dispersive.red).toBeGreaterThan(0.05);
    expect(dispersive.blue).toBeGreaterThan(0.05);
    expect(dispersive.chroma).toBeGreaterThan(plain.chroma * 3);
  }, 120_000);

  it('Chromium tiles of the dispersive scene stitch into the whole frame bit for bit', async () => {
    const view = ViewSpec.parse({ ...VIEW, width: 160, height: 120 });
    const whole = await r.chromium!.render(scenes.chromium!, view, 0);
    const stitched = new Uint8Array(whole.data.length);
    const tiles = tileGrid(160, 120, 48);
    expect(tiles.length).toBeGreaterThan(4);
    for (const tile of tiles) {
      const part = await r.chromium!.render(scenes.chromium!, view, 0, tile);
      for (let row = 0; row < tile.height; row++) stitched.set(part.data.subarray(row * tile.width * 4, (row + 1) * tile.width * 4), ((tile.y + row) * 160 + tile.x) * 4);
    }
    expect(Buffer.from(stitched).equals(Buffer.from(whole.data))).toBe(true);
  }, 120_000);

  it('headless-gl (WebGL 1) renders both prisms opaque, with a warning, and without fringes', async () => {
    const img = await r['headless-gl']!.render(scenes['headless-gl']!, ViewSpec.parse(VIEW), 0);
    await savePng(img, join(OUTPUT_DIR, 'dispersion-headless-gl.png'));
    expect(scenes['headless-gl']!.warnings.join('\n')).toMatch(/prism-dispersive.*KHR_materials_transmission needs WebGL 2/);
    for (const prism of DISPERSION_PRISMS) {
      const s = throughPrism(img, prism.x);
      console.info(`dispersion on headless-gl: ${prism.name} ${fmt(s)}`);
      expect(s.red).toBeLessThan(0.005);
      expect(s.blue).toBeLessThan(0.005);
      // Opaque: the stripes behind do not show (no black stripe through a white glossy prism).
      expect(s.dark).toBeLessThan(0.05);
    }
  }, 120_000);
});
