/**
 * Verification, blocklisting and metering through the HTTP API, with nodes driven by plain HTTP calls
 * (real s3rver and API; the "renders" are small PNGs and stand-in bytes, so no GL is needed).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobStatus } from '../../api/protocol/job-status.ts';
import type { NodeList } from '../../api/protocol/latency.ts';
import type { JobLedger, NodeLedger, Quote } from '../../api/protocol/metering.ts';
import { createTesseraClient } from '../../api/client/index.ts';
import { createSqliteJobStore } from '../../api/node/sqlite-job-store.ts';
import { renderOnFarm } from '../../infra/cli/render-on-farm.ts';
import { call, fakePng, ROOT, startHarness, TEST_API_KEY, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const start = async () => {
  harness = await startHarness({ api: { verification: { sampleRate: 1, blocklistAfter: 1, seed: 'api-test' } } });
  return harness;
};
const submit = async (h: Harness, sceneId: string) => {
  const res = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, frames: [0], size: '64x64' } });
  expect(res.status).toBe(201);
  return res.body.jobId as string;
};
const status = async (h: Harness, jobId: string) => (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body;

/** A 64×64 PNG of one colour; `level` changes the bytes, not the pixels. */
const png = (rgb: [number, number, number], level: number) =>
  sharp({ create: { width: 64, height: 64, channels: 4, background: { r: rgb[0], g: rgb[1], b: rgb[2], alpha: 1 } } })
    .png({ compressionLevel: level })
    .toBuffer()
    .then((b) => new Uint8Array(b) as Uint8Array<ArrayBuffer>);

describe('verification through the API', () => {
  it('outvotes a lying node, refuses its leases with 403, re-renders its tile and credits honest work only', async () => {
    const h = await start();
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    const [liar, a, b] = [await TestNode.register(h, 'liar'), await TestNode.register(h, 'a'), await TestNode.register(h, 'b')];
    // Running nodes ask for work (only such nodes can verify a result); no job yet, so nothing comes.
    for (const n of [liar, a, b]) expect(await n.lease(0)).toBeNull();
    const jobId = await submit(h, sceneId);

    const original = (await liar.lease())!;
    expect((await liar.finish(original, fakePng('tinted'))).status).toBe(200);
    let s = await status(h, jobId);
    expect(s.tasks[0].verification).toEqual({ state: 'pending', round: 0, verifiedBy: [], disproven: [] });
    expect(s.frames.done).toBe(0);
    expect((await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`)).body.frames).toEqual([]);

    // The verifying render looks like any render, but writes beside the output it checks.
    const v1 = (await a.lease())!;
    expect(v1).toMatchObject({ kind: 'render', frame: 0, final: true });
    // Indistinguishable from a render: the same id and key shapes (an opaque token each), only its own key.
    expect(v1.output.key).toMatch(new RegExp(`^jobs/${jobId}/frames/000000\\.[0-9a-f]{16}\\.a1\\.png$`));
    expect(v1.output.key).not.toBe(original.output.key);
    expect(v1.taskId).toMatch(new RegExp(`^${jobId}\\.[0-9a-f]{16}$`));
    expect(original.taskId).toMatch(new RegExp(`^${jobId}\\.[0-9a-f]{16}$`));
    expect(v1.attempt).toBe(original.attempt);
    await a.finish(v1, fakePng('true'));
    expect(await liar.lease()).toBeNull(); // the third vote excludes both
    const v2 = (await b.lease())!;
    await b.finish(v2, fakePng('true'));

    const refused = await call(h.url, 'POST', `/v1/nodes/${liar.id}/lease`, { json: { waitSeconds: 0 }, token: liar.reg.nodeToken });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'NODE_BLOCKLISTED', message: expect.stringMatching(/blocklisted.*outvoted/) });
    const { nodes } = (await call<NodeList>(h.url, 'GET', '/v1/nodes')).body;
    expect(nodes.find((n) => n.nodeId === liar.id)!.reputation).toMatchObject({ verified: 0, disproven: 1, blocklisted: { reason: expect.any(String) } });
    expect(nodes.find((n) => n.nodeId === a.id)!.reputation).toEqual({ verified: 1, disproven: 0, blocklisted: null });

    // The tile is rendered again by an honest node, and that result is verified too.
    const again = (await a.lease())!;
    expect(again.taskId).toBe(original.taskId);
    await a.finish(again, fakePng('true'));
    await b.finish((await b.lease())!, fakePng('true'));
    s = await status(h, jobId);
    expect(s.state).toBe('done');
    expect(s.tasks.find((t) => t.taskId === original.taskId)).toMatchObject({
      node: a.id,
      verification: { state: 'verified', round: 1, verifiedBy: [a.id, b.id], disproven: [liar.id] },
    });
    expect(s.tasks.filter((t) => t.kind === 'verify').map((t) => [t.verifies, t.state])).toEqual([
      [original.taskId, 'done'],
      [original.taskId, 'done'],
      [original.taskId, 'done'],
    ]);

    const ledger = (await call<JobLedger>(h.url, 'GET', `/v1/jobs/${jobId}/ledger`)).body;
    expect(ledger.entries.map((e) => [e.nodeId === liar.id ? 'liar' : e.nodeId === a.id ? 'a' : 'b', e.kind, e.state])).toEqual([
      ['liar', 'render', 'voided'],
      ['a', 'verify', 'credited'],
      ['b', 'verify', 'credited'],
      ['a', 'render', 'credited'],
      ['b', 'verify', 'credited'],
    ]);
    // Each completion reported 1 ms of render time (within its lease's wall time).
    expect(ledger.total).toEqual({ renderSeconds: 0.004, megapixels: 4 * 0.004096, tiles: 4 });
    expect(Object.keys(ledger.byNode).sort()).toEqual([a.id, b.id].sort());
    const byNode = (await call<NodeLedger>(h.url, 'GET', '/v1/ledger')).body;
    expect(byNode.nodes.map((n) => [n.nodeId, n.tiles, n.jobs])).toEqual([[a.id, 2, 1], [b.id, 2, 1]].sort((x, y) => String(x[0]).localeCompare(String(y[0]))));
    expect((await call(h.url, 'GET', `/v1/ledger?node=${liar.id}`)).body).toEqual({ nodes: [] });
    const sdk = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY });
    expect(await sdk.jobLedger(jobId)).toEqual(ledger);
    expect(await sdk.ledger({ node: a.id })).toEqual({ nodes: byNode.nodes.filter((n) => n.nodeId === a.id) });
    expect((await call(h.url, 'GET', '/v1/jobs/job_nope/ledger')).body).toMatchObject({ code: 'JOB_NOT_FOUND' });
  });

  it('quotes from the healthy nodes\' measured speed (never their claims) and the configured rates, verification included', async () => {
    const h = await start();
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    const body = { sceneId, frames: [0, 1], size: '128x64', tile: 64, ssaa: 2 };
    expect((await call(h.url, 'POST', '/v1/quote', { json: body })).body).toMatchObject({ code: 'UNAVAILABLE' });
    await TestNode.register(h, 'q1');
    await TestNode.register(h, 'q2', { tilesPerSecond: 30, concurrency: 2 });
    const res = await call<Quote>(h.url, 'POST', '/v1/quote', { json: body });
    expect(res.status).toBe(200);
    // 2 frames × 128×64 × ssaa² = 65536 px, plus 2 stitches at 0.1 per pixel, each twice (every tile and stitch verified).
    const refTiles = (2 * 128 * 64 * 4 * 2 + 2 * 128 * 64 * 0.1 * 2) / 65536;
    // Speeds as the API believes them: neither node has results yet, so q2's claimed 30 tiles/s counts as the
    // 10 tiles/s prior (a claim is never worth more): 10 per process, 10 + 2 × 10 for the farm.
    expect(res.body).toMatchObject({ frames: 2, tiles: 4, megapixels: 0.065536, verificationRate: 1, basis: { nodes: 2, tilesPerSecond: 30 } });
    expect(res.body.renderSeconds).toBeCloseTo(refTiles / 10, 3);
    expect(res.body.wallSeconds).toBeCloseTo(refTiles / 30, 3);
    expect(res.body.price).toEqual({ amount: expect.closeTo((refTiles / 10) * 0.0004 + 0.065536 * 2 * 0.0002, 6), currency: 'USD', perRenderSecond: 0.0004, perMegapixel: 0.0002 });
    // The SDK asks the same.
    const sdk = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY });
    expect(await sdk.quote(body)).toEqual(res.body);
    await expect(sdk.quote({ ...body, frames: [9999] })).rejects.toMatchObject({ code: 'FRAME_OUT_OF_RANGE' });
    expect((await call(h.url, 'POST', '/v1/quote', { json: { ...body, sceneId: 'f'.repeat(64) } })).body).toMatchObject({ code: 'SCENE_UNKNOWN' });
    expect((await call(h.url, 'POST', '/v1/quote', { json: { ...body, frames: [9999] } })).body).toMatchObject({ code: 'FRAME_OUT_OF_RANGE' });
  });

  it('scopes metering by API key: own scenes and jobs for a client key, per-node ledgers for admins only', async () => {
    const h = await start();
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb'); // uploaded with the admin key
    await TestNode.register(h, 'n');
    const jobId = await submit(h, sceneId);
    const client = (await call(h.url, 'POST', '/v1/keys', { json: { name: 'a client', role: 'client' } })).body.key as string;
    const body = { sceneId, frames: [0], size: '64x64' };
    expect((await call(h.url, 'POST', '/v1/quote', { json: body, token: client })).body).toMatchObject({ code: 'SCENE_UNKNOWN' });
    expect((await call(h.url, 'GET', `/v1/jobs/${jobId}/ledger`, { token: client })).body).toMatchObject({ code: 'JOB_NOT_FOUND' });
    const refused = await call(h.url, 'GET', '/v1/ledger', { token: client });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('FORBIDDEN');
    expect((await call(h.url, 'POST', '/v1/quote', { json: body, token: null })).status).toBe(401);
    expect((await call(h.url, 'GET', `/v1/jobs/${jobId}/ledger`)).status).toBe(200);
  });

  it('compares pixels, not bytes, when the renderer versions differ', async () => {
    const h = await start();
    const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
    const v1 = await TestNode.register(h, 'old', { version: 'tessera-render/0.1.0' });
    const v2 = await TestNode.register(h, 'new', { version: 'tessera-render/0.2.0' });
    for (const n of [v1, v2]) expect(await n.lease(0)).toBeNull();

    const same = await submit(h, sceneId);
    await v1.finish((await v1.lease())!, await png([200, 100, 50], 1));
    await v2.finish((await v2.lease())!, await png([200, 100, 50], 9)); // other bytes, same picture
    expect((await status(h, same)).tasks[0]).toMatchObject({ state: 'done', verification: { state: 'verified', verifiedBy: [v1.id, v2.id] } });

    const tinted = await submit(h, sceneId);
    await v1.finish((await v1.lease())!, await png([200, 100, 50], 1));
    await v2.finish((await v2.lease())!, await png([255, 100, 50], 1));
    const s = await status(h, tinted);
    // A disagreement: a third node must decide, and nobody else is registered, so it waits.
    expect(s.tasks[0].verification!.state).toBe('pending');
    expect(s.tasks.filter((t) => t.kind === 'verify' && t.state === 'queued')).toHaveLength(1);
  });

  it('tessera render --api saves a frame again when it is re-stitched after its node was blocklisted', async () => {
    harness = await startHarness({ api: { verification: { sampleRate: 0 } } });
    const h = harness;
    const [liar, honest] = [await TestNode.register(h, 'liar'), await TestNode.register(h, 'honest')];
    const out = await mkdtemp(path.join(tmpdir(), 'tessera-resave-'));
    const saved: string[] = [];
    const rendering = renderOnFarm({
      api: h.url,
      apiKey: TEST_API_KEY,
      scene: path.join(ROOT, 'scenes/animated-trs.glb'),
      request: { frames: '0-1', size: '64x64' },
      outDir: out,
      probe: false,
      onFrameSaved: (e) => saved.push(path.basename(e.file)),
    });
    // The liar's frame 0 is accepted unverified (sample rate 0) and saved at once.
    const lie = (await liar.lease(5))!;
    await liar.finish(lie, fakePng('tinted frame 0'));
    const file = path.join(out, 'frame-0000.png');
    for (let i = 0; i < 100 && !saved.includes('frame-0000.png'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await readFile(file)).toEqual(Buffer.from(fakePng('tinted frame 0')));
    // Caught elsewhere (as a vote does): everything it delivered in the running job is rendered again.
    const store = createSqliteJobStore(path.join(h.dir, 'api'));
    await store.blocklistNode(liar.id, 'caught lying on another job', Date.now());
    await store.close();
    // Blocklisted from outside this API process: its node list (cached nodeCacheMs, 250 ms) catches up first.
    await new Promise((r) => setTimeout(r, 400));
    // The honest node polls as a real one does, until the render is over.
    let over = false;
    const result = rendering.finally(() => (over = true));
    while (!over) {
      const t = await honest.lease(1);
      if (t) await honest.finish(t, fakePng(`true frame ${t.frame}`));
    }
    const summary = await result;
    expect(summary.frames).toEqual([0, 1]);
    expect(await readFile(file)).toEqual(Buffer.from(fakePng('true frame 0')));
    expect(saved.filter((f) => f === 'frame-0000.png')).toHaveLength(2);
    await rm(out, { recursive: true, force: true });
  });
});
