/**
 * The lie of corrupt-output.test.ts told inside the completion (node protocol 3): the tiles are small, so real
 * render nodes send them inline, and the test-only TESSERA_TEST_FAULT switch makes one node truncate them and
 * one flip a byte while both report the real tile's size and sha256. The API hashes inline bytes itself:
 * every such completion is refused (OUTPUT_CORRUPT), nothing broken is stored, the liars' attempts fail, an
 * honest node redoes those tasks, the liars are credited nothing, and the frames equal a local render.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient, type TesseraClient } from '../../api/client/index.ts';
import { TEST_API_KEY } from '../support/api-harness.ts';
import { checkJobFrames, waitFor } from '../support/farm-checks.ts';
import { startTestFarm } from '../support/farm.ts';
import { createTestRenderer, scenePath } from '../support/renderer.ts';
import { createStatusRecorder } from '../support/status-recorder.ts';

const recorder = createStatusRecorder();
let farm: Awaited<ReturnType<typeof startTestFarm>>;
let client: TesseraClient;
let local: Awaited<ReturnType<typeof createTestRenderer>>;

beforeAll(async () => {
  // Liars burn attempts fast: allow enough of them that the job outlives the liars.
  farm = await startTestFarm({ leaseMs: 4000, logger: recorder, api: { policy: { retryBaseMs: 250, retryMaxMs: 2000, maxAttempts: 40 } } });
  client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
  local = await createTestRenderer();
}, 60_000);

afterAll(async () => {
  local?.dispose();
  await farm?.close();
});

describe('a node that sends a corrupt output inline', () => {
  it('is refused by the API (OUTPUT_CORRUPT); the tasks are redone elsewhere, the liars earn nothing, the frames are right', async () => {
    const truncating = farm.spawnNode('liar-truncate', { concurrency: 1, env: { TESSERA_TEST_FAULT: 'truncate' } });
    const flipping = farm.spawnNode('liar-corrupt', { concurrency: 1, env: { TESSERA_TEST_FAULT: 'corrupt' } });
    const { sceneId } = await client.uploadScene(new Uint8Array(await readFile(scenePath('animated-trs'))));
    const view = { width: 160, height: 120 };
    const { jobId } = await client.submitJob({ sceneId, frames: '0-1', size: '160x120', tile: 80 });

    // Wait until the API has refused an inline output of each liar, remembering which tasks.
    const refused = new Map<string, string>();
    const refusedBy = new Set<string>();
    // Every refusal seen (a task refused for one liar may be refused again for the other before the next look).
    const seen = new Set<string>();
    await waitFor('both liars refused', async () => {
      const job = await client.getJob(jobId);
      if (job.state !== 'running' && job.state !== 'queued') throw Object.assign(new Error(`job ${job.state}: ${job.error}`), { fatal: true });
      for (const t of job.tasks) {
        if (!t.error) continue;
        expect(t.error).toMatch(/^OUTPUT_CORRUPT: the inline output has (\d+ bytes|sha256 [0-9a-f]{64}), but the node reported/);
        refused.set(t.taskId, t.error);
        seen.add(t.error);
        refusedBy.add(t.node!.includes('liar-truncate') ? 'truncate' : 'corrupt');
      }
      // Both liars refused, and both ways: the truncated bytes by their length, the flipped ones by their sha256.
      const both = [...seen].some((e) => /inline output has \d+ bytes/.test(e)) && [...seen].some((e) => /inline output has sha256/.test(e));
      return refusedBy.size === 2 && both ? true : undefined;
    });
    // The truncated tile is caught by its length, the flipped one (same length) by its sha256.
    expect([...seen].some((e) => /inline output has \d+ bytes/.test(e)), [...seen].join('\n')).toBe(true);
    expect([...seen].some((e) => /inline output has sha256/.test(e)), [...seen].join('\n')).toBe(true);
    for (const liar of [truncating, flipping]) liar.child.kill('SIGKILL');
    farm.spawnNode('honest', { concurrency: 2 });

    const status = await client.waitForJob(jobId);
    expect(status.state).toBe('done');
    expect(status.tiles).toEqual({ done: 8, total: 8 });
    // Every refusal was logged by the API, and each refused task was redone by the honest node, once.
    for (const taskId of refused.keys()) expect(recorder.corruptOutputs).toContain(taskId);
    for (const taskId of refused.keys()) {
      const task = status.tasks.find((t) => t.taskId === taskId)!;
      expect(task.state).toBe('done');
      expect(task.attempts).toBeGreaterThan(1);
      expect(task.node).toContain('honest');
    }
    expect([...recorder.completions.values()].every((n) => n === 1)).toBe(true);
    const ran = status.tasks.filter((t) => !(t.kind === 'verify' && t.state === 'cancelled'));
    expect(ran.every((t) => t.state === 'done')).toBe(true);
    expect(recorder.completions.size).toBe(ran.length);

    // The liars earned nothing: every ledger entry of the job is the honest node's.
    const ledger = await client.jobLedger(jobId);
    expect(Object.keys(ledger.byNode).every((n) => n.includes('honest')), JSON.stringify(Object.keys(ledger.byNode))).toBe(true);

    const listed = await client.frames(jobId);
    const check = await checkJobFrames(listed, [0, 1], (frame) => local.render('animated-trs', view, frame));
    expect(check.problems).toEqual([]);
  });
});
