import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewSpec, type ViewSpecInput } from '../api/protocol/render-spec.ts';
import { tileGrid } from '../api/protocol/tile-grid.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { FrameRenderer, type RawImage } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import type { LoadedScene } from '../render-node/scene/load-scene.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { OUTPUT_DIR, pixel, savePng } from './support/pictures.ts';
import { scenePath } from './support/renderer.ts';
import { shadowStage } from './support/shadow-stage.ts';

let renderer: FrameRenderer;
let stage: LoadedScene;
let floating: LoadedScene;
beforeAll(async () => {
  renderer = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
  const load = async (bytes: Uint8Array) => renderer.loadScene((await readScene({ bytes, name: 'stage.glb' })).glb, { maxTexturePixels: 1 << 24 });
  stage = await load(await shadowStage());
  floating = await load(await shadowStage({ floor: false }));
});
afterAll(() => renderer?.dispose());

// Looking down on the stage from the front, so the floor under the cube is in view.
const VIEW: ViewSpecInput = { width: 240, height: 180, background: '#303540', camera: { kind: 'auto', yaw: 0, pitch: 35, fov: 40 } };
const render = (loaded: LoadedScene, extra: Partial<ViewSpecInput>, save?: string): RawImage => {
  const img = renderer.render(loaded, ViewSpec.parse({ ...VIEW, ...extra }), 0);
  if (save) void savePng(img, `${OUTPUT_DIR}/shadows-${save}.png`);
  return img;
};
const luma = (img: RawImage, x0: number, y0: number, x1: number, y1: number) => {
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
    const [r, g, b] = pixel(img, x, y);
    sum += 0.2126 * r + 0.7152 * g + 0.0722 * b;
    n++;
  }
  return sum / n;
};

describe('shadows', () => {
  it('the cube darkens the floor under it with shadows on, not with them off; the lit floor is the same', () => {
    const on = render(stage, { shadows: true }, 'stage-on');
    const off = render(stage, { shadows: false }, 'stage-off');
    // Per pixel: where the floor got darker with shadows on.
    let darker = 0;
    for (let p = 0; p < on.data.length; p += 4) {
      const l = (d: Uint8Array) => 0.2126 * d[p] + 0.7152 * d[p + 1] + 0.0722 * d[p + 2];
      if (l(off.data) - l(on.data) > 12) darker++;
    }
    // The environment still fills the shadow (soft studio light), so it is a clear but not black darkening.
    expect(darker).toBeGreaterThan(400);
    // And far corners of the floor (no shadow there) are unchanged: no acne, no darkening overall.
    expect(Math.abs(luma(on, 5, 170, 25, 178) - luma(off, 5, 170, 25, 178))).toBeLessThan(3);
    expect(Math.abs(luma(on, 215, 170, 235, 178) - luma(off, 215, 170, 235, 178))).toBeLessThan(3);
  });

  it('shadows are the default', () => {
    const byDefault = render(stage, {});
    const on = render(stage, { shadows: true });
    expect(Buffer.compare(Buffer.from(byDefault.data), Buffer.from(on.data))).toBe(0);
  });

  it('lit surfaces facing the light show no acne: the cube\'s faces render the same with shadows on and off', () => {
    const on = render(floating, { shadows: true });
    const off = render(floating, { shadows: false });
    let changed = 0;
    for (let p = 0; p < on.data.length; p += 4) if (Math.abs(on.data[p] - off.data[p]) > 12) changed++;
    // Only the cube's own shadowed faces (away from the key light) may change, never speckles on lit faces.
    expect(changed / (on.width * on.height)).toBeLessThan(0.02);
  });

  it('--ground shadow: a transparent frame gets a shadow under a floating object, and nothing elsewhere', () => {
    const img = render(floating, { background: 'transparent', ground: 'shadow' }, 'ground');
    const none = render(floating, { background: 'transparent', ground: 'none' });
    let shadowed = 0;
    let strays = 0;
    for (let p = 0; p < img.data.length; p += 4) {
      if (none.data[p + 3] === 0 && img.data[p + 3] > 20) {
        shadowed++;
        if (img.data[p] > 40) strays++; // a shadow is dark
      }
    }
    expect(shadowed).toBeGreaterThan(500);
    expect(strays).toBe(0);
    // The corners stay fully transparent: the ground shows only shadow.
    expect(pixel(img, 2, 2)[3]).toBe(0);
    expect(pixel(img, 237, 177)[3]).toBe(0);
  });

  it('tiles still stitch bit for bit with shadows and a ground', () => {
    const view = ViewSpec.parse({ ...VIEW, width: 200, height: 150, shadows: true, ground: 'shadow', ssaa: 2 });
    for (const [loaded, frame] of [[stage, 0]] as const) {
      const whole = renderer.render(loaded, view, frame);
      for (const rect of tileGrid(view.width, view.height, 64)) {
        const tile = renderer.render(loaded, view, frame, rect);
        for (let y = 0; y < rect.height; y++) {
          const a = Buffer.from(tile.data.subarray(y * rect.width * 4, (y + 1) * rect.width * 4));
          const b = Buffer.from(whole.data.subarray(((rect.y + y) * view.width + rect.x) * 4, ((rect.y + y) * view.width + rect.x + rect.width) * 4));
          expect(Buffer.compare(a, b), `tile ${rect.x},${rect.y} row ${y}`).toBe(0);
        }
      }
    }
  });

  it('an animated scene stitches bit for bit with shadows, and its shadow camera holds still over the clip', async () => {
    const loaded = await renderer.loadScene((await readScene({ path: scenePath('animated-trs') })).glb, { maxTexturePixels: 1 << 24 });
    const view = ViewSpec.parse({ width: 160, height: 120, ground: 'shadow' });
    const camera = () => {
      const key = loaded.scenes[0].getObjectByName('tessera.key-light')!;
      return [...(key as unknown as { shadow: { camera: { projectionMatrix: { elements: number[] } } } }).shadow.camera.projectionMatrix.elements];
    };
    renderer.render(loaded, view, 0);
    const first = camera();
    const whole = renderer.render(loaded, view, 20);
    // The same frustum (to rounding) at frame 0 and frame 20: fitted to the whole clip, not to the pose.
    camera().forEach((v, i) => expect(v).toBeCloseTo(first[i], 9));
    for (const rect of tileGrid(view.width, view.height, 64)) {
      const tile = renderer.render(loaded, view, 20, rect);
      for (let y = 0; y < rect.height; y++) {
        const a = Buffer.from(tile.data.subarray(y * rect.width * 4, (y + 1) * rect.width * 4));
        const b = Buffer.from(whole.data.subarray(((rect.y + y) * view.width + rect.x) * 4, ((rect.y + y) * view.width + rect.x + rect.width) * 4));
        expect(Buffer.compare(a, b)).toBe(0);
      }
    }
  });
});

describe('shadows from glTF punctual lights', () => {
  it.each(['spot', 'point'] as const)('a glTF %s light above the cube darkens the floor under it', async (kind) => {
    const loaded = await renderer.loadScene((await readScene({ bytes: await shadowStage({ light: kind }), name: 'lit.glb' })).glb, { maxTexturePixels: 1 << 24 });
    const on = render(loaded, { shadows: true }, `${kind}-on`);
    const off = render(loaded, { shadows: false });
    let darker = 0;
    let lighter = 0;
    for (let p = 0; p < on.data.length; p += 4) {
      const d = off.data[p] + off.data[p + 1] + off.data[p + 2] - (on.data[p] + on.data[p + 1] + on.data[p + 2]);
      if (d > 30) darker++;
      if (d < -30) lighter++;
    }
    expect(darker).toBeGreaterThan(400);
    expect(lighter).toBe(0); // a shadow only takes light away
  });
});
