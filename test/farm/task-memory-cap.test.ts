/**
 * A batch task's memory cap counts the Chromium its render process drives (task-sandbox.ts with process-tree-memory.ts),
 * on a real farm (API, s3rver, a `--backend auto` render node process, real Chromium). Such a node's render process
 * runs Chromium beside headless-gl, and a WebGL 2 scene's frame is drawn in Chromium's GPU process, whose memory the
 * render process's own VmRSS (all the cap counted before) leaves out. Measured here (2 cores, loaded; Pss of the whole
 * tree): ~820–870 MiB for 160×120 frames of either backend, ~1380 MiB for a 2048² WebGL 2 frame, ~2790 MiB for 4096².
 * With `--task-memory 1600`, a 4096² WebGL 2 frame fails its job (each attempt stopped at the cap) with SCENE_LIMIT_EXCEEDED naming the cap, and the node
 * stays up and healthy and renders the next jobs of both backends.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient, type TesseraClient } from '../../api/client/index.ts';
import { TEST_API_KEY } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { startTestFarm, type NodeProcess } from '../support/farm.ts';
import { ensureRenderHostBuilt } from '../support/render-host.ts';
import { scenePath } from '../support/renderer.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
let client: TesseraClient;
let webgl2Scene: string;
let webgl1Scene: string;
let node: NodeProcess;

beforeAll(async () => {
  ensureRenderHostBuilt();
  // Two attempts, short backoffs: each attempt of the big frame runs until the cap stops it (the default 8 take minutes).
  farm = await startTestFarm({ leaseMs: 8000, api: { policy: { maxAttempts: 2, retryBaseMs: 250, retryMaxMs: 1000 } } });
  client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
  webgl2Scene = (await client.uploadScene(new Uint8Array(await readFile(scenePath('dispersion'))))).sceneId;
  webgl1Scene = (await client.uploadScene(new Uint8Array(await readFile(scenePath('textured-pbr'))))).sceneId;
  node = farm.spawnNode('capped-auto', { concurrency: 1, args: ['--backend', 'auto', '--task-memory', '1600'] });
  await waitFor('the node', async () => ((await client.nodes({ healthy: true })).nodes.length === 1 ? true : undefined), 120_000);
}, 240_000);
afterAll(async () => farm?.close());

async function settled(jobId: string) {
  return waitFor(`job ${jobId}`, async () => {
    const s = await client.getJob(jobId);
    return s.state === 'done' || s.state === 'failed' ? s : undefined;
  }, 240_000);
}

// Linux /proc only: the cap reads the process tree's Pss there.
describe.runIf(process.platform === 'linux')('a batch task over the memory cap in Chromium', () => {
  it('fails its job with a clear error; the node stays healthy and renders on', async () => {
    const big = await client.submitJob({ sceneId: webgl2Scene, frames: [0], size: '4096x4096', camera: 'front' });
    const failed = await settled(big.jobId);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/used \d+ MiB \(its render process and the processes it started, Chromium's included\), over the memory cap of 1600 MiB, and was stopped/);

    // The node is up and healthy, and renders a WebGL 2 (Chromium) and a WebGL 1 (headless-gl) frame.
    expect(node.child.exitCode).toBeNull();
    for (const sceneId of [webgl2Scene, webgl1Scene]) {
      const job = await client.submitJob({ sceneId, frames: [0], size: '160x120' });
      const done = await settled(job.jobId);
      expect(done.state, done.error ?? '').toBe('done');
    }
    const healthy = (await client.nodes({ healthy: true })).nodes;
    expect(healthy.map((n) => n.card.name)).toEqual(['capped-auto']);
    expect(healthy[0].reputation?.blocklisted ?? null).toBeNull();
  }, 420_000);
});
