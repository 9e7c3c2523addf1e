/**
 * The Node ImageComparer across GL implementations: a silhouette rasterized one pixel apart (headless-gl vs a
 * browser's ANGLE) is not a difference, on Node and on Workers alike; a tint, a repainted patch, a shifted picture or transparency where the
 * other has opaque pixels still are.
 */
import pixelmatch from 'pixelmatch';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { BlobStore } from '../../api/core/blob-store.ts';
import { createPixelImageComparer } from '../../api/node/pixel-image-comparer.ts';
import { createEdgeImageComparer } from '../../api/edge/edge-image-comparer.ts';

const W = 64;
const H = 64;

/** A grey disc (radius r, centre cx, cy) on a dark background, with a horizontal gradient inside. */
function disc(cx: number, cy: number, r: number, paint?: (x: number, y: number, px: number[]) => void): Uint8Array {
  const data = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
      const px = inside ? [120 + x, 140, 160, 255] : [32, 36, 44, 255];
      paint?.(x, y, px);
      data.set(px, (y * W + x) * 4);
    }
  }
  return data;
}

type Comparer = typeof createPixelImageComparer;

async function compareWith(create: Comparer, a: Uint8Array, b: Uint8Array): Promise<number> {
  const objects = new Map<string, Uint8Array>();
  objects.set('a', new Uint8Array(await sharp(a, { raw: { width: W, height: H, channels: 4 } }).png().toBuffer()));
  objects.set('b', new Uint8Array(await sharp(b, { raw: { width: W, height: H, channels: 4 } }).png().toBuffer()));
  const blobs = {
    head: async (key: string) => (objects.has(key) ? { size: objects.get(key)!.length } : null),
    get: async (key: string) => objects.get(key) ?? null,
  } as unknown as BlobStore;
  return (await create(blobs).compare('a', 'b', { width: W, height: H })).diffRatio;
}

describe.each([
  ['Node (sharp)', createPixelImageComparer],
  ['Workers (fast-png, jpeg-js)', createEdgeImageComparer],
] as const)('pixel image comparer on %s', (_name, create) => {
  const compare = (a: Uint8Array, b: Uint8Array) => compareWith(create, a, b);

  it('accepts a silhouette rasterized a pixel apart', async () => {
    const a = disc(32, 32, 20);
    const b = disc(32.6, 32.4, 20.3);
    // pixelmatch alone flags the edge pixels that moved; within a pixel of each other they agree.
    expect(pixelmatch(a, b, undefined, W, H, { threshold: 0.1, includeAA: false })).toBeGreaterThan(10);
    expect(await compare(a, b)).toBe(0);
  });

  it('still counts a tint, a repainted patch, a shifted picture and transparency', async () => {
    const a = disc(32, 32, 20);
    expect(await compare(a, disc(32, 32, 20, (_x, _y, px) => (px[0] = Math.min(255, px[0] + 80))))).toBeGreaterThan(0.9);
    const patch = await compare(a, disc(32, 32, 20, (x, y, px) => x >= 24 && x < 34 && y >= 24 && y < 34 && px.splice(0, 4, 250, 20, 20, 255)));
    expect(patch).toBeCloseTo(100 / (W * H), 3);
    expect(await compare(a, disc(36, 32, 20))).toBeGreaterThan(0.01);
    expect(await compare(a, disc(32, 32, 20, (_x, _y, px) => (px[3] = 0)))).toBeGreaterThan(0.9);
  });

  it('counts a picture of another size, or one that is no image, as different', async () => {
    const objects = new Map<string, Uint8Array>([
      ['a', new Uint8Array(await sharp(disc(32, 32, 20), { raw: { width: W, height: H, channels: 4 } }).png().toBuffer())],
      ['small', new Uint8Array(await sharp(disc(32, 32, 20), { raw: { width: W, height: H, channels: 4 } }).resize(32, 32).png().toBuffer())],
      ['junk', new TextEncoder().encode('not a png at all')],
    ]);
    const blobs = { head: async (k: string) => ({ size: objects.get(k)!.length }), get: async (k: string) => objects.get(k)! } as unknown as BlobStore;
    expect((await create(blobs).compare('a', 'small', { width: W, height: H })).diffRatio).toBe(1);
    expect((await create(blobs).compare('a', 'junk', { width: W, height: H })).diffRatio).toBe(1);
  });
});
