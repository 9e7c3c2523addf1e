import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRenderer } from './support/renderer.ts';
import { blueish, compareGolden, greenish, mask, opaque, pixel, purplish, reddish, whitish, yellowish } from './support/pictures.ts';

let t: Awaited<ReturnType<typeof createTestRenderer>>;
beforeAll(async () => {
  t = await createTestRenderer();
});
afterAll(() => t?.dispose());

const SMALL = { width: 320, height: 240, ssaa: 2, background: '#303540' } as const;

describe('golden pictures of the sample scenes', () => {
  const cases: [string, string, object, number][] = [
    ['textured-pbr', 'textured-pbr', {}, 0],
    ['alpha', 'alpha', {}, 0],
    ['animated-trs-f12', 'animated-trs', {}, 12],
    ['skinned-f18', 'skinned', {}, 18],
    ['morph-f18', 'morph', {}, 18],
    ['cameras-front', 'cameras', { camera: { kind: 'gltf', name: 'front' } }, 0],
    ['lights', 'lights', {}, 0],
    ['features', 'features', {}, 0],
    ['features-alt-scene', 'features', { scene: 'alt' }, 0],
    ['draco', 'draco', {}, 0],
    ['textured-gltf', 'textured-gltf/scene.gltf', {}, 0],
    ['textured-pbr-env-aces', 'textured-pbr', { background: 'environment', toneMapping: 'aces', camera: { kind: 'auto', yaw: -40, pitch: 30 } }, 0],
  ];
  it.each(cases)('%s matches its golden image', async (golden, scene, extra, frame) => {
    const img = await t.render(scene, { ...SMALL, ...extra }, frame);
    const { ratio } = await compareGolden(golden, img);
    expect(ratio, `see test/.output/${golden}.diff.png`).toBeLessThanOrEqual(0.003);
  });
});

describe('what the pictures show', () => {
  it('applies textures: the checker sphere shows both red and white squares, the striped cube blue and yellow', async () => {
    const img = await t.render('textured-pbr', SMALL);
    const red = mask(img, reddish);
    const white = mask(img, whitish);
    expect(red.count).toBeGreaterThan(800);
    expect(white.count).toBeGreaterThan(800);
    // Red and white interleave on the same object (a checker), not two separate blobs.
    expect(Math.abs(red.cx - white.cx)).toBeLessThan(30);
    expect(mask(img, blueish).count).toBeGreaterThan(300);
    expect(mask(img, yellowish).count).toBeGreaterThan(300);
  });

  it('samples animation at frame/fps: the red cube moves from left to right', async () => {
    const at = async (frame: number) => mask(await t.render('animated-trs', SMALL, frame), reddish);
    const [start, middle, end] = [await at(0), await at(24), await at(48)];
    expect(middle.cx).toBeGreaterThan(start.cx + 40);
    expect(end.cx).toBeGreaterThan(middle.cx + 40);
    // Same frame at another fps is another time: frame 24 at 48 fps = 0.5 s, left of 1 s.
    const half = mask(await t.render('animated-trs', { ...SMALL, fps: 48 }, 24), reddish);
    expect(half.cx).toBeLessThan(middle.cx - 20);
  });

  it('poses skins: the green column bends sideways by t = 1 s', async () => {
    const rest = mask(await t.render('skinned', SMALL, 0), greenish);
    const bent = mask(await t.render('skinned', SMALL, 24), greenish);
    expect(rest.h).toBeGreaterThan(rest.w * 2);
    expect(bent.w).toBeGreaterThan(rest.w * 1.8);
    expect(bent.h).toBeLessThan(rest.h * 0.85);
  });

  it('applies morph targets: the purple plane bulges upward', async () => {
    const flat = mask(await t.render('morph', SMALL, 0), purplish);
    const bulged = mask(await t.render('morph', SMALL, 24), purplish);
    expect(bulged.minY).toBeLessThan(flat.minY - 15);
  });

  it('uses the chosen glTF camera: front sees red right of green, top sees the cross from above', async () => {
    const front = await t.render('cameras', { ...SMALL, camera: { kind: 'gltf', name: 'front' } });
    expect(mask(front, reddish).cx).toBeGreaterThan(mask(front, greenish).cx + 50);
    const top = await t.render('cameras', { ...SMALL, camera: { kind: 'gltf', name: 'top' } });
    // Looking down with up = -Z: yellow (z = -2) at the top of the picture, blue (z = +2) at the bottom.
    expect(mask(top, yellowish).cy).toBeLessThan(mask(top, blueish).cy - 50);
    expect(mask(top, reddish).cx).toBeGreaterThan(mask(top, greenish).cx + 50);
    const byIndex = await t.render('cameras', { ...SMALL, camera: { kind: 'gltf', index: 1 } });
    expect(Buffer.compare(Buffer.from(byIndex.data), Buffer.from(top.data))).toBe(0);
  });

  it('frames the scene with the auto camera and honors yaw', async () => {
    const img = await t.render('cameras', { ...SMALL, background: 'transparent', camera: { kind: 'auto', yaw: 0, pitch: 10, fov: 40 } });
    const all = mask(img, opaque);
    // Everything is in the picture, not cut at the edges, and fills a good part of it.
    expect(all.minX).toBeGreaterThan(0);
    expect(all.maxX).toBeLessThan(img.width - 1);
    expect(all.w).toBeGreaterThan(img.width * 0.3);
    const behind = await t.render('cameras', { ...SMALL, camera: { kind: 'auto', yaw: 180, pitch: 10, fov: 40 } });
    // From the front red (+X) is on the right; from behind it is on the left.
    expect(mask(img, reddish).cx).toBeGreaterThan(mask(img, greenish).cx);
    expect(mask(behind, reddish).cx).toBeLessThan(mask(behind, greenish).cx);
  });

  it('places an explicit camera', async () => {
    const img = await t.render('cameras', { ...SMALL, camera: { kind: 'look', position: [0, 0, 9], target: [2, 0, 0], fov: 40 } });
    const red = mask(img, reddish);
    expect(Math.abs(red.cx - img.width / 2)).toBeLessThan(20);
  });

  it('draws the background as asked: transparent, a color, or the environment', async () => {
    const transparent = await t.render('cameras', { ...SMALL, background: 'transparent' });
    expect(pixel(transparent, 2, 2)).toEqual([0, 0, 0, 0]);
    const colored = await t.render('cameras', { ...SMALL, background: '#ff8000' });
    expect(pixel(colored, 2, 2)).toEqual([255, 128, 0, 255]);
    const env = await t.render('cameras', { ...SMALL, background: 'environment' });
    expect(pixel(env, 2, 2)[3]).toBe(255);
    expect(pixel(env, 2, 2)).not.toEqual(pixel(env, 2, env.height - 3));
  });

  it('lights PBR materials with the environment when the file has no lights, and honors punctual lights', async () => {
    const lit = await t.render('textured-pbr', { ...SMALL, keyLight: false });
    expect(mask(lit, whitish).count).toBeGreaterThan(500);
    const dark = await t.render('textured-pbr', { ...SMALL, keyLight: false, environmentIntensity: 0 });
    expect(mask(dark, whitish).count).toBeLessThan(50);
    // lights.glb: a red point light on the left and a blue spot on the right tint the white floor.
    const lights = await t.render('lights', { ...SMALL, background: 'transparent' });
    const tint = (x0: number, x1: number) => {
      let redMinusBlue = 0;
      for (let y = 0; y < lights.height; y++)
        for (let x = Math.floor(x0 * lights.width); x < x1 * lights.width; x++) {
          const [r, , b, a] = pixel(lights, x, y);
          if (a === 255) redMinusBlue += r - b;
        }
      return redMinusBlue;
    };
    expect(tint(0, 0.4)).toBeGreaterThan(0);
    expect(tint(0.6, 1)).toBeLessThan(0);
  });

  it('tone mapping changes the picture', async () => {
    const neutral = await t.render('textured-pbr', { ...SMALL, toneMapping: 'neutral' });
    const none = await t.render('textured-pbr', { ...SMALL, toneMapping: 'none' });
    expect(Buffer.compare(Buffer.from(neutral.data), Buffer.from(none.data))).not.toBe(0);
  });
});
