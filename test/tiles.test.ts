import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeImage } from '../render-node/output/encode-image.ts';
import { stitchTiles } from '../render-node/output/stitch-tiles.ts';
import { tileGrid } from '../api/protocol/tile-grid.ts';
import { createTestRenderer } from './support/renderer.ts';

let t: Awaited<ReturnType<typeof createTestRenderer>>;
beforeAll(async () => {
  t = await createTestRenderer();
});
afterAll(() => t?.dispose());

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
const PNG = { format: 'png', quality: 90, lossless: true } as const;

describe('tiles stitch into the untiled frame pixel for pixel', () => {
  // The case that broke setViewOffset and shifted viewports: a textured PBR model at 1000×700.
  const view = { width: 1000, height: 700, background: 'transparent', camera: { kind: 'auto', yaw: 20, pitch: 10, fov: 35 } } as const;

  it.each([100, 256, 333])('textured PBR, 1000×700, tiles of %i px (PNG tiles stitched with sharp)', async (size) => {
    const whole = await t.render('textured-pbr', view);
    const tiles = tileGrid(view.width, view.height, size);
    const parts = [];
    for (const tile of tiles) {
      const r = await t.render('textured-pbr', view, 0, tile);
      parts.push({ x: tile.x, y: tile.y, image: await encodeImage(r, PNG, { software: 'test' }) });
    }
    const stitched = await stitchTiles(view.width, view.height, parts);
    expect(same(stitched.data, whole.data)).toBe(true);
  });

  it('with supersampling, blending, skinning and a non-dividing tile size', async () => {
    for (const [scene, frame] of [['alpha', 0], ['skinned', 13], ['lights', 0]] as const) {
      const v = { width: 301, height: 203, ssaa: 3, background: 'environment' } as const;
      const whole = await t.render(scene, v, frame);
      const parts = [];
      for (const tile of tileGrid(v.width, v.height, 64)) parts.push({ x: tile.x, y: tile.y, image: await t.render(scene, v, frame, tile) });
      const stitched = await stitchTiles(v.width, v.height, parts);
      expect(same(stitched.data, whole.data), `${scene} frame ${frame}`).toBe(true);
    }
  });
});

describe('determinism', () => {
  it('the same frame gives the same bytes whatever was rendered before it', async () => {
    const view = { width: 200, height: 150, ssaa: 2 } as const;
    const first = await t.render('skinned', view, 17);
    await t.render('skinned', view, 3);
    await t.render('animated-trs', view, 40);
    const again = await t.render('skinned', view, 17);
    expect(same(first.data, again.data)).toBe(true);
    const a = await encodeImage(first, PNG, { software: t.renderer.version });
    const b = await encodeImage(again, PNG, { software: t.renderer.version });
    expect(Buffer.compare(a, b)).toBe(0);
  });

  it('the fast effort is deterministic, lossless for PNG and WebP, and its own (cheaper) encoding', async () => {
    const img = await t.render('textured-pbr', { width: 320, height: 240, background: 'environment' });
    const raw = async (bytes: Buffer) => new Uint8Array(await sharp(bytes).ensureAlpha().raw().toBuffer());
    for (const format of ['png', 'webp', 'jpeg'] as const) {
      const lossless = format !== 'jpeg';
      const fast = { format, quality: 80, lossless, effort: 'fast' } as const;
      const a = await encodeImage(img, fast, { software: 'test' });
      const b = await encodeImage(img, fast, { software: 'test' });
      expect(Buffer.compare(a, b), format).toBe(0);
      const small = await encodeImage(img, { format, quality: 80, lossless }, { software: 'test' });
      expect(Buffer.compare(a, small), `${format}: fast and small are different encodings`).not.toBe(0);
      if (lossless) {
        expect(same(await raw(a), img.data), format).toBe(true);
        expect(same(await raw(small), img.data), format).toBe(true);
      }
    }
  });

  it('records the renderer version in the output metadata', async () => {
    const img = await t.render('cameras', { width: 64, height: 48 });
    for (const format of ['png', 'webp', 'jpeg'] as const) {
      const bytes = await encodeImage(img, { format, quality: 80, lossless: format !== 'jpeg' }, { software: t.renderer.version, description: 'frame 0' });
      const meta = await sharp(bytes).metadata();
      expect(meta.format).toBe(format);
      expect(meta.exif?.toString('latin1')).toContain(t.renderer.version);
    }
    expect(t.renderer.version).toMatch(/^tessera-render\/\S+ three\/0\.162\.\d+ headless-gl\/8\.\S+ sharp\/\S+$/);
  });
});

describe('tile grid', () => {
  it('covers the frame exactly once, also when the size does not divide it', () => {
    for (const [w, h, s] of [[1000, 700, 333], [1920, 1080, 256], [17, 5, 4], [64, 64, 64]]) {
      const tiles = tileGrid(w, h, s);
      const hits = new Uint8Array(w * h);
      for (const tile of tiles) for (let y = tile.y; y < tile.y + tile.height; y++) for (let x = tile.x; x < tile.x + tile.width; x++) hits[y * w + x]++;
      expect(hits.every((c) => c === 1)).toBe(true);
      expect(tiles.length).toBe(Math.ceil(w / s) * Math.ceil(h / s));
    }
  });
});
