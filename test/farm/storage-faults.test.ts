/**
 * Flaky storage: a proxy in front of s3rver fails 20% of the requests (500, 503, connection resets before
 * and after the store handled them) for the API's own calls and for every presigned URL. A tiled job over
 * several frames still completes with every frame right, none lost and none duplicated: each frame listed
 * and stored once, each task completed once.
 */
import { readFile } from 'node:fs/promises';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkJobFrames } from '../support/farm-checks.ts';
import { useRecordedFarm } from '../support/recorded-farm.ts';
import { scenePath } from '../support/renderer.ts';

const f = useRecordedFarm({ leaseMs: 4000, s3Faults: { failureRate: 0.2, seed: 6 }, api: { policy: { retryBaseMs: 250 } } }, 6);
beforeAll(() => {
  for (const name of ['flaky-1', 'flaky-2']) f.farm.spawnNode(name);
});

describe('storage failing 20% of requests', () => {
  it('completes a tiled 6-frame job with every frame right, 0 lost and 0 duplicated', async () => {
    const { sceneId } = await f.client.uploadScene(new Uint8Array(await readFile(scenePath('animated-trs'))));
    const frames = [0, 1, 2, 3, 4, 5];
    const { jobId } = await f.client.submitJob({ sceneId, frames: '0-5', size: '160x120', tile: 80 });
    const status = await f.client.waitForJob(jobId);
    expect(status.state, status.error ?? '').toBe('done');
    expect(status.frames).toEqual({ done: 6, total: 6 });
    expect(status.tiles).toEqual({ done: 24, total: 24 });

    // Each task completed exactly once: 24 tiles and 6 stitches, plus any sampled verifying renders (3%).
    const taskIds = status.tasks.map((t) => t.taskId);
    expect(status.tasks.filter((t) => t.kind !== 'verify')).toHaveLength(30);
    expect(taskIds.map((id) => f.recorder.completions.get(id) ?? 0)).toEqual(taskIds.map(() => 1));

    // Each frame listed once, stored once (no stray objects), right to the pixel.
    const listed = await f.client.frames(jobId);
    const check = await checkJobFrames(listed, frames, (frame) => f.local.render('animated-trs', { width: 160, height: 120 }, frame));
    expect(check).toEqual({ duplicated: [], missing: [], problems: [] });
    const s3 = new S3Client({ endpoint: f.farm.s3.endpoint, region: f.farm.s3.region, forcePathStyle: true, credentials: { accessKeyId: f.farm.s3.accessKeyId, secretAccessKey: f.farm.s3.secretAccessKey } });
    const stored = await s3.send(new ListObjectsV2Command({ Bucket: f.farm.s3.bucket, Prefix: `jobs/${jobId}/frames/` }));
    s3.destroy();
    expect(stored.Contents?.map((o) => o.Key).sort()).toEqual(listed.frames.map((frame) => frame.key).sort());

    // The faults really happened, of every kind.
    const { injected, requests } = f.farm.faults!.counts;
    const total = Object.values(injected).reduce((a, b) => a + b, 0);
    expect(requests).toBeGreaterThan(50);
    expect(total / requests).toBeGreaterThan(0.1);
    for (const n of Object.values(injected)) expect(n).toBeGreaterThan(0);
  });
});
