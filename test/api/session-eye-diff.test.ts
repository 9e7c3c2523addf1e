/**
 * The Workers comparison of session frames (api/core/session-eye-diff.ts: box-averaged 4×4 blocks of raw pixels)
 * against the Node comparer (sharp's linear resize, api/node/pixel-image-comparer.ts) on the same real renders
 * (test/support/make-session-frame-fixtures.ts): most reduced pixels are equal, the two reductions of one picture
 * agree by the comparison rule (silhouette blocks differ most: a box average against sharp's filter), and both
 * comparers reach the same verdict (same pose: agree; a turned pose: differ).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { BlobStore } from '../../api/core/blob-store.ts';
import { reducedDiffRatio, reducedEyeSize, reduceEye } from '../../api/core/session-eye-diff.ts';
import { SESSION_VERIFICATION_DEFAULTS } from '../../api/core/session-verification.ts';
import { createPixelImageComparer } from '../../api/node/pixel-image-comparer.ts';
import { EYE, FRAME_A_JPEG, REF_A_PNG, REF_B_PNG } from '../workers/support/session-frame-fixtures.ts';

const pictures: Record<string, Uint8Array> = { frame: Buffer.from(FRAME_A_JPEG, 'base64'), a: Buffer.from(REF_A_PNG, 'base64'), b: Buffer.from(REF_B_PNG, 'base64') };
const rgba = async (key: string) => new Uint8Array((await sharp(pictures[key]).ensureAlpha().raw().toBuffer({ resolveWithObject: true })).data);
const eye = { width: EYE, height: EYE };

describe('session frame comparison without sharp (Workers) and with it (Node)', () => {
  it('reduces a picture close enough to sharp that the two reductions agree by the comparison rule', async () => {
    const pure = reduceEye(await rgba('a'), EYE, eye);
    const { width, height } = reducedEyeSize(eye);
    // As api/node/pixel-image-comparer.ts does it: flatten on black, then resize.
    const flat = await sharp(pictures.a).flatten({ background: '#000000' }).removeAlpha().toBuffer();
    const viaSharp = new Uint8Array(await sharp(flat).resize(width, height, { kernel: 'linear', fit: 'fill' }).raw().toBuffer());
    expect(pure.length).toBe(viaSharp.length);
    const deltas = Array.from(pure, (v, i) => Math.abs(v - viaSharp[i])).sort((x, y) => x - y);
    // Most reduced pixels are equal; on silhouettes the two filters differ (measured: median 0, p99 37, max 54 levels).
    expect(deltas[deltas.length >> 1]).toBeLessThanOrEqual(2);
    // By the comparison rule itself, the two reductions of one picture agree (measured: 1.6% of reduced pixels differ).
    expect(reducedDiffRatio(pure, viaSharp)).toBeLessThan(SESSION_VERIFICATION_DEFAULTS.maxDiffRatio);
  });

  it('reaches the Node comparer\'s verdicts on a real JPEG frame against PNG references', async () => {
    const frame = reduceEye(await rgba('frame'), 2 * EYE, eye);
    const same = reducedDiffRatio(frame, reduceEye(await rgba('a'), EYE, eye));
    const turned = reducedDiffRatio(frame, reduceEye(await rgba('b'), EYE, eye));
    const blobs = { get: async (k: string) => pictures[k] ?? null, head: async (k: string) => (pictures[k] ? { size: pictures[k].length } : null) } as unknown as BlobStore;
    const node = createPixelImageComparer(blobs);
    const nodeSame = (await node.compareEye!('frame', 'a', { width: 2 * EYE, height: EYE }, eye)).diffRatio;
    const nodeTurned = (await node.compareEye!('frame', 'b', { width: 2 * EYE, height: EYE }, eye)).diffRatio;
    expect(same).toBeLessThanOrEqual(0.03);
    expect(nodeSame).toBeLessThanOrEqual(0.03);
    expect(turned).toBeGreaterThan(0.5);
    expect(nodeTurned).toBeGreaterThan(0.5);
    expect(Math.abs(turned - nodeTurned)).toBeLessThan(0.05);
  });
});
