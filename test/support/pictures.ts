import { mkdirSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pixelmatch from 'pixelmatch';
import sharp from 'sharp';
import type { RawImage } from '../../render-node/render/frame-renderer.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const GOLDEN_DIR = join(here, '..', 'golden');
export const OUTPUT_DIR = join(here, '..', '.output');

/** Pixels whose color is within `tol` (0–255 per channel) of `rgb` and opaque enough. */
export function mask(img: RawImage, test: (r: number, g: number, b: number, a: number) => boolean) {
  let count = 0, sx = 0, sy = 0, minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const p = (y * img.width + x) * 4;
      if (!test(img.data[p], img.data[p + 1], img.data[p + 2], img.data[p + 3])) continue;
      count++;
      sx += x;
      sy += y;
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
  }
  return { count, cx: sx / count, cy: sy / count, minX, minY, maxX, maxY, w: maxX - minX + 1, h: maxY - minY + 1 };
}

/** Hue-dominance tests that survive lighting: "reddish" means red clearly above green and blue. */
export const reddish = (r: number, g: number, b: number, a: number) => a > 128 && r > 90 && r > g * 1.6 && r > b * 1.6;
export const greenish = (r: number, g: number, b: number, a: number) => a > 128 && g > 80 && g > r * 1.4 && g > b * 1.4;
export const blueish = (r: number, g: number, b: number, a: number) => a > 128 && b > 80 && b > r * 1.4 && b > g * 1.2;
export const yellowish = (r: number, g: number, b: number, a: number) => a > 128 && r > 120 && g > 120 && b < Math.min(r, g) * 0.6;
export const purplish = (r: number, g: number, b: number, a: number) => a > 128 && r > 80 && b > 80 && g < Math.min(r, b) * 0.8;
export const whitish = (r: number, g: number, b: number, a: number) => a > 128 && r > 170 && g > 170 && b > 170;
export const opaque = (_r: number, _g: number, _b: number, a: number) => a > 0;

/** The RGBA at (x, y). */
export function pixel(img: RawImage, x: number, y: number): number[] {
  const p = (Math.floor(y) * img.width + Math.floor(x)) * 4;
  return Array.from(img.data.subarray(p, p + 4));
}

/** Write `img` (RGBA, or RGB: its size says which) as a PNG, making the folder. */
export async function savePng(img: RawImage, file: string): Promise<void> {
  const channels = img.data.length / (img.width * img.height);
  if (channels !== 3 && channels !== 4) throw new Error(`savePng: ${img.data.length} bytes is neither RGB nor RGBA at ${img.width}x${img.height}`);
  mkdirSync(dirname(file), { recursive: true });
  await sharp(img.data, { raw: { width: img.width, height: img.height, channels } }).png().toFile(file);
}

/**
 * Compare with test/golden/NAME.png: at most `maxDiffRatio` of the pixels may differ beyond pixelmatch's
 * color threshold. On failure the actual picture and a diff image go to test/.output/. Set
 * TESSERA_UPDATE_GOLDEN=1 to (re)write goldens.
 */
export async function compareGolden(name: string, img: RawImage, maxDiffRatio = 0.003): Promise<{ diff: number; ratio: number }> {
  const file = join(GOLDEN_DIR, `${name}.png`);
  if (process.env.TESSERA_UPDATE_GOLDEN === '1' || (!existsSync(file) && process.env.CI !== 'true')) {
    await savePng(img, file);
    return { diff: 0, ratio: 0 };
  }
  if (!existsSync(file)) throw new Error(`golden image ${file} is missing; run the tests once with TESSERA_UPDATE_GOLDEN=1`);
  const { data, info } = await sharp(readFileSync(file)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== img.width || info.height !== img.height) throw new Error(`golden ${name} is ${info.width}×${info.height}, render is ${img.width}×${img.height}`);
  const out = new Uint8Array(img.width * img.height * 4);
  const diff = pixelmatch(img.data, data, out, img.width, img.height, { threshold: 0.1, includeAA: false });
  const ratio = diff / (img.width * img.height);
  if (ratio > maxDiffRatio) {
    await savePng(img, join(OUTPUT_DIR, `${name}.actual.png`));
    await savePng({ data: out, width: img.width, height: img.height }, join(OUTPUT_DIR, `${name}.diff.png`));
    writeFileSync(join(OUTPUT_DIR, `${name}.txt`), `${diff} pixels differ (${(ratio * 100).toFixed(2)}%)\n`);
  }
  return { diff, ratio };
}
