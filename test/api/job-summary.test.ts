/**
 * `GET /v1/jobs/:id/summary`: the status without its task list, counted in the store — the same state,
 * progress and ETA as `GET /v1/jobs/:id` at every step of a job, and the same access rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus, JobSummary } from '../../api/protocol/job-status.ts';
import { call, fakePng, startHarness, TestNode, uploadSceneFile, type Harness } from './support/api-harness.ts';

let h: Harness;
let sceneId: string;
beforeAll(async () => {
  h = await startHarness();
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterAll(async () => {
  await h?.close();
});

describe('job summary', () => {
  it('matches the full status without the tasks, as the job runs', async () => {
    const node = await TestNode.register(h, 'summariser');
    const { body } = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '64x32', tile: 32, frames: '0-2' } });
    const jobId: string = body.jobId;
    const compare = async () => {
      const status = (await call(h.url, 'GET', `/v1/jobs/${jobId}`)).body as JobStatus;
      const res = await call(h.url, 'GET', `/v1/jobs/${jobId}/summary`);
      expect(res.status).toBe(200);
      const summary = res.body as JobSummary;
      expect(summary).not.toHaveProperty('tasks');
      const { tasks: _tasks, tasksNext: _next, etaSeconds: _eta, ...rest } = status;
      const { etaSeconds, ...same } = summary;
      expect(same).toEqual(rest);
      expect(etaSeconds === null).toBe(status.etaSeconds === null);
      return summary;
    };
    expect(await compare()).toMatchObject({ state: 'queued', frames: { done: 0, total: 3 }, tiles: { done: 0, total: 6 } });
    for (let t = await node.lease(0); t; t = await node.lease(0)) {
      await node.finish(t, fakePng(t.taskId));
      await compare();
    }
    expect(await compare()).toMatchObject({ state: 'done', frames: { done: 3, total: 3 }, tiles: { done: 6, total: 6 }, etaSeconds: 0 });
  });

  it('answers JOB_NOT_FOUND for an unknown job', async () => {
    const res = await call(h.url, 'GET', '/v1/jobs/job_nope/summary');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'JOB_NOT_FOUND' });
  });
});
