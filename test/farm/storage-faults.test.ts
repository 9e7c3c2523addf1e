/**
 * Flaky storage: a proxy in front of s3rver fails 20% of the requests (500, 503, connection resets before
 * and after the store handled them) for the API's own calls and for every presigned URL. A tiled job over
 * several frames still completes with every frame right, none lost and none duplicated: each frame listed
 * and stored once, each task completed once.
 */
import { readFile } from 'node:fs/promises';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient, type TesseraClient } from '../../api/client/index.ts';
import { TEST_API_KEY } from '../support/api-harness.ts';
import { checkJobFrames } from '../support/farm-checks.ts';
import { startTestFarm } from '../support/farm.ts';
import { createTestRenderer, scenePath } from '../support/renderer.ts';
import { createStatusRecorder } from '../support/status-recorder.ts';

const recorder = createStatusRecorder();
let farm: Awaited<ReturnType<typeof startTestFarm>>;
let client: TesseraClient;
let local: Awaited<ReturnType<typeof createTestRenderer>>;

beforeAll(async () => {
  farm = await startTestFarm({ leaseMs: 4000, logger: recorder, s3Faults: { failureRate: 0.2, seed: 6 }, api: { policy: { retryBaseMs: 250 } } });
  client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY, retries: 6 });
  for (const name of ['flaky-1', 'flaky-2']) farm.spawnNode(name);
  local = await createTestRenderer();
}, 60_000);

afterAll(async () => {
  local?.dispose();
  await farm?.close();
});

describe('storage failing 20% of requests', () => {
  it('completes a tiled 6-frame job with every frame right, 0 lost and 0 duplicated', async () => {
    const { sceneId } = await client.uploadScene(new Uint8Array(await readFile(scenePath('animated-trs'))));
    const frames = [0, 1, 2, 3, 4, 5];
    const { jobId } = await client.submitJob({ sceneId, frames: '0-5', size: '160x120', tile: 80 });
    const status = await client.waitForJob(jobId);
    expect(status.state, status.error ?? '').toBe('done');
    expect(status.frames).toEqual({ done: 6, total: 6 });
    expect(status.tiles).toEqual({ done: 24, total: 24 });

    // Each task completed exactly once: 24 tiles and 6 stitches, plus any sampled verifying renders (3%).
    const taskIds = status.tasks.map((t) => t.taskId);
    expect(status.tasks.filter((t) => t.kind !== 'verify')).toHaveLength(30);
    expect(taskIds.map((id) => recorder.completions.get(id) ?? 0)).toEqual(taskIds.map(() => 1));

    // Each frame listed once, stored once (no stray objects), right to the pixel.
    const listed = await client.frames(jobId);
    const check = await checkJobFrames(listed, frames, (frame) => local.render('animated-trs', { width: 160, height: 120 }, frame));
    expect(check).toEqual({ duplicated: [], missing: [], problems: [] });
    const s3 = new S3Client({ endpoint: farm.s3.endpoint, region: farm.s3.region, forcePathStyle: true, credentials: { accessKeyId: farm.s3.accessKeyId, secretAccessKey: farm.s3.secretAccessKey } });
    const stored = await s3.send(new ListObjectsV2Command({ Bucket: farm.s3.bucket, Prefix: `jobs/${jobId}/frames/` }));
    s3.destroy();
    expect(stored.Contents?.map((o) => o.Key).sort()).toEqual(listed.frames.map((f) => f.key).sort());

    // The faults really happened, of every kind.
    const { injected, requests } = farm.faults!.counts;
    const total = Object.values(injected).reduce((a, b) => a + b, 0);
    expect(requests).toBeGreaterThan(50);
    expect(total / requests).toBeGreaterThan(0.1);
    for (const n of Object.values(injected)) expect(n).toBeGreaterThan(0);
  });
});
