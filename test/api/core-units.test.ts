/** Unit tests of the pure core: tiling and compiling, the state machine, the notifier, the error handler. */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createErrorHandler, notFound } from '../../api/core/error-handler.ts';
import { compileJob, countTasks } from '../../api/core/job-compiler.ts';
import { tileGrid as splitFrame } from '../../api/protocol/tile-grid.ts';
import { createNotifier } from '../../api/core/notifier.ts';
import { stepJob, stepTask } from '../../api/core/state-machine.ts';
import { retryDelayMs, TASK_POLICY_DEFAULTS } from '../../api/core/task-policy.ts';
import { TesseraError } from '../../api/protocol/errors.ts';
import { EncodeSpec, ViewSpec } from '../../api/protocol/render-spec.ts';
import { API_DEFAULTS } from '../../api/core/api-options.ts';
import { PRUNE_DELAY_DEFAULT_MS, PRUNE_MARGIN_MS, pruneDelayMs } from '../../api/core/prune-schedule.ts';

const plan = (width: number, height: number, tile: number | null, frames = [0]) => ({
  jobId: 'job_x',
  sceneId: 's',
  priority: 50,
  view: ViewSpec.parse({ width, height }),
  encode: EncodeSpec.parse({ format: 'jpeg' }),
  frames,
  tile,
});

describe('job compiler', () => {
  it('splits frames into row-major tiles, clipped at the right and bottom edges', () => {
    expect(splitFrame(100, 50, 64)).toEqual([
      { x: 0, y: 0, width: 64, height: 50 },
      { x: 64, y: 0, width: 36, height: 50 },
    ]);
    expect(splitFrame(64, 64, 32)).toHaveLength(4);
    expect(splitFrame(30, 20, null)).toEqual([{ x: 0, y: 0, width: 30, height: 20 }]);
  });

  it('adds one stitch task per multi-tile frame, and none for single-tile frames', () => {
    const tiled = compileJob(plan(64, 64, 32, [0, 5]), 1);
    expect(tiled.tasks.map((t) => `${t.frame}:${t.kind}:${t.final}`)).toEqual([
      '0:render:false',
      '0:render:false',
      '0:render:false',
      '0:render:false',
      '0:stitch:false',
      '5:render:false',
      '5:render:false',
      '5:render:false',
      '5:render:false',
      '5:stitch:false',
    ]);
    // Every key carries its task's opaque token (a verifying render's key looks the same).
    expect(tiled.tasks[1].outputKey).toMatch(/^jobs\/job_x\/tiles\/0\/32_0\.[0-9a-f]{16}\.png$/);
    expect(tiled.tasks[1].taskId).toMatch(/^job_x\.[0-9a-f]{16}$/);
    expect(new Set(tiled.tasks.map((t) => t.taskId)).size).toBe(tiled.tasks.length);
    expect(tiled.tasks[9].outputKey).toMatch(/^jobs\/job_x\/frames\/000005\.[0-9a-f]{16}\.jpg$/);
    expect(countTasks(64, 64, 32, 2)).toBe(tiled.tasks.length);

    const whole = compileJob(plan(64, 64, null, [7]), 1);
    expect(whole.tasks).toHaveLength(1);
    expect(whole.tasks[0]).toMatchObject({ kind: 'render', final: true, outputKey: expect.stringMatching(/^jobs\/job_x\/frames\/000007\.[0-9a-f]{16}\.jpg$/), state: 'queued' });
    expect(countTasks(64, 64, null, 1)).toBe(1);
    expect(whole.job).toMatchObject({ state: 'queued', createdAt: 1, startedAt: null });
  });
});

describe('state machine', () => {
  const { job, tasks } = compileJob(plan(16, 16, null), 0);
  const task = tasks[0];

  it('backs off min(30 s, 1 s · 2^attempt)', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((a) => retryDelayMs(a, TASK_POLICY_DEFAULTS))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('refuses transitions the diagram does not have', () => {
    expect(() => stepTask(task, { type: 'complete', result: { bytes: 1, checksum: 'x' }, now: 1 })).toThrow(TesseraError);
    const leased = stepTask(task, { type: 'lease', nodeId: 'n', leaseId: 'l', now: 1, leaseMs: 10 }).task;
    expect(() => stepTask(leased, { type: 'lease', nodeId: 'n', leaseId: 'l2', now: 2, leaseMs: 10 })).toThrow();
    const done = stepTask(leased, { type: 'complete', result: { bytes: 1, checksum: 'x' }, now: 3 });
    expect(done.change).toMatchObject({ from: 'leased', to: 'done' });
    expect(() => stepTask(done.task, { type: 'cancel', reason: 'x', now: 4 })).toThrow();
    expect(() => stepTask(done.task, { type: 'fail', reason: 'x', nodeFailures: 1, now: 4, policy: TASK_POLICY_DEFAULTS })).toThrow(/already done/);

    const running = stepJob(job, { type: 'start', now: 1 }).job;
    expect(() => stepJob(running, { type: 'start', now: 2 })).toThrow();
    const finished = stepJob(running, { type: 'finish', now: 2 });
    expect(finished.change).toMatchObject({ entity: 'job', from: 'running', to: 'done' });
    expect(() => stepJob(finished.job, { type: 'cancel', now: 3 })).toThrow(expect.objectContaining({ code: 'JOB_FINISHED' }));
  });

  it('requeues an expired lease at once but a failed one after its backoff', () => {
    const leased = stepTask(task, { type: 'lease', nodeId: 'n', leaseId: 'l', now: 100, leaseMs: 10 }).task;
    expect(stepTask(leased, { type: 'expire', nodeFailures: 1, now: 200, policy: TASK_POLICY_DEFAULTS }).task).toMatchObject({ state: 'queued', notBefore: 200 });
    expect(stepTask(leased, { type: 'fail', reason: 'x', nodeFailures: 1, now: 200, policy: TASK_POLICY_DEFAULTS }).task).toMatchObject({ state: 'queued', notBefore: 2200 });
    const last = stepTask(leased, { type: 'fail', reason: 'x', nodeFailures: 3, now: 200, policy: TASK_POLICY_DEFAULTS });
    expect(last.task.state).toBe('failed');
    expect(last.jobFailure).toMatch(/failed on 3 different nodes; last error: x/);
  });
});

describe('notifier', () => {
  it('wakes waiters of a topic, times out otherwise, and stops on abort', async () => {
    const n = createNotifier();
    const woken = n.wait('a', 5000);
    const other = n.wait('b', 30);
    n.notify('a');
    expect(await woken).toBe(true);
    expect(await other).toBe(false);
    const ac = new AbortController();
    const aborted = n.wait('a', 5000, ac.signal);
    ac.abort();
    expect(await aborted).toBe(false);
    n.notify('nobody');
  });

  it('tells a listener of every wake-up of its topic until it stops listening (changes between waits are not lost)', () => {
    const n = createNotifier();
    let heard = 0;
    const stop = n.listen!('a', () => heard++);
    n.notify('a');
    n.notify('b');
    n.notify('a');
    expect(heard).toBe(2);
    stop();
    n.notify('a');
    expect(heard).toBe(2);
  });
});

describe('error handler', () => {
  const app = new Hono();
  const logged: object[] = [];
  app.onError(createErrorHandler({ debug() {}, info() {}, warn() {}, error: (o) => void logged.push(o) }));
  app.notFound(notFound);
  app.get('/tessera', () => {
    throw new TesseraError('CLIP_NOT_FOUND', 'No clip "x".');
  });
  app.get('/zod', () => {
    z.object({ size: z.object({ width: z.number() }) }).parse({ size: { width: 'wide' } });
    return new Response();
  });
  app.get('/http', () => {
    throw new HTTPException(401);
  });
  app.get('/bug', () => {
    throw new Error('secret internals at /srv/app.ts:12');
  });

  it('answers {code, message} for every kind of error, never leaking internals', async () => {
    const answer = async (route: string) => {
      const res = await app.request(route);
      return { status: res.status, body: await res.json() };
    };
    expect(await answer('/tessera')).toEqual({ status: 422, body: { code: 'CLIP_NOT_FOUND', message: 'No clip "x".' } });
    const zod = await answer('/zod');
    expect(zod.status).toBe(400);
    expect(zod.body.code).toBe('BAD_REQUEST');
    expect(zod.body.message).toMatch(/size\.width/);
    expect(await answer('/http')).toEqual({ status: 401, body: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    const bug = await answer('/bug');
    expect(bug).toEqual({ status: 500, body: { code: 'INTERNAL', message: 'Internal error.' } });
    expect(JSON.stringify(bug.body)).not.toMatch(/secret|srv/);
    expect(logged).toHaveLength(1);
    expect((await answer('/missing')).body.code).toBe('NOT_FOUND');
  });
});

describe('storage clean-up schedule', () => {
  it("is due when the API's upload URLs have all expired, plus a margin (the default follows API_DEFAULTS)", () => {
    expect(pruneDelayMs(1)).toBe(1000 + PRUNE_MARGIN_MS);
    expect(PRUNE_DELAY_DEFAULT_MS).toBe(pruneDelayMs(API_DEFAULTS.nodeUrlSeconds));
  });
});
