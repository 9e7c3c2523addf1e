/**
 * The price quote of a job before it is submitted: its size from the plan (frames, tiles, megapixels), its
 * compute time from the measured speed on the nodes' cards (reference tiles per second), and its price
 * from the configured rates. Verification re-renders a share of the tiles, so that share is added to the
 * render time, the megapixels billed and the price.
 */
import type { Quote } from '../protocol/metering.ts';
import { tileCount } from '../protocol/tile-grid.ts';
import { PROJECTION_PIXEL_WEIGHT, STITCH_PIXEL_WEIGHT, type JobPlan } from './job-compiler.ts';
import type { NodeRecord } from './job-store.ts';
import { REFERENCE_TILE_PIXELS } from './routing/router.ts';
import type { PricingOptions } from './pricing.ts';

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Quote `plan` on `nodes` (the healthy ones; at least one with a measured speed). */
export function quoteJob(plan: Pick<JobPlan, 'view' | 'frames' | 'tile'>, nodes: NodeRecord[], sampleRate: number, pricing: PricingOptions): Quote {
  const { width, height, ssaa } = plan.view;
  const frames = plan.frames.length;
  const perFrame = tileCount(width, height, plan.tile);
  const renderPixels = frames * width * height * ssaa * ssaa;
  // Panoramas cost more per output pixel than they bill in megapixels (see PROJECTION_PIXEL_WEIGHT).
  const workPixels = renderPixels * PROJECTION_PIXEL_WEIGHT[plan.view.projection ?? 'perspective'];
  const stitchPixels = perFrame > 1 ? frames * width * height * STITCH_PIXEL_WEIGHT : 0;
  // Compute in reference tiles: what a card's tilesPerSecond measures. Stitches are sampled at the tiles' rate.
  const referenceTiles = ((workPixels + stitchPixels) * (1 + sampleRate)) / REFERENCE_TILE_PIXELS;
  const measured = nodes.filter((n) => n.card.tilesPerSecond > 0);
  const perProcess = measured.reduce((s, n) => s + n.card.tilesPerSecond, 0) / Math.max(1, measured.length);
  const farm = measured.reduce((s, n) => s + n.card.tilesPerSecond * n.card.concurrency, 0);
  const renderSeconds = perProcess > 0 ? referenceTiles / perProcess : 0;
  const megapixels = renderPixels / 1e6;
  const billedMegapixels = megapixels * (1 + sampleRate);
  return {
    frames,
    tiles: frames * perFrame,
    megapixels: round(megapixels, 6),
    renderSeconds: round(renderSeconds, 3),
    wallSeconds: round(farm > 0 ? referenceTiles / farm : 0, 3),
    verificationRate: sampleRate,
    price: {
      amount: round(renderSeconds * pricing.perRenderSecond + billedMegapixels * pricing.perMegapixel, 6),
      currency: pricing.currency,
      perRenderSecond: pricing.perRenderSecond,
      perMegapixel: pricing.perMegapixel,
    },
    basis: { nodes: measured.length, tilesPerSecond: round(farm, 3) },
  };
}
