/**
 * Features of glTF models we do not make ourselves (test/support/gltf-coverage-scene.ts describes the scene), drawn
 * on headless-gl (three 0.162, WebGL 1) and checked in the picture:
 * - more morph targets than WebGL 1 draws (16; 6 with normals) all apply, animated and per node (CPU morphing);
 * - COLOR_0 morph targets apply (WebGL 1 three ignores them);
 * - EXT_texture_webp and EXT_texture_avif load, the AVIF source drawn rather than its core fallback (GLTFLoader's
 *   probes need a DOM Image: such scenes failed to load on Node);
 * - a JPEG's EXIF orientation is applied, as browsers (and the Chromium backend) do;
 * - the auto camera frames a skinned mesh as posed by its skeleton.
 * test/backends.test.ts renders the same scene on Chromium and compares.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewSpec } from '../api/protocol/render-spec.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { FrameRenderer, type RawImage } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import type { LoadedScene } from '../render-node/scene/load-scene.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { COVERAGE_SIZE, COVERAGE_VIEW, coverageGlb, coveragePixel, MORPH16_SQUARES, MORPH_NORMALS_SQUARES } from './support/gltf-coverage-scene.ts';
import { mask, OUTPUT_DIR, pixel, savePng } from './support/pictures.ts';

const near = (rgb: number[], want: number[], tol = 24) => want.every((v, i) => Math.abs(rgb[i] - v) <= tol);
const ORANGE = [255, 188, 0];
const GREY = [128, 128, 128];
/** The colour at scene point (x, y). */
const at = (img: RawImage, x: number, y: number) => pixel(img, ...coveragePixel(x, y)).slice(0, 3);
/** Indices of the squares whose centre is orange. */
const orangeSquares = (img: RawImage, centres: readonly (readonly [number, number])[], dy = 0) =>
  centres.flatMap(([x, y], k) => (near(at(img, x, y + dy), ORANGE) ? [k] : []));

describe('glTF features of other models on headless-gl', () => {
  let renderer: FrameRenderer;
  let loaded: LoadedScene;
  const render = (frame: number) => renderer.render(loaded, COVERAGE_VIEW, frame);

  beforeAll(async () => {
    renderer = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
    loaded = await renderer.loadScene((await readScene({ bytes: await coverageGlb(), name: 'coverage.glb' })).glb, { maxTexturePixels: 1 << 20 });
  });
  afterAll(() => renderer?.dispose());

  it('applies all 16 morph targets of a mesh, and all 6 that carry normals, with no warning', async () => {
    const img = render(0);
    await savePng(img, join(OUTPUT_DIR, 'gltf-coverage-f0.png'));
    expect(loaded.warnings).toEqual([]);
    expect(orangeSquares(img, MORPH16_SQUARES)).toEqual(MORPH16_SQUARES.map((_, k) => k));
    expect(orangeSquares(img, MORPH_NORMALS_SQUARES)).toEqual(MORPH_NORMALS_SQUARES.map((_, k) => k));
    // Between squares: background (the squares are 0.6 wide, 1 apart).
    expect(near(at(img, -3, 3.2), GREY)).toBe(true);
  });

  it('gives each node its own weights of a shared many-target mesh, and animates them', async () => {
    const start = render(0);
    // The second node of the same mesh: only targets 0 and 15 open.
    expect(orangeSquares(start, MORPH16_SQUARES, -2)).toEqual([0, 15]);
    const end = render(24);
    await savePng(end, join(OUTPUT_DIR, 'gltf-coverage-f24.png'));
    // Clip "close-even" at 1 s: the even targets are closed on the first node; the second node is not animated.
    expect(orangeSquares(end, MORPH16_SQUARES)).toEqual([1, 3, 5, 7, 9, 11, 13, 15]);
    expect(orangeSquares(end, MORPH16_SQUARES, -2)).toEqual([0, 15]);
    // Halfway, the even squares are half open: orange at their centre, grey near their corners.
    const half = render(12);
    expect(orangeSquares(half, MORPH16_SQUARES)).toEqual(MORPH16_SQUARES.map((_, k) => k));
    const [x0, y0] = MORPH16_SQUARES[0];
    expect(near(at(half, x0 + 0.25, y0 + 0.25), GREY)).toBe(true);
    expect(near(at(half, MORPH16_SQUARES[1][0] + 0.25, y0 + 0.25), ORANGE)).toBe(true);
  });

  it('applies a COLOR_0 morph target', () => {
    expect(at(render(0), 3, -0.6)).toEqual([0, 255, 0]);
  });

  it('loads an EXT_texture_webp texture', () => {
    const img = render(0);
    expect(near(at(img, -3, -2.1), [0, 0, 255])).toBe(true); // top-left cell
    expect(near(at(img, -2, -2.1), [255, 255, 0])).toBe(true);
    expect(near(at(img, -3, -3.1), [255, 255, 0])).toBe(true);
    expect(near(at(img, -2, -3.1), [0, 0, 255])).toBe(true);
  });

  it('frames a skinned mesh as its skeleton poses it, not as its bind-pose geometry lies', async () => {
    const img = renderer.render(loaded, ViewSpec.parse({ width: COVERAGE_SIZE, height: COVERAGE_SIZE, scene: 'skinned-z-up', camera: { kind: 'auto', yaw: 0, pitch: 0 }, toneMapping: 'none' }), 0);
    await savePng(img, join(OUTPUT_DIR, 'gltf-coverage-skinned-z-up.png'));
    const column = mask(img, (r, g, b) => g > 200 && r < 60 && b < 60);
    // The whole 4-unit column, upright, inside the frame with a margin, centred.
    expect(column.minY).toBeGreaterThan(2);
    expect(column.maxY).toBeLessThan(COVERAGE_SIZE - 3);
    expect(column.h).toBeGreaterThan(COVERAGE_SIZE / 2);
    expect(column.h).toBeGreaterThan(column.w * 4);
    expect(Math.abs(column.cy - COVERAGE_SIZE / 2)).toBeLessThan(4);
  });

  it('draws an EXT_texture_avif source, not its core fallback', () => {
    const img = render(0);
    expect(near(at(img, 2.9, -2.6), [255, 0, 0], 40)).toBe(true);
    expect(near(at(img, 3.5, -2.6), [0, 255, 0], 40)).toBe(true);
  });

  it("applies a JPEG's EXIF orientation, as browsers do", () => {
    const img = render(0);
    expect(near(at(img, 0.5, -2.1), [0, 0, 255], 40)).toBe(true); // left half: the image's bottom, turned
    expect(near(at(img, 0.5, -3.1), [0, 0, 255], 40)).toBe(true);
    expect(near(at(img, 1.5, -2.1), [255, 0, 0], 40)).toBe(true); // top right: its top-left quadrant
    expect(near(at(img, 1.5, -3.1), [0, 255, 0], 40)).toBe(true);
  });
});
