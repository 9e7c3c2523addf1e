/**
 * Red team: tiles per frame. A job's task cap (MAX_JOB_TASKS, 100,000) bounded the tiles of all its frames, not of
 * one: a single 4096×4096 frame at 16 px tiles made 65,536 tiles, and its one stitch task had a node download every
 * one of them (and the API presign 65,536 GET URLs in its lease). Now a frame splits into at most
 * MAX_TILES_PER_FRAME (4096) tiles, checked at job validation: 400 BAD_REQUEST naming the smallest tile size that
 * fits the frame; that size is accepted.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TILES_PER_FRAME, smallestTileFor } from '../../api/protocol/job-spec.ts';
import { tileCount } from '../../api/protocol/tile-grid.ts';
import { call, ROOT, startHarness, type Harness } from '../support/api-harness.ts';

let h: Harness;
let sceneId: string;
beforeAll(async () => {
  h = await startHarness();
  const bytes = await readFile(path.join(ROOT, 'scenes/animated-trs.glb'));
  sceneId = (await call(h.url, 'POST', '/v1/scenes', { body: bytes, type: 'model/gltf-binary' })).body.sceneId;
});
afterAll(async () => {
  await h?.close();
});

const submit = (size: string, tile: number, route = '/v1/jobs') => call(h.url, 'POST', route, { json: { sceneId, size, tile, frames: '0' } });

describe('tiles per frame', () => {
  it('a frame split into more than 4096 tiles → 400 BAD_REQUEST naming the smallest tile allowed; that tile is accepted', async () => {
    // 4096×4096 at 16 px: 65,536 tiles for one stitch (65,537 tasks, within the job's 100,000).
    const flood = await submit('4096x4096', 16);
    expect(flood.status, JSON.stringify(flood.body)).toBe(400);
    expect(flood.body.code).toBe('BAD_REQUEST');
    expect(flood.body.message).toMatch(/65536 tiles, more than 4096 .*at least 64 px/);
    // The quote plans the same job, so it refuses it too.
    const quote = await submit('4096x4096', 16, '/v1/quote');
    expect(quote.status).toBe(400);
    // The smallest allowed tile for an odd size: its tiles fit, one px less does not.
    expect(smallestTileFor(1000, 700)).toBe(16); // 63 × 44 tiles at MIN_TILE already fit
    const odd = smallestTileFor(3001, 2999);
    expect(tileCount(3001, 2999, odd)).toBeLessThanOrEqual(MAX_TILES_PER_FRAME);
    expect(tileCount(3001, 2999, odd - 1)).toBeGreaterThan(MAX_TILES_PER_FRAME);
    const refused = await submit('3001x2999', odd - 1);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain(`at least ${odd} px`);
    const accepted = await submit('3001x2999', odd);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
    await call(h.url, 'DELETE', `/v1/jobs/${accepted.body.jobId}`);
  });
});
