/**
 * A WebGL 2 scene's session on a `--backend chromium` node whose memory cap (`--task-memory`) is below what the session
 * with its Chromium uses (real API, s3rver, a render node process, real Chromium): the client's socket closes with
 * 4023 OVER_MEMORY_CAP and a reason naming the cap, the API records the session closed with that reason, and the
 * node keeps working: it stays healthy and renders a batch job of the same scene. Batch render processes count their
 * Chromium too (task-sandbox.ts, the same process-tree Pss), so the cap sits between a small batch frame's tree and a
 * large session's: measured here (2 cores, loaded) a Chromium batch process peaks at ~760 MiB measuring its reference
 * tile, a session at 2×512² eyes ~790 MiB, 2×1024² ~920 MiB, 2×2048² ~1480 MiB.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createTesseraClient, type TesseraClient } from '../../api/client/index.ts';
import { SESSION_CLOSE } from '../../api/protocol/session.ts';
import { TEST_API_KEY } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { startTestFarm, type NodeProcess } from '../support/farm.ts';
import { ensureRenderHostBuilt } from '../support/render-host.ts';
import { scenePath } from '../support/renderer.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
let client: TesseraClient;
let sceneId: string;
let node: NodeProcess;

beforeAll(async () => {
  ensureRenderHostBuilt();
  farm = await startTestFarm({ leaseMs: 8000 });
  client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
  sceneId = (await client.uploadScene(new Uint8Array(await readFile(scenePath('dispersion'))))).sceneId;
  // 1100 MiB: a batch render process with its Chromium stays under it (~760 MiB), a 2×2048² session's tree (~1480 MiB) does not.
  node = farm.spawnNode('small-chromium', { concurrency: 1, args: ['--backend', 'chromium', '--task-memory', '1100'] });
  await waitFor('the node', async () => ((await client.nodes({ healthy: true })).nodes.length === 1 ? true : undefined), 120_000);
}, 240_000);
afterAll(async () => farm?.close());

describe.runIf(process.platform === 'linux')('a Chromium session over the node\'s memory cap', () => {
  it('ends with 4023 and a reason; the API records it; the node keeps serving', async () => {
    const placed = await client.createSession({ sceneId, eye: '2048x2048' });
    const ws = new WebSocket(placed.url);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', ticket: placed.ticket })));
    ws.on('error', () => {});
    // Poses until the session ends (it may end while loading, before ready).
    const eyes = [{ view: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, -4, 1], projection: [1.5, 0, 0, 0, 0, 1.5, 0, 0, 0, 0, -1, -1, 0, 0, -0.2, 0] }];
    let seq = 0;
    const timer = setInterval(() => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'pose', seq: ++seq, sentAt: Date.now(), eyes: [eyes[0], eyes[0]] }));
    }, 100);
    const end = await closed;
    clearInterval(timer);
    expect(end.code, end.reason).toBe(SESSION_CLOSE.OVER_MEMORY_CAP);
    expect(end.reason).toMatch(/^memory cap: .* used \d+ MiB, over the node's cap of 1100 MiB$/);
    const view = await waitFor('the API to record it closed', async () => {
      const s = await client.getSession(placed.sessionId);
      return s.state === 'closed' ? s : undefined;
    }, 60_000);
    expect(view.closeReason).toMatch(/memory cap/);

    // The node is up and healthy, and renders a batch frame of the same scene.
    expect(node.child.exitCode).toBeNull();
    const job = await client.submitJob({ sceneId, frames: [0], size: '160x120', camera: 'front' });
    const done = await waitFor(`job ${job.jobId}`, async () => {
      const s = await client.getJob(job.jobId);
      if (s.state === 'failed') throw Object.assign(new Error(`job failed: ${s.error}`), { fatal: true });
      return s.state === 'done' ? s : undefined;
    }, 120_000);
    expect(done.state).toBe('done');
    expect((await client.nodes({ healthy: true })).nodes.map((n) => n.card.name)).toEqual(['small-chromium']);
  }, 300_000);
});
