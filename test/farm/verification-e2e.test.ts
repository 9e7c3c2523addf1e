/**
 * Verification by re-issue on a real farm (s3rver, the API, three render node processes): one node lies —
 * it tints every render and reports checksums that match what it uploaded (TESSERA_TEST_FAULT=lie). With
 * every render result re-issued (sample rate 1), the liar must be outvoted, blocklisted, and its work redone,
 * so every frame still equals the local untiled render pixel for pixel, and the ledger credits only honest work.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import type { NodeList } from '../../api/protocol/latency.ts';
import type { JobLedger, Quote } from '../../api/protocol/metering.ts';
import { call } from '../support/api-harness.ts';
import { checkJobFrames, waitFor } from '../support/farm-checks.ts';
import { startTestFarm } from '../support/farm.ts';
import { createTestRenderer, scenePath } from '../support/renderer.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
let local: Awaited<ReturnType<typeof createTestRenderer>>;
let sceneId: string;

beforeAll(async () => {
  farm = await startTestFarm({ leaseMs: 4000, api: { verification: { sampleRate: 1, blocklistAfter: 2, seed: 'verification-e2e' } } });
  for (const name of ['honest-1', 'honest-2']) farm.spawnNode(name);
  farm.spawnNode('liar', { env: { TESSERA_TEST_FAULT: 'lie' } });
  local = await createTestRenderer();
  const up = await call(farm.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('animated-trs'))), type: 'model/gltf-binary' });
  expect(up.status).toBe(201);
  sceneId = up.body.sceneId;
  // All three must be working before the job starts, so the liar gets its share.
  await waitFor('three nodes', async () => ((await call<NodeList>(farm.url, 'GET', '/v1/nodes?healthy=true')).body.nodes.length === 3 ? true : undefined));
}, 120_000);

afterAll(async () => {
  local?.dispose();
  await farm?.close();
});

describe('verification by re-issue with a lying node', () => {
  const view = { width: 320, height: 240 };
  const job = { frames: '0-3', size: '320x240', tile: 160 };

  it('quotes the job before it is submitted, verification included', async () => {
    const res = await call<Quote>(farm.url, 'POST', '/v1/quote', { json: { sceneId, ...job } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ frames: 4, tiles: 16, megapixels: 0.3072, verificationRate: 1, basis: { nodes: 3 } });
    expect(res.body.renderSeconds).toBeGreaterThan(0);
    expect(res.body.wallSeconds).toBeLessThan(res.body.renderSeconds);
    expect(res.body.price.amount).toBeGreaterThan(0);
  });

  it('catches and blocklists the liar; every frame still equals the local render', async () => {
    const submitted = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId, ...job } });
    expect(submitted.status).toBe(201);
    const { jobId } = submitted.body;
    const status = await waitFor(`job ${jobId}`, async () => {
      const s = (await call<JobStatus>(farm.url, 'GET', `/v1/jobs/${jobId}`)).body;
      if (s.state === 'failed' || s.state === 'cancelled') throw Object.assign(new Error(`job ${s.state}: ${s.error}`), { fatal: true });
      return s.state === 'done' ? s : undefined;
    });
    const frames = (await call<JobFrames>(farm.url, 'GET', `/v1/jobs/${jobId}/frames`)).body;
    expect((await checkJobFrames(frames, [0, 1, 2, 3], (frame) => local.render('animated-trs', view, frame))).problems).toEqual([]);

    const { nodes: listed } = (await call<NodeList>(farm.url, 'GET', '/v1/nodes')).body;
    const liar = listed.find((n) => n.card.name === 'liar')!;
    expect(liar.reputation!.blocklisted).toMatchObject({ reason: expect.stringMatching(/outvoted/) });
    expect(liar.reputation!.disproven).toBeGreaterThanOrEqual(2);
    for (const honest of listed.filter((n) => n !== liar)) expect(honest.reputation).toMatchObject({ disproven: 0, blocklisted: null });
    // The liar delivered nothing that stands, and vouched for nothing.
    const renders = status.tasks.filter((t) => t.kind === 'render');
    expect(renders).toHaveLength(16);
    for (const t of renders) {
      expect(t.verification?.state, t.taskId).toBe('verified');
      expect(t.verification!.verifiedBy).not.toContain(liar.nodeId);
    }
    expect(status.tasks.filter((t) => t.kind !== 'verify' && t.node === liar.nodeId)).toEqual([]);
    expect(renders.some((t) => t.verification!.disproven.includes(liar.nodeId)) || liar.reputation!.disproven > 0).toBe(true);
    // Its lease calls are refused with a clear 403.
    await waitFor('the liar to be refused', async () => (farm.nodes[2].log.some((l) => /NODE_BLOCKLISTED|is blocklisted/.test(l)) ? true : undefined), 30_000);

    // The ledger credits honest work only: every tile once, plus the verifying renders that agreed.
    const ledger = (await call<JobLedger>(farm.url, 'GET', `/v1/jobs/${jobId}/ledger`)).body;
    expect(Object.keys(ledger.byNode)).not.toContain(liar.nodeId);
    expect(ledger.entries.filter((e) => e.nodeId === liar.nodeId).every((e) => e.state === 'voided')).toBe(true);
    const credited = ledger.entries.filter((e) => e.state === 'credited');
    expect(credited.filter((e) => e.kind === 'render')).toHaveLength(16);
    expect(credited.filter((e) => e.kind === 'verify' && e.tiles === 1).length).toBeGreaterThanOrEqual(16);
    // Stitches are verified too (every result is sampled here): a verifying stitch counts no tile.
    expect(credited.filter((e) => e.kind === 'verify' && e.tiles === 0 && e.megapixels === 0).length).toBeGreaterThanOrEqual(4);
    expect(ledger.total.tiles).toBe(credited.filter((e) => e.kind === 'render' || (e.kind === 'verify' && e.megapixels > 0)).length);
    expect(ledger.total.megapixels).toBeCloseTo(credited.reduce((s, e) => s + e.megapixels, 0), 6);
    expect(ledger.total.renderSeconds).toBeGreaterThan(0);
    const perNode = (await call(farm.url, 'GET', `/v1/ledger?node=${liar.nodeId}`)).body;
    expect(perNode).toEqual({ nodes: [] });
  });
});
