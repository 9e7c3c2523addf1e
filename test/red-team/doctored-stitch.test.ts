/**
 * Red team, hole 1 of issue 12: a node that doctors the frames it stitches. The stitch decides the whole
 * frame, so one stitcher's word must not be enough. The liar here renders its tiles honestly (the same
 * renderer as the nodes, in this process) and then stitches them with one tile's region tinted: a valid PNG
 * of the right size whose checksum matches what it uploaded, so only a second stitch of the same tiles tells.
 * Two real render nodes (`tessera node start`) stitch it again; the liar is outvoted and blocklisted, its work
 * is redone, it earns nothing — not even for the honest frame it rendered in an earlier, finished job: a proven
 * liar forfeits all its credit — and the frame the client downloads equals a local render pixel for pixel.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import type { NodeList } from '../../api/protocol/latency.ts';
import type { JobLedger, NodeLedger } from '../../api/protocol/metering.ts';
import { ViewSpec } from '../../api/protocol/render-spec.ts';
import { decodeRaw, stitchTiles } from '../../render-node/output/stitch-tiles.ts';
import { call, sha256, TestNode, type Harness } from '../support/api-harness.ts';
import { checkJobFrames, waitFor } from '../support/farm-checks.ts';
import { startTestFarm } from '../support/farm.ts';
import { createTestRenderer, scenePath } from '../support/renderer.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
let local: Awaited<ReturnType<typeof createTestRenderer>>;

beforeAll(async () => {
  // Every result verified (tiles and stitches), one disproof blocklists; leases long enough for the liar to
  // hold its stitch while the honest nodes start.
  farm = await startTestFarm({ leaseMs: 60_000, api: { verification: { sampleRate: 1, blocklistAfter: 1, seed: 'doctored-stitch' } } });
  local = await createTestRenderer();
}, 120_000);

afterAll(async () => {
  local?.dispose();
  await farm?.close();
});

const png = (image: { data: Uint8Array; width: number; height: number }) =>
  sharp(image.data, { raw: { width: image.width, height: image.height, channels: 4 } })
    .png()
    .toBuffer()
    .then((b) => new Uint8Array(b) as Uint8Array<ArrayBuffer>);

describe('a node that doctors the frames it stitches', () => {
  it('is caught by a second stitch, outvoted and blocklisted; the frame equals the local render and the liar earns nothing', async () => {
    const harness = { url: farm.url } as Harness;
    const up = await call(farm.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('animated-trs'))), type: 'model/gltf-binary' });
    expect(up.status).toBe(201);
    const liar = await TestNode.register(harness, 'stitch-liar');
    expect(await liar.lease(0)).toBeNull(); // a working node

    // Earlier, honest work: a whole frame rendered right, accepted (alone, unverifiable) and credited; its job done.
    const earlierJob = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId: up.body.sceneId, frames: '1', size: '64x32' } });
    expect(earlierJob.status).toBe(201);
    const whole = (await liar.lease())!;
    expect((await liar.finish(whole, await png(await local.render('animated-trs', ViewSpec.parse({ width: 64, height: 32 }), whole.frame)))).status).toBe(200);
    expect((await call<JobStatus>(farm.url, 'GET', `/v1/jobs/${earlierJob.body.jobId}`)).body.state).toBe('done');
    expect((await call<NodeLedger>(farm.url, 'GET', `/v1/ledger?node=${liar.id}`)).body.nodes[0]).toMatchObject({ tiles: 1, standing: 'good' });
    const submitted = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId: up.body.sceneId, frames: '2', size: '128x64', tile: 64 } });
    expect(submitted.status).toBe(201);
    const { jobId } = submitted.body;
    const view = ViewSpec.parse({ width: 128, height: 64 });

    // Its two tiles, rendered honestly (alone on the farm, nobody else can check them: accepted as they are).
    for (let i = 0; i < 2; i++) {
      const t = (await liar.lease())!;
      expect(t).toMatchObject({ kind: 'render', frame: 2 });
      const tile = await local.render('animated-trs', view, t.frame, t.tile);
      expect((await liar.finish(t, await png(tile))).status).toBe(200);
    }
    const stitch = (await liar.lease())!;
    expect(stitch.kind).toBe('stitch');
    // The doctored frame: the real tiles, stitched, with the first tile's region tinted red.
    const parts = await Promise.all(stitch.tiles!.map(async (t) => ({ x: t.x, y: t.y, image: await decodeRaw(new Uint8Array(await (await fetch(t.url)).arrayBuffer())) })));
    const frame = await stitchTiles(view.width, view.height, parts);
    const first = stitch.tiles![0];
    for (let y = first.y; y < first.y + first.height; y++) for (let x = first.x; x < first.x + first.width; x++) frame.data[(y * view.width + x) * 4] = 255;
    const doctored = await png(frame);

    // Honest nodes join and ask for work before the liar reports its stitch, so another node can check it.
    farm.spawnNode('honest-1');
    farm.spawnNode('honest-2');
    await waitFor('two honest nodes asking for work', async () => {
      expect((await liar.heartbeat([stitch.leaseId])).status).toBe(200);
      const { nodes } = (await call<NodeList>(farm.url, 'GET', '/v1/nodes?healthy=true')).body;
      return nodes.filter((n) => n.card.name.startsWith('honest') && n.load.running === 0).length === 2 ? true : undefined;
    }, 120_000);
    await new Promise((r) => setTimeout(r, 1500)); // their first lease calls are in
    expect((await liar.finish(stitch, doctored)).status).toBe(200);

    // Held back: the doctored frame is not offered to the client while its stitch is being checked.
    const held = (await call<JobStatus>(farm.url, 'GET', `/v1/jobs/${jobId}`)).body;
    const stitchView = held.tasks.find((t) => t.taskId === stitch.taskId)!;
    if (held.state !== 'done') {
      expect(stitchView.verification?.state === 'pending' || stitchView.state !== 'done').toBe(true);
    }
    expect((await call<JobFrames>(farm.url, 'GET', `/v1/jobs/${jobId}/frames`)).body.frames.every((f) => f.checksum !== sha256(doctored))).toBe(true);

    const status = await waitFor(`job ${jobId}`, async () => {
      const s = (await call<JobStatus>(farm.url, 'GET', `/v1/jobs/${jobId}`)).body;
      if (s.state === 'failed' || s.state === 'cancelled') throw Object.assign(new Error(`job ${s.state}: ${s.error}`), { fatal: true });
      return s.state === 'done' ? s : undefined;
    }, 180_000);

    // The frame is right: equal to the local untiled render, pixel for pixel.
    const frames = (await call<JobFrames>(farm.url, 'GET', `/v1/jobs/${jobId}/frames`)).body;
    expect((await checkJobFrames(frames, [2], (f) => local.render('animated-trs', view, f))).problems).toEqual([]);

    // The liar's record: outvoted on the stitch, blocklisted; the honest nodes unblamed.
    const { nodes } = (await call<NodeList>(farm.url, 'GET', '/v1/nodes')).body;
    const liarView = nodes.find((n) => n.nodeId === liar.id)!;
    expect(liarView.reputation).toMatchObject({ disproven: 1, blocklisted: { reason: expect.stringMatching(/outvoted/) } });
    for (const honest of nodes.filter((n) => n.nodeId !== liar.id)) expect(honest.reputation).toMatchObject({ disproven: 0, blocklisted: null });
    const finalStitch = status.tasks.find((t) => t.taskId === stitch.taskId)!;
    expect(finalStitch.node).not.toBe(liar.id);
    expect(finalStitch.verification).toMatchObject({ state: 'verified', disproven: [liar.id] });
    // Everything it delivered was redone by others (blocklisting re-renders its tiles too).
    expect(status.tasks.filter((t) => t.kind !== 'verify' && t.node === liar.id)).toEqual([]);
    const ledger = (await call<JobLedger>(farm.url, 'GET', `/v1/jobs/${jobId}/ledger`)).body;
    expect(ledger.entries.filter((e) => e.nodeId === liar.id).map((e) => e.state)).toEqual(['voided', 'voided', 'voided']);
    expect(Object.keys(ledger.byNode)).not.toContain(liar.id);
    // Caught once, it forfeits what it had earned before too: the earlier job's credit, though that frame was right.
    const earlier = (await call<JobLedger>(farm.url, 'GET', `/v1/jobs/${earlierJob.body.jobId}/ledger`)).body;
    expect(earlier.entries.filter((e) => e.nodeId === liar.id).map((e) => e.state)).toEqual(['forfeited']);
    expect(earlier).toMatchObject({ total: { tiles: 0 }, forfeited: { tiles: 1 } });
    expect((await call<NodeLedger>(farm.url, 'GET', `/v1/ledger?node=${liar.id}`)).body.nodes).toEqual([
      expect.objectContaining({ nodeId: liar.id, standing: 'forfeited', renderSeconds: 0, tiles: 0, forfeited: expect.objectContaining({ tiles: 1 }) }),
    ]);
    // The honest nodes keep their credit for the frame.
    const credited = (await call<NodeLedger>(farm.url, 'GET', '/v1/ledger')).body.nodes.filter((n) => n.nodeId !== liar.id);
    expect(credited.length).toBeGreaterThan(0);
    for (const n of credited) expect(n).toMatchObject({ standing: 'good', renderSeconds: expect.any(Number) });
    expect(credited.reduce((a, n) => a + n.renderSeconds, 0)).toBeGreaterThan(0);
    // Its lease calls are refused.
    const refused = await call(farm.url, 'POST', `/v1/nodes/${liar.id}/lease`, { json: { waitSeconds: 0 }, token: liar.reg.nodeToken });
    expect(refused.body).toMatchObject({ code: 'NODE_BLOCKLISTED' });
  }, 300_000);
});

