/**
 * A node whose card says `tilesOnly` (a browser tab: it encodes PNG tiles, not finished WebP/JPEG frames)
 * leases tiles but never a stitch task or a frame rendered as one tile, on the first-come path and when the
 * job is routed; a node reads its own credited work at /v1/nodes/{id}/ledger with its token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeLedger } from '../../api/protocol/metering.ts';
import { call, fakePng, provenRtt, startHarness, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';

let h: Harness;
let sceneId: string;
beforeAll(async () => {
  h = await startHarness({ api: { verification: { sampleRate: 0 } } });
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterAll(async () => {
  await h?.close();
});

describe('tiles-only nodes', () => {
  it('lease tiles, never a stitch or a one-tile frame; a full node takes those', async () => {
    const tab = await TestNode.register(h, 'tab', { concurrency: 4, tilesOnly: true, gl: { renderer: 'ANGLE (llvmpipe)', vendor: 'Google Inc.', version: 'WebGL 2.0', maxTextureSize: 8192, maxViewport: [8192, 8192], backend: 'browser-webgl2' } });
    const tiled = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '64x48', tile: 32, frames: [0] } });
    expect(tiled.status).toBe(201);
    const whole = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x24', frames: [0] } });
    expect(whole.status).toBe(201);

    const tasks = [];
    for (let i = 0; i < 4; i++) tasks.push((await tab.lease(0))!);
    expect(tasks.map((t) => [t.jobId, t.kind, t.final])).toEqual(Array(4).fill([tiled.body.jobId, 'render', false]));
    for (const t of tasks) expect((await tab.finish(t, fakePng(t.output.key))).status).toBe(200);
    // The stitch of the tiled job and the one-tile frame are ready, but not for this node.
    expect(await tab.lease(0)).toBeNull();

    const full = await TestNode.register(h, 'full', { concurrency: 2 });
    const stitch = await full.lease(0);
    expect(stitch).toMatchObject({ kind: 'stitch', jobId: tiled.body.jobId });
    const frame = await full.lease(0);
    expect(frame).toMatchObject({ kind: 'render', final: true, jobId: whole.body.jobId });
    expect(await tab.lease(0)).toBeNull();
    for (const t of [stitch!, frame!]) expect((await full.finish(t, fakePng(t.output.key))).status).toBe(200);

    // What the tab earned: its four tiles, read with its own token (and not with another node's).
    const ledger = await call<NodeLedger>(h.url, 'GET', `/v1/nodes/${tab.id}/ledger`, { token: tab.reg.nodeToken });
    expect(ledger.status).toBe(200);
    expect(NodeLedger.parse(ledger.body).nodes).toMatchObject([{ nodeId: tab.id, tiles: 4, jobs: 1 }]);
    expect((await call(h.url, 'GET', `/v1/nodes/${tab.id}/ledger`, { token: full.reg.nodeToken })).status).toBe(401);
  });

  it('are not routed stitch tasks when the job is routed', async () => {
    const tab = await TestNode.register(h, 'tab-routed', { concurrency: 4, tilesOnly: true });
    const client = { rtts: [await provenRtt(tab, 5)] };
    const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '64x48', tile: 32, frames: [0], client } });
    expect(job.status).toBe(201);
    // The first lease call makes the node one that asks for work; routing places the tiles on it from then on.
    const tiles = [];
    for (let i = 0; i < 20 && tiles.length < 4; i++) {
      const t = await tab.lease(1);
      if (t) tiles.push(t);
    }
    expect(tiles.map((t) => t && [t.jobId, t.kind, t.final])).toEqual(Array(4).fill([job.body.jobId, 'render', false]));
    expect(tiles.every((t) => t && t.jobId === job.body.jobId && t.kind === 'render' && !t.final)).toBe(true);
    for (const t of tiles) expect((await tab.finish(t, fakePng(t.output.key))).status).toBe(200);
    expect(await tab.lease(1)).toBeNull();
    const full = await TestNode.register(h, 'full-routed');
    expect(await full.lease(5)).toMatchObject({ kind: 'stitch', jobId: job.body.jobId });
  });
});
