/**
 * Nodes that upload a broken tile but report the real one's size and sha256 (the test-only
 * TESSERA_TEST_FAULT switch): one truncates, one flips a byte (same size: only the sha256 tells). Their PUT
 * URLs are signed for the reported bytes, so storage itself refuses the bodies (400 BadDigest, as S3 does):
 * nothing broken is ever stored, the API never even sees a corrupt object, the liars' attempts fail, an honest
 * node redoes those tasks, the liars are credited nothing, and the job's frames equal a local render pixel for
 * pixel. This farm takes no output inline (`inlineOutputBytes: 0`), so every output goes through the
 * storage-checked upload; corrupt-inline-output.test.ts is the same lie told inside the completion.
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
  farm = await startTestFarm({ leaseMs: 4000, logger: recorder, api: { inlineOutputBytes: 0, policy: { retryBaseMs: 250, retryMaxMs: 2000, maxAttempts: 40 } } });
  client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
  local = await createTestRenderer();
}, 60_000);

afterAll(async () => {
  local?.dispose();
  await farm?.close();
});

describe('a node that uploads a corrupt output', () => {
  it('is refused by storage (BadDigest) before the API sees it; the tasks are redone elsewhere, the liars earn nothing, the frames are right', async () => {
    const truncating = farm.spawnNode('liar-truncate', { concurrency: 1, env: { TESSERA_TEST_FAULT: 'truncate' } });
    const flipping = farm.spawnNode('liar-corrupt', { concurrency: 1, env: { TESSERA_TEST_FAULT: 'corrupt' } });
    const { sceneId } = await client.uploadScene(new Uint8Array(await readFile(scenePath('animated-trs'))));
    const view = { width: 160, height: 120 };
    const { jobId } = await client.submitJob({ sceneId, frames: '0-1', size: '160x120', tile: 80 });

    // Wait until storage has refused an upload of each liar, remembering which tasks.
    const refused = new Map<string, string>();
    const refusedBy = new Set<string>();
    await waitFor('both liars refused', async () => {
      const job = await client.getJob(jobId);
      if (job.state !== 'running' && job.state !== 'queued') throw Object.assign(new Error(`job ${job.state}: ${job.error}`), { fatal: true });
      for (const t of job.tasks) {
        if (!t.error) continue;
        expect(t.error).toMatch(/^STORAGE_FAILED: uploading the render output of frame \d failed: HTTP 400 [\s\S]*<Code>BadDigest<\/Code>/);
        refused.set(t.taskId, t.error);
        refusedBy.add(t.node!.includes('liar-truncate') ? 'truncate' : 'corrupt');
      }
      return refusedBy.size === 2 ? true : undefined;
    });
    for (const liar of [truncating, flipping]) liar.child.kill('SIGKILL');
    farm.spawnNode('honest', { concurrency: 2 });

    const status = await client.waitForJob(jobId);
    expect(status.state).toBe('done');
    expect(status.tiles).toEqual({ done: 8, total: 8 });
    // Storage refused the bodies before the API saw them: no completion ever met a corrupt object. Each refused
    // task was redone by the honest node, and no task was completed twice.
    expect(recorder.corruptOutputs).toEqual([]);
    for (const taskId of refused.keys()) {
      const task = status.tasks.find((t) => t.taskId === taskId)!;
      expect(task.state).toBe('done');
      expect(task.attempts).toBeGreaterThan(1);
      expect(task.node).toContain('honest');
    }
    expect([...recorder.completions.values()].every((n) => n === 1)).toBe(true);
    // Every task that ran completed exactly once. Verify tasks sampled for the honest node's first results may be
    // cancelled unrun when no other node is left to verify them (the liars are dead): those never complete.
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
