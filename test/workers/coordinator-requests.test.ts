/**
 * One Durable Object request per node route, counted by the coordinator itself through the Worker's
 * `GET /v1/admin/coordinator-requests` (operator key only): an idle node's long-poll in an empty farm is one
 * request however long it waits, a heartbeat one request, a failed attempt one request, and a forged node token none. Each test runs on a farm
 * (coordinator) of its own.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { NODE_PROTOCOL_VERSION } from '../../api/protocol/task.ts';
import { EDGE_NODE_CARD, workerCaller } from './support/worker-caller.ts';
import { compileJob } from '../../api/core/job-compiler.ts';
import { EncodeSpec, ViewSpec } from '../../api/protocol/render-spec.ts';
import { coordinatorFor } from '../../api/edge/coordinator-for.ts';
import { createDurableJobStore } from '../../api/edge/durable-job-store.ts';

/** The shared edge card, with two slots (a long-poll per slot is what the counts below depend on). */
const card = { ...EDGE_NODE_CARD, name: 'counted', region: 'eu', tilesPerSecond: 2, concurrency: 2 };

describe('coordinator requests per route on Workers', () => {
  it('answers the counter only to the operator key', async () => {
    const call = workerCaller({ ...env, FARM: `count-auth-${Date.now()}` });
    expect(await call('GET', '/v1/admin/coordinator-requests', undefined, null)).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    expect(await call('GET', '/v1/admin/coordinator-requests', undefined, 'tsk_not_the_operator')).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    const ok = await call('GET', '/v1/admin/coordinator-requests', undefined, env.TESSERA_API_KEY);
    expect(ok.status).toBe(200);
    expect(typeof ok.body!.requests).toBe('number');
  });

  it('an idle long-poll in an empty farm is one request, and so is a heartbeat', async () => {
    const call = workerCaller({ ...env, FARM: `count-idle-${Date.now()}` });
    const count = async () => (await call('GET', '/v1/admin/coordinator-requests', undefined, env.TESSERA_API_KEY)).body!.requests as number;
    const reg = await call('POST', '/v1/nodes', card, null);
    expect(reg.status).toBe(201);
    const { nodeId, nodeToken } = reg.body as { nodeId: string; nodeToken: string };
    // A first lease call warms the isolate's view (routing, the verifier's sweep): then the steady state is counted.
    expect((await call('POST', `/v1/nodes/${nodeId}/lease`, { waitSeconds: 0, max: 2, protocol: NODE_PROTOCOL_VERSION }, nodeToken)).status).toBe(204);
    // …and a first heartbeat stores the node's starting network coordinate.
    expect((await call('POST', `/v1/nodes/${nodeId}/heartbeat`, { leaseIds: [], load: 0 }, nodeToken)).status).toBe(200);
    const before = await count();
    const started = Date.now();
    expect((await call('POST', `/v1/nodes/${nodeId}/lease`, { waitSeconds: 1, max: 2, protocol: NODE_PROTOCOL_VERSION }, nodeToken)).status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect((await count()) - before).toBe(1);
    const beat = await call('POST', `/v1/nodes/${nodeId}/heartbeat`, { leaseIds: [], load: 0 }, nodeToken);
    expect(beat.status).toBe(200);
    expect((await count()) - before).toBe(2);
    // Wrong tokens are refused in the Worker, without a request: made up, forged (its MAC altered), a valid MAC
    // re-pointed at another node, or of the older unsigned form (which only the store could check).
    const [prefix, , exp, nonce, mac] = nodeToken.split('.');
    const forged = [
      'not-the-token',
      `${prefix}.${nodeId}.${exp}.${nonce}.${mac.slice(0, -2)}${mac.at(-2) === 'A' ? 'B' : 'A'}${mac.at(-1)}`,
      `${prefix}.node_other_0123.${exp}.${nonce}.${mac}`,
      'e'.repeat(64),
    ];
    for (const token of forged) {
      expect((await call('POST', `/v1/nodes/${nodeId}/lease`, { waitSeconds: 0 }, token)).status).toBe(401);
      expect((await call('POST', `/v1/nodes/${nodeId}/heartbeat`, { leaseIds: [], load: 0 }, token)).status).toBe(401);
      expect((await call('POST', '/v1/tasks/task_x/complete', { leaseId: 'lease_x', checksum: '0'.repeat(64), bytes: 1 }, token)).status).toBe(401);
    }
    expect((await count()) - before).toBe(2);
  });

  it('a failed attempt is one request: authentication and the failure in one step', async () => {
    const farmEnv = { ...env, FARM: `count-fail-${Date.now()}` };
    const call = workerCaller(farmEnv);
    const count = async () => (await call('GET', '/v1/admin/coordinator-requests', undefined, env.TESSERA_API_KEY)).body!.requests as number;
    const reg = await call('POST', '/v1/nodes', card, null);
    expect(reg.status).toBe(201);
    const { nodeId, nodeToken } = reg.body as { nodeId: string; nodeToken: string };
    // A job put straight into the farm's store (no storage here to upload a scene to); its node leases a task.
    const store = createDurableJobStore(coordinatorFor(farmEnv));
    await store.putScene({ sceneId: 's'.repeat(64), bytes: 1, stats: {}, info: { cameras: [], cameraNodes: [], clips: [], scenes: [null], defaultScene: 0 }, createdAt: Date.now() });
    const { job, tasks } = compileJob({ jobId: `job_fail_${Date.now()}`, sceneId: 's'.repeat(64), priority: 50, view: ViewSpec.parse({ width: 8, height: 8 }), encode: EncodeSpec.parse({}), frames: [0], tile: null }, Date.now());
    await store.createJob(job, tasks);
    const leased = await call('POST', `/v1/nodes/${nodeId}/lease`, { waitSeconds: 0, max: 1, protocol: NODE_PROTOCOL_VERSION }, nodeToken);
    expect(leased.status).toBe(200);
    const task = (leased.body!.tasks as { taskId: string; leaseId: string }[])[0];
    expect(task.taskId).toBe(tasks[0].taskId);
    const before = await count();
    const failed = await call('POST', `/v1/tasks/${task.taskId}/fail`, { leaseId: task.leaseId, reason: 'gl context lost', sceneFault: false }, nodeToken);
    expect(failed).toMatchObject({ status: 200, body: { taskId: task.taskId, state: 'queued', jobState: 'running' } });
    expect((await count()) - before).toBe(1);
    // The same report again: the lease is gone (409), still one request; a forged token costs none.
    expect((await call('POST', `/v1/tasks/${task.taskId}/fail`, { leaseId: task.leaseId, reason: 'again', sceneFault: false }, nodeToken)).body).toMatchObject({ code: 'LEASE_LOST' });
    expect((await count()) - before).toBe(2);
    expect((await call('POST', `/v1/tasks/${task.taskId}/fail`, { leaseId: task.leaseId, reason: 'x', sceneFault: false }, 'not-the-token')).status).toBe(401);
    expect((await count()) - before).toBe(2);
    expect(await store.getTask(task.taskId)).toMatchObject({ state: 'queued', attempts: 1 });
  });
});
