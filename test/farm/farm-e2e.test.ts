import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import type { ViewSpecInput } from '../../api/protocol/render-spec.ts';
import { call } from '../support/api-harness.ts';
import { checkJobFrames, waitFor } from '../support/farm-checks.ts';
import { farmApi } from '../support/farm-api.ts';
import { startTestFarm, type NodeProcess } from '../support/farm.ts';
import { createTestRenderer, scenePath } from '../support/renderer.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
/** The nodes still alive (the farm kills every node it started when it closes). */
let nodes: NodeProcess[] = [];
let local: Awaited<ReturnType<typeof createTestRenderer>>;
let sceneId: string;

const { api, jobDone } = farmApi(() => farm.url);

beforeAll(async () => {
  farm = await startTestFarm({ leaseMs: 4000 });
  nodes = [farm.spawnNode('e2e-1'), farm.spawnNode('e2e-2')];
  local = await createTestRenderer();
  ({ sceneId } = await api('POST', '/v1/scenes', new Uint8Array(await readFile(scenePath('animated-trs')))));
}, 120_000);

afterAll(async () => {
  local?.dispose();
  await farm?.close();
});

/** Every frame of the job, downloaded through its presigned URLs, equals the local untiled render. */
async function expectFramesMatchLocal(jobId: string, frames: number[], view: ViewSpecInput) {
  const listed = (await api('GET', `/v1/jobs/${jobId}/frames`)) as JobFrames;
  expect(listed.frames.map((f) => f.frame)).toEqual(frames);
  const check = await checkJobFrames(listed, frames, (frame) => local.render('animated-trs', view, frame));
  expect(check.problems).toEqual([]);
  return listed;
}

describe('the farm on loopback (real S3, API and render nodes)', () => {
  const view = { width: 320, height: 240 };

  it('renders 8 frames × 4 tiles on 2 nodes, equal to a local untiled render pixel for pixel', async () => {
    const { jobId } = await api('POST', '/v1/jobs', { sceneId, frames: '0-7', size: '320x240', tile: 160 });
    const status = await jobDone(jobId);
    expect(status.tiles).toEqual({ done: 32, total: 32 });
    expect(status.frames).toEqual({ done: 8, total: 8 });
    expect(new Set(status.tasks.map((t) => t.node)).size).toBe(2);
    const listed = await expectFramesMatchLocal(jobId, [0, 1, 2, 3, 4, 5, 6, 7], view);

    // The objects in S3 are what the API says they are.
    const s3 = new S3Client({ endpoint: farm.s3.endpoint, region: farm.s3.region, forcePathStyle: true, credentials: { accessKeyId: farm.s3.accessKeyId, secretAccessKey: farm.s3.secretAccessKey } });
    const objects = await s3.send(new ListObjectsV2Command({ Bucket: farm.s3.bucket, Prefix: `jobs/${jobId}/frames/` }));
    expect(objects.Contents?.map((o) => o.Key).sort()).toEqual(listed.frames.map((f) => f.key).sort());
    for (const f of listed.frames) {
      const body = await (await s3.send(new GetObjectCommand({ Bucket: farm.s3.bucket, Key: f.key }))).Body!.transformToByteArray();
      expect(body.length).toBe(f.bytes);
      expect(createHash('sha256').update(body).digest('hex')).toBe(f.checksum);
    }
  });

  it('renders tiled panoramas (equirect, omni-directional stereo, cube) equal to local untiled renders', async () => {
    const cases = [
      { size: '256x128', tile: 64, view: { width: 256, height: 128, projection: 'equirect', ssaa: 2 } },
      { size: '128x128', tile: 48, view: { width: 128, height: 128, projection: 'equirect-stereo', ipd: 0.2 } },
      { size: '288x48', tile: 100, view: { width: 288, height: 48, projection: 'cube' } },
    ] as const;
    for (const c of cases) {
      const { jobId } = await api('POST', '/v1/jobs', { sceneId, frames: '3', size: c.size, tile: c.tile, ...c.view, width: undefined, height: undefined });
      await jobDone(jobId);
      await expectFramesMatchLocal(jobId, [3], c.view);
    }
    // A panorama of the wrong shape is refused before anything runs.
    const bad = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId, frames: '0', size: '300x100', projection: 'equirect' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/2:1/);
  });

  it('survives an API restart mid-job without losing or duplicating a frame', async () => {
    const { jobId } = await api('POST', '/v1/jobs', { sceneId, frames: '8-23', size: '320x240', tile: 160 });
    await waitFor('first frame', async () => ((await api('GET', `/v1/jobs/${jobId}`)) as JobStatus).frames.done > 0 || undefined);
    await farm.restartApi(1000);
    const status = await jobDone(jobId);
    expect(status.frames).toEqual({ done: 16, total: 16 });
    await expectFramesMatchLocal(jobId, Array.from({ length: 16 }, (_, i) => 8 + i), view);
  });

  it('finishes the job when a node is SIGKILLed mid-task (its lease expires)', async () => {
    const { jobId } = await api('POST', '/v1/jobs', { sceneId, frames: '24-39', size: '640x480', tile: 160, ssaa: 2 });
    // Kill a node while it holds a lease on this job.
    const victim = await waitFor('a node holding a lease', async () => {
      const s = (await api('GET', `/v1/jobs/${jobId}`)) as JobStatus;
      const holders = new Set(s.tasks.filter((t) => t.state === 'leased').map((t) => t.node));
      return nodes.find((n) => [...holders].some((h) => h === n.name || h?.includes(n.name)));
    });
    victim.child.kill('SIGKILL');
    nodes = nodes.filter((n) => n !== victim);
    const status = await jobDone(jobId);
    expect(status.frames).toEqual({ done: 16, total: 16 });
    expect(status.tasks.filter((t) => t.attempts > 1).length).toBeGreaterThan(0);
    await expectFramesMatchLocal(jobId, Array.from({ length: 16 }, (_, i) => 24 + i), { width: 640, height: 480, ssaa: 2 });
  });

  it('a SIGTERMed node drains: it finishes or hands back its work and exits 0', async () => {
    const n = nodes[0];
    const { jobId } = await api('POST', '/v1/jobs', { sceneId, frames: '40-44', size: '320x240' });
    await waitFor('a leased task', async () => ((await api('GET', `/v1/jobs/${jobId}`)) as JobStatus).tasks.some((t) => t.state === 'leased') || undefined);
    nodes.push(farm.spawnNode('e2e-4'));
    n.child.kill('SIGTERM');
    expect(await n.exited).toBe(0);
    const status = await jobDone(jobId);
    expect(status.frames).toEqual({ done: 5, total: 5 });
  });
});
