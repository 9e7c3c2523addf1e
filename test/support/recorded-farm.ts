/**
 * The set-up the farm tests about lying nodes and faulty storage share: a farm whose API logs into a status
 * recorder (completions, corrupt outputs), a client on it, and a local renderer to compare its frames with; and
 * the liars' run (two nodes that upload broken tiles while reporting the real ones) and its checks.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect } from 'vitest';
import { createTesseraClient, type JobStatus, type TesseraClient } from '../../api/client/index.ts';
import { TEST_API_KEY, type HarnessOptions } from './api-harness.ts';
import { checkJobFrames, waitFor } from './farm-checks.ts';
import { startTestFarm } from './farm.ts';
import { createTestRenderer, scenePath } from './renderer.ts';
import { createStatusRecorder, type StatusRecorder } from './status-recorder.ts';

export interface RecordedFarm {
  recorder: StatusRecorder;
  farm: Awaited<ReturnType<typeof startTestFarm>>;
  client: TesseraClient;
  local: Awaited<ReturnType<typeof createTestRenderer>>;
}

/**
 * Start a farm (its API logging into a fresh status recorder), a client with `clientRetries` and a local renderer
 * before the file's tests, and stop them after. The fields are filled in once the file's `beforeAll` has run.
 */
export function useRecordedFarm(options: Omit<HarnessOptions, 'logger'>, clientRetries?: number): RecordedFarm {
  const f = { recorder: createStatusRecorder() } as RecordedFarm;
  beforeAll(async () => {
    f.farm = await startTestFarm({ ...options, logger: f.recorder });
    f.client = createTesseraClient({ baseUrl: f.farm.url, apiKey: TEST_API_KEY, ...(clientRetries === undefined ? {} : { retries: clientRetries }) });
    f.local = await createTestRenderer();
  }, 60_000);
  afterAll(async () => {
    f.local?.dispose();
    await f.farm?.close();
  });
  return f;
}

/** The liars' job: animated-trs, frames 0-1 at 160×120 in 80-pixel tiles (8 tiles). */
export const LIAR_JOB = { scene: 'animated-trs', frames: [0, 1], view: { width: 160, height: 120 }, tiles: 8 } as const;

/**
 * Spawn two liars (TESSERA_TEST_FAULT truncate and corrupt, one task at a time), submit LIAR_JOB, and wait until
 * each liar has had a task refused with an error matching `refusal` and `enough(every error seen)` holds; then kill
 * the liars, start an honest node and wait for the job. The refused tasks (id → error) and every error seen.
 */
export async function runLiarsThenHonest(f: RecordedFarm, refusal: RegExp, enough: (seen: Set<string>) => boolean = () => true) {
  const truncating = f.farm.spawnNode('liar-truncate', { concurrency: 1, env: { TESSERA_TEST_FAULT: 'truncate' } });
  const flipping = f.farm.spawnNode('liar-corrupt', { concurrency: 1, env: { TESSERA_TEST_FAULT: 'corrupt' } });
  const { sceneId } = await f.client.uploadScene(new Uint8Array(await readFile(scenePath(LIAR_JOB.scene))));
  const { jobId } = await f.client.submitJob({ sceneId, frames: '0-1', size: '160x120', tile: 80 });

  const refused = new Map<string, string>();
  const refusedBy = new Set<string>();
  // Every refusal seen (a task refused for one liar may be refused again for the other before the next look).
  const seen = new Set<string>();
  await waitFor('both liars refused', async () => {
    const job = await f.client.getJob(jobId);
    if (job.state !== 'running' && job.state !== 'queued') throw Object.assign(new Error(`job ${job.state}: ${job.error}`), { fatal: true });
    for (const t of job.tasks) {
      if (!t.error) continue;
      expect(t.error).toMatch(refusal);
      refused.set(t.taskId, t.error);
      seen.add(t.error);
      refusedBy.add(t.node!.includes('liar-truncate') ? 'truncate' : 'corrupt');
    }
    return refusedBy.size === 2 && enough(seen) ? true : undefined;
  });
  for (const liar of [truncating, flipping]) liar.child.kill('SIGKILL');
  f.farm.spawnNode('honest', { concurrency: 2 });
  const status = await f.client.waitForJob(jobId);
  return { jobId, refused, seen, status };
}

/**
 * What must hold once the honest node finished the liars' job: done, each refused task redone by the honest node,
 * every task that ran completed exactly once, the liars credited nothing, and the frames equal a local render.
 */
export async function expectLiarsCaughtAndRedone(f: RecordedFarm, jobId: string, refused: Map<string, string>, status: JobStatus): Promise<void> {
  expect(status.state).toBe('done');
  expect(status.tiles).toEqual({ done: LIAR_JOB.tiles, total: LIAR_JOB.tiles });
  for (const taskId of refused.keys()) {
    const task = status.tasks.find((t) => t.taskId === taskId)!;
    expect(task.state).toBe('done');
    expect(task.attempts).toBeGreaterThan(1);
    expect(task.node).toContain('honest');
  }
  expect([...f.recorder.completions.values()].every((n) => n === 1)).toBe(true);
  // Every task that ran completed exactly once. Verify tasks sampled for the honest node's first results may be
  // cancelled unrun when no other node is left to verify them (the liars are dead): those never complete.
  const ran = status.tasks.filter((t) => !(t.kind === 'verify' && t.state === 'cancelled'));
  expect(ran.every((t) => t.state === 'done')).toBe(true);
  expect(f.recorder.completions.size).toBe(ran.length);

  // The liars earned nothing: every ledger entry of the job is the honest node's.
  const ledger = await f.client.jobLedger(jobId);
  expect(Object.keys(ledger.byNode).every((n) => n.includes('honest')), JSON.stringify(Object.keys(ledger.byNode))).toBe(true);

  const listed = await f.client.frames(jobId);
  const check = await checkJobFrames(listed, [...LIAR_JOB.frames], (frame) => f.local.render(LIAR_JOB.scene, LIAR_JOB.view, frame));
  expect(check.problems).toEqual([]);
}
