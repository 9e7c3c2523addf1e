import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobFrames } from '../../api/protocol/job-status.ts';
import { checkJobFrames, waitFor } from '../support/farm-checks.ts';
import { farmApi } from '../support/farm-api.ts';
import { startTestFarm, type NodeProcess } from '../support/farm.ts';
import { descendants } from '../support/process-tree.ts';
import { createTestRenderer, scenePath } from '../support/renderer.ts';

/**
 * A node whose slots fill its cores draws on one rasterizer thread per slot (busy slots must not take turns on the
 * cores), and keeps one wide render process, with a rasterizer thread per core, for a task that runs alone on it
 * (start-render-node.ts, raster-threads.ts). The node here: 2 slots on `--cores 2`, LP_NUM_THREADS unset.
 */
let farm: Awaited<ReturnType<typeof startTestFarm>>;
let node: NodeProcess;
let local: Awaited<ReturnType<typeof createTestRenderer>>;
let sceneId: string;

const { api, jobDone } = farmApi(() => farm.url);

/** The node's `task done` lines of a job: whether each ran on the wide render process. */
const tasksOf = (jobId: string) =>
  node.log
    .filter((line) => line.includes('"msg":"task done"') && line.includes(jobId))
    .map((line) => JSON.parse(line) as { frame: number; costs: { wide?: boolean } });

beforeAll(async () => {
  farm = await startTestFarm({ leaseMs: 6000 });
  node = farm.spawnNode('wide-1', { concurrency: 2, args: ['--cores', '2'], env: { LP_NUM_THREADS: '' } });
  local = await createTestRenderer();
  ({ sceneId } = await api('POST', '/v1/scenes', new Uint8Array(await readFile(scenePath('animated-trs')))));
  await waitFor('the node to register', async () => (node.log.some((l) => l.includes('"msg":"registered"')) ? true : undefined), 120_000);
}, 150_000);

afterAll(async () => {
  local?.dispose();
  await farm?.close();
});

describe("a node's wide render process", () => {
  it('registers with one-thread slots and a wide process of a thread per core', () => {
    const registered = JSON.parse(node.log.find((l) => l.includes('"msg":"registered"'))!) as { rasterThreads: unknown; wideRasterThreads?: number };
    expect(registered.rasterThreads).toBe(0);
    expect(registered.wideRasterThreads).toBe(2);
  });

  it("draws a lone frame there once it holds the frame's scene, with the pixels of a local render", async () => {
    const single = async (frame: number) => {
      const { jobId } = await api('POST', '/v1/jobs', { sceneId, frames: String(frame), size: '320x240' });
      await jobDone(jobId);
      const listed = (await api('GET', `/v1/jobs/${jobId}/frames`)) as JobFrames;
      const check = await checkJobFrames(listed, [frame], (f) => local.render('animated-trs', { width: 320, height: 240 }, f));
      expect(check.problems).toEqual([]);
      await waitFor('the task done line', async () => (tasksOf(jobId).length ? true : undefined), 10_000);
      return tasksOf(jobId)[0].costs.wide === true;
    };
    // The scene is new to the wide process: the first lone frame goes to a slot, then the idle node warms the wide
    // process with that scene (a small untimed frame there).
    expect(await single(7)).toBe(false);
    await waitFor('the wide process to be warmed', async () => (node.log.some((l) => l.includes('"msg":"wide render process warmed"')) ? true : undefined), 60_000);
    expect(await single(8)).toBe(true);
  });

  it('leaves tasks that arrive together to the one-thread slots, with the pixels of a local render', async () => {
    const frames = [0, 1, 2, 3, 4, 5];
    const { jobId } = await api('POST', '/v1/jobs', { sceneId, frames: '0-5', size: '320x240' });
    await jobDone(jobId);
    const listed = (await api('GET', `/v1/jobs/${jobId}/frames`)) as JobFrames;
    const check = await checkJobFrames(listed, frames, (frame) => local.render('animated-trs', { width: 320, height: 240 }, frame));
    expect(check.problems).toEqual([]);
    await waitFor('the task done lines', async () => (tasksOf(jobId).length >= frames.length ? true : undefined), 10_000);
    // The first lease brings several tasks at once: those start on the slots, not the wide process.
    expect(tasksOf(jobId).filter((t) => !t.costs.wide).length).toBeGreaterThan(0);
  });

  it.runIf(process.platform === 'linux')('runs the slots on no rasterizer thread of their own and the wide process on one per core', () => {
    const workers = [...descendants(node.child.pid!)].filter(([, cmd]) => /task-worker/.test(cmd)).map(([pid]) => pid);
    expect(workers).toHaveLength(3);
    const byThreads = workers.map((pid) => {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((e) => e.startsWith('LP_NUM_THREADS='));
      const rasterizers = readdirSync(`/proc/${pid}/task`).filter((tid) => /^llvmpipe/.test(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8')));
      return `${env} ${rasterizers.length}`;
    });
    expect(byThreads.sort()).toEqual(['LP_NUM_THREADS=0 0', 'LP_NUM_THREADS=0 0', 'LP_NUM_THREADS=2 2']);
  });
});
