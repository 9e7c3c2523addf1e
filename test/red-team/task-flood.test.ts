/**
 * Red team: a key that asks for as many tasks as it can for few megapixels. The megapixel budget counts pixels,
 * but the farm's cost is per task (a lease, a render, an upload, a completion, a database row each): a
 * 4096×4096 frame at 16 px tiles is 65,537 tasks for 17 MP, so a client key's 100 active jobs could hold 6.5
 * million tasks within its budget, each job's rows inserted in one request (about 6 s of the API for a
 * 100,000-task job, measured here). Now the tasks not yet done across a key's queued and running jobs are capped
 * (`maxActiveTasks`, counted from the task rows): past it, 429 QUOTA_EXCEEDED naming the cap.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_LIMIT_DEFAULTS } from '../../api/core/client-keys.ts';
import { call, ROOT, startHarness, type Harness } from '../support/api-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('task floods', () => {
  it('tiny tiles past the key’s active tasks → 429 QUOTA_EXCEEDED naming maxActiveTasks; big tiles within it are accepted', async () => {
    const created = await call(h.url, 'POST', '/v1/keys', { json: { name: 'tile-flooder', role: 'client', limits: { maxActiveTasks: 3000 } } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const token = created.body.key;
    const bytes = await readFile(path.join(ROOT, 'scenes/animated-trs.glb'));
    const scene = await call(h.url, 'POST', '/v1/scenes', { body: bytes, type: 'model/gltf-binary', token });
    expect(scene.status).toBe(201);
    const submit = (size: string, tile: number) => call(h.url, 'POST', '/v1/jobs', { json: { sceneId: scene.body.sceneId, size, tile, frames: '0' }, token });

    // 32 × 32 tiles of 16 px + a stitch: 1,025 tasks for 0.26 MP. Two fit under 3,000, the third does not.
    expect((await submit('512x512', 16)).status).toBe(201);
    expect((await submit('512x512', 16)).status).toBe(201);
    const third = await submit('512x512', 16);
    expect(third.status, JSON.stringify(third.body)).toBe(429);
    expect(third.body.code).toBe('QUOTA_EXCEEDED');
    expect(third.body.message).toMatch(/maxActiveTasks|3000 tasks/);
    // The same picture in 4 tiles (5 tasks) still fits.
    expect((await submit('512x512', 256)).status).toBe(201);
    // A client key's default is finite.
    expect(ROLE_LIMIT_DEFAULTS.client.maxActiveTasks).toBeLessThan(1_000_000);
  });
});
