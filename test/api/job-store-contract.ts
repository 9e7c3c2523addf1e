/**
 * The JobStore contract: one suite every job store must pass (SQLite now, the Durable Object store
 * later). Time is passed in explicitly, so expiry and backoff are tested without waiting.
 */
import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import { compileJob, type JobPlan } from '../../api/core/job-compiler.ts';
import { FINISHED_FRAMES_START, type JobStore, type NodeRecord, type SceneRecord, type TaskRecord, type TaskRoute } from '../../api/core/job-store.ts';
import type { NodeCard } from '../../api/protocol/node-card.ts';
import { TASK_POLICY_DEFAULTS, type TaskPolicy } from '../../api/core/task-policy.ts';
import { PRUNE_DELAY_DEFAULT_MS } from '../../api/core/prune-schedule.ts';
import { isTesseraError, type ErrorCode } from '../../api/protocol/errors.ts';
import { EncodeSpec, ViewSpec } from '../../api/protocol/render-spec.ts';

export interface JobStoreFixture {
  store: JobStore;
  /** Close the store and open a new one on the same data (a restart). */
  reopen(): Promise<JobStore>;
  /** Close whatever is open and remove the data. */
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;
const policy: TaskPolicy = { ...TASK_POLICY_DEFAULTS, leaseMs: 10_000, retryBaseMs: 1000, retryMaxMs: 30_000 };

const scene: SceneRecord = {
  sceneId: 'a'.repeat(64),
  bytes: 1234,
  stats: { vertices: 8 },
  info: { cameras: ['front'], cameraNodes: ['cam'], clips: [{ name: 'move', duration: 2 }], scenes: [null], defaultScene: 0 },
  createdAt: T0,
};

let jobCount = 0;
/** A compiled job: `frames` frames of width × height in tiles of `tile` px (null: whole frames). */
function makeJob(
  opts: { frames?: number[]; width?: number; height?: number; tile?: number | null; priority?: number; now?: number; routed?: boolean; requirements?: JobPlan['requirements'] } = {},
) {
  const plan: JobPlan = {
    routed: opts.routed,
    requirements: opts.requirements,
    client: opts.routed ? { rttMs: { a: 5 }, location: null, coordinate: null } : null,
    jobId: `job_${++jobCount}_${Math.random().toString(36).slice(2, 8)}`,
    sceneId: scene.sceneId,
    priority: opts.priority ?? 50,
    view: ViewSpec.parse({ width: opts.width ?? 64, height: opts.height ?? 64 }),
    encode: EncodeSpec.parse({}),
    frames: opts.frames ?? [0],
    tile: opts.tile === undefined ? null : opts.tile,
  };
  return compileJob(plan, opts.now ?? T0);
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isTesseraError(err) ? err.code : err).toBe(code);
}

const result = { bytes: 10, checksum: 'c'.repeat(64) };

/** Register the contract suite for the store `factory` makes. */
export function describeJobStoreContract(name: string, factory: () => Promise<JobStoreFixture>): void {
  describe(`JobStore contract: ${name}`, () => {
    let fx: JobStoreFixture;
    let store: JobStore;
    let leaseSeq = 0;
    const lease = (nodeId: string, now = T0) => store.leaseNext({ nodeId, leaseId: `lease_${++leaseSeq}`, now, policy });

    beforeEach(async () => {
      fx = await factory();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('records scenes once', async () => {
      expect(await store.getScene(scene.sceneId)).toBeNull();
      expect(await store.putScene(scene)).toEqual(scene);
      const again = await store.putScene({ ...scene, createdAt: T0 + 5, stats: { other: true } });
      expect(again).toEqual(scene);
      expect(await store.getScene(scene.sceneId)).toEqual(scene);
    });

    it('knows which nodes were handed a scene: those that leased a task of a job on it', async () => {
      expect(await store.nodesGivenScene(scene.sceneId)).toEqual([]);
      const { job, tasks } = makeJob({ frames: [0, 1] });
      await store.createJob(job, tasks);
      expect(await store.nodesGivenScene(scene.sceneId)).toEqual([]);
      await lease('node_b');
      await lease('node_a');
      await lease('node_b');
      expect(await store.nodesGivenScene(scene.sceneId)).toEqual(['node_a', 'node_b']);
      expect(await store.nodesGivenScene('f'.repeat(64))).toEqual([]);
    });

    it('stores a job with its tasks in frame order', async () => {
      const { job, tasks } = makeJob({ frames: [3, 1], width: 64, height: 32, tile: 32 });
      await store.createJob(job, tasks);
      expect(await store.getJob(job.jobId)).toEqual(job);
      expect(await store.getJob('job_missing')).toBeNull();
      const listed = await store.listTasks(job.jobId);
      expect(listed.map((t) => `${t.frame}:${t.kind}:${t.index}`)).toEqual(['1:render:0', '1:render:1', '1:stitch:0', '3:render:0', '3:render:1', '3:stitch:0']);
      const byId = new Map(tasks.map((t) => [t.taskId, t]));
      for (const t of listed) expect(t).toEqual(byId.get(t.taskId));
      expect(await store.getTask(listed[0].taskId)).toEqual(listed[0]);
      expect(await store.getTask('nope')).toBeNull();
    });

    it("lists a frame's tasks, finished frames and progress counts", async () => {
      const { job, tasks } = makeJob({ frames: [0, 1], width: 64, height: 32, tile: 32 });
      await store.createJob(job, tasks);
      expect((await store.listFrameTasks(job.jobId, 1)).map((t) => `${t.frame}:${t.kind}:${t.index}`)).toEqual(['1:render:0', '1:render:1', '1:stitch:0']);
      expect(await store.countTasks(job.jobId)).toEqual({ tasks: 6, tasksDone: 0, renders: 4, rendersDone: 0, framesDone: 0 });
      expect(await store.listFinishedFrames(job.jobId)).toEqual([]);
      for (let i = 0; i < 3; i++) {
        const { task } = (await lease('n1'))!;
        await store.completeTask({ taskId: task.taskId, nodeId: 'n1', leaseId: task.leaseId!, result, now: T0 });
      }
      expect(await store.countTasks(job.jobId)).toEqual({ tasks: 6, tasksDone: 3, renders: 4, rendersDone: 2, framesDone: 1 });
      const finished = await store.listFinishedFrames(job.jobId);
      expect(finished.map((t) => [t.frame, t.kind, t.result])).toEqual([[0, 'stitch', result]]);
      expect(await store.countTasks('job_missing')).toEqual({ tasks: 0, tasksDone: 0, renders: 0, rendersDone: 0, framesDone: 0 });
    });

    it('lists finished frames after a cursor in the order they finished (an earlier frame finishing last included), and after a frame number in frame order', async () => {
      const { job, tasks } = makeJob({ frames: [0, 1, 2, 3] });
      const tiled = makeJob({ frames: [5], width: 64, height: 32, tile: 32, now: T0 + 1 });
      await store.createJob(job, tasks);
      await store.createJob(tiled.job, tiled.tasks);
      const held = new Map<number, TaskRecord>();
      for (let i = 0; i < 4; i++) {
        const { task } = (await lease('n1'))!;
        held.set(task.frame, task);
      }
      expect([...held.keys()].sort()).toEqual([0, 1, 2, 3]);
      const complete = (frame: number, now: number) => store.completeTask({ taskId: held.get(frame)!.taskId, nodeId: 'n1', leaseId: held.get(frame)!.leaseId!, result, now });
      const since = async (after: number, limit = 10, jobId = job.jobId) => {
        const page = await store.listFinishedFramesSince(jobId, after, limit);
        return { frames: page.tasks.map((t) => t.frame), cursor: page.cursor };
      };
      expect(await since(FINISHED_FRAMES_START)).toEqual({ frames: [], cursor: FINISHED_FRAMES_START });
      await complete(2, T0 + 10);
      await complete(3, T0 + 11);
      await complete(1, T0 + 12);
      const first = await since(FINISHED_FRAMES_START);
      expect(first.frames).toEqual([2, 3, 1]);
      expect(first.cursor).toBeGreaterThan(FINISHED_FRAMES_START);
      expect(await since(first.cursor)).toEqual({ frames: [], cursor: first.cursor });
      // The records are listFinishedFrames' own.
      expect([...(await store.listFinishedFramesSince(job.jobId, FINISHED_FRAMES_START, 10)).tasks].sort((a, b) => a.frame - b.frame)).toEqual(await store.listFinishedFrames(job.jobId));
      // Pages of `limit` follow on from each other.
      const page1 = await since(FINISHED_FRAMES_START, 2);
      expect(page1.frames).toEqual([2, 3]);
      expect(await since(page1.cursor, 2)).toEqual({ frames: [1], cursor: first.cursor });

      // Across a restart, frame 0 finishes last: it comes after the cursor though its number is below every frame read.
      store = await fx.reopen();
      await complete(0, T0 + 13);
      const next = await since(first.cursor);
      expect(next.frames).toEqual([0]);
      expect(next.cursor).toBeGreaterThan(first.cursor);
      expect(await since(next.cursor)).toEqual({ frames: [], cursor: next.cursor });

      // Another job's frames are its own; a tiled frame counts once its stitch is done, not its tiles.
      expect(await since(FINISHED_FRAMES_START, 10, tiled.job.jobId)).toEqual({ frames: [], cursor: FINISHED_FRAMES_START });
      for (let i = 0; i < 3; i++) {
        const { task } = (await lease('n1', T0 + 20))!;
        expect(task.jobId).toBe(tiled.job.jobId);
        await store.completeTask({ taskId: task.taskId, nodeId: 'n1', leaseId: task.leaseId!, result, now: T0 + 20 });
      }
      expect((await store.listFinishedFramesSince(tiled.job.jobId, FINISHED_FRAMES_START, 10)).tasks.map((t) => [t.frame, t.kind])).toEqual([[5, 'stitch']]);
      expect(await since(next.cursor)).toEqual({ frames: [], cursor: next.cursor });

      // By frame number: above `afterFrame`, in frame order, at most `limit`.
      const after = async (afterFrame: number, limit: number) => (await store.listFinishedFramesAfter(job.jobId, afterFrame, limit)).map((t) => t.frame);
      expect(await after(-1, 2)).toEqual([0, 1]);
      expect(await after(1, 10)).toEqual([2, 3]);
      expect(await after(3, 10)).toEqual([]);
      expect(await store.listFinishedFramesAfter(job.jobId, -1, 10)).toEqual(await store.listFinishedFrames(job.jobId));
      expect((await store.listFinishedFramesAfter(tiled.job.jobId, -1, 10)).map((t) => [t.frame, t.kind])).toEqual([[5, 'stitch']]);
      expect(await store.listFinishedFramesAfter('job_missing', -1, 10)).toEqual([]);
      expect(await store.listFinishedFramesSince('job_missing', FINISHED_FRAMES_START, 10)).toEqual({ tasks: [], cursor: FINISHED_FRAMES_START });
    });

    it('leases by priority, then job age, then frame; stitches only after their tiles', async () => {
      const old = makeJob({ frames: [0], tile: 32, now: T0 }); // 4 tiles + stitch
      const newer = makeJob({ frames: [0], now: T0 + 1 });
      const urgent = makeJob({ frames: [5, 2], priority: 90, now: T0 + 2 });
      for (const j of [newer, old, urgent]) await store.createJob(j.job, j.tasks);

      const order: TaskRecord[] = [];
      for (let i = 0; i < 7; i++) {
        const got = await lease('n1');
        expect(got).not.toBeNull();
        order.push(got!.task);
      }
      expect(order.map((t) => `${t.jobId === urgent.job.jobId ? 'urgent' : t.jobId === old.job.jobId ? 'old' : 'newer'}:${t.frame}:${t.kind}:${t.index}`)).toEqual([
        'urgent:2:render:0',
        'urgent:5:render:0',
        'old:0:render:0',
        'old:0:render:1',
        'old:0:render:2',
        'old:0:render:3',
        'newer:0:render:0',
      ]);
      expect(await lease('n1')).toBeNull(); // old's stitch waits for its tiles

      for (const t of order.slice(2, 5)) await store.completeTask({ taskId: t.taskId, nodeId: 'n1', leaseId: t.leaseId!, result, now: T0 });
      expect(await lease('n1')).toBeNull();
      await store.completeTask({ taskId: order[5].taskId, nodeId: 'n1', leaseId: order[5].leaseId!, result, now: T0 });
      const stitch = await lease('n2');
      expect(stitch!.task).toMatchObject({ kind: 'stitch', jobId: old.job.jobId, state: 'leased', nodeId: 'n2', attempts: 1 });
    });

    it('starts the job on its first lease and finishes it with its last task', async () => {
      const { job, tasks } = makeJob({ frames: [0, 1] });
      await store.createJob(job, tasks);
      const first = await lease('n1', T0 + 10);
      expect(first!.job).toMatchObject({ state: 'running', startedAt: T0 + 10 });
      expect(first!.task).toMatchObject({ state: 'leased', attempts: 1, nodeId: 'n1', leaseExpiresAt: T0 + 10 + policy.leaseMs });
      expect(first!.changes.map((c) => `${c.entity}:${c.from}->${c.to}`)).toEqual(['task:queued->leased', 'job:queued->running']);

      const second = await lease('n1', T0 + 20);
      expect(second!.changes.map((c) => `${c.entity}:${c.from}->${c.to}`)).toEqual(['task:queued->leased']);
      const a = await store.completeTask({ taskId: first!.task.taskId, nodeId: 'n1', leaseId: first!.task.leaseId!, result, now: T0 + 30 });
      expect(a.job.state).toBe('running');
      expect(a.task).toMatchObject({ state: 'done', result, leaseId: null });
      const b = await store.completeTask({ taskId: second!.task.taskId, nodeId: 'n1', leaseId: second!.task.leaseId!, result, now: T0 + 40 });
      expect(b.job).toMatchObject({ state: 'done', finishedAt: T0 + 40 });
      expect(b.changes.map((c) => `${c.entity}:${c.from}->${c.to}`)).toEqual(['task:leased->done', 'job:running->done']);
      expect(await store.getJob(job.jobId)).toEqual(b.job);
    });

    it('accepts a completion only from the holder of the current lease', async () => {
      const { job, tasks } = makeJob();
      await store.createJob(job, tasks);
      const { task } = (await lease('n1'))!;
      await expectCode(store.completeTask({ taskId: task.taskId, nodeId: 'n1', leaseId: 'lease_other', result, now: T0 }), 'LEASE_LOST');
      await expectCode(store.completeTask({ taskId: task.taskId, nodeId: 'n2', leaseId: task.leaseId!, result, now: T0 }), 'LEASE_LOST');
      await expectCode(store.completeTask({ taskId: 'nope', nodeId: 'n1', leaseId: task.leaseId!, result, now: T0 }), 'TASK_NOT_FOUND');
      await expectCode(store.failTask({ taskId: task.taskId, nodeId: 'n2', leaseId: task.leaseId!, reason: 'x', sceneFault: false, now: T0, policy }), 'LEASE_LOST');
      const done = await store.completeTask({ taskId: task.taskId, nodeId: 'n1', leaseId: task.leaseId!, result, now: T0 });
      expect(done.task.state).toBe('done');
      // The same completion again (the node lost the answer) is answered, not refused; another is refused.
      expect((await store.completeTask({ taskId: task.taskId, nodeId: 'n1', leaseId: task.leaseId!, result, now: T0 })).changes).toEqual([]);
      await expectCode(store.completeTask({ taskId: task.taskId, nodeId: 'n2', leaseId: 'l', result, now: T0 }), 'LEASE_LOST');
      // …and metered once: the repeat credits nothing.
      expect((await store.listLedger({ jobId: job.jobId })).filter((e) => e.taskId === task.taskId)).toHaveLength(1);
    });

    it('retries a failed task after a backoff and fails the job when 3 different nodes failed it', async () => {
      const { job, tasks } = makeJob({ frames: [0, 1] });
      await store.createJob(job, tasks);
      let now = T0;
      let held = (await lease('n1', now))!.task;
      const fail = (nodeId: string, reason: string, sceneFault = false) =>
        store.failTask({ taskId: held.taskId, nodeId, leaseId: held.leaseId!, reason, sceneFault, now, policy });

      let out = await fail('n1', 'boom');
      expect(out.task).toMatchObject({ state: 'queued', error: 'boom', notBefore: now + 2000, leaseId: null });
      expect(out.job.state).toBe('running');
      // Frame 1 is leasable meanwhile; frame 0 is not until its backoff ends.
      const other = (await lease('n9', now + 1999))!.task;
      expect(other.frame).toBe(1);
      expect(await lease('n2', now + 1999)).toBeNull();

      now += 2000;
      held = (await lease('n1', now))!.task;
      expect(held).toMatchObject({ frame: 0, attempts: 2 });
      out = await fail('n1', 'boom again'); // the same node again: still one node
      expect(out.task).toMatchObject({ state: 'queued', notBefore: now + 4000 });

      now += 4000;
      held = (await lease('n2', now))!.task;
      out = await fail('n2', 'bad texture', true); // a scene fault counts too
      expect(out.task.state).toBe('queued');
      expect(out.task.error).toMatch(/bad texture/);

      now += 8000;
      held = (await lease('n3', now))!.task;
      expect(held.attempts).toBe(4);
      out = await fail('n3', 'out of memory');
      expect(out.task).toMatchObject({ state: 'failed', error: 'out of memory' });
      expect(out.job.state).toBe('failed');
      expect(out.job.error).toMatch(/3 different nodes.*out of memory/);
      expect(out.changes.map((c) => `${c.entity}:${c.from}->${c.to}`)).toEqual(['task:leased->failed', 'job:running->failed', 'task:leased->cancelled']);
      expect((await store.getTask(other.taskId))!.state).toBe('cancelled');
      expect(await lease('n4', now + 60_000)).toBeNull();
    });

    it('fails a task leased too many times even on one node', async () => {
      const { job, tasks } = makeJob();
      await store.createJob(job, tasks);
      let now = T0;
      for (let i = 1; i <= policy.maxAttempts; i++) {
        const held = (await lease('n1', now))!.task;
        const out = await store.failTask({ taskId: held.taskId, nodeId: 'n1', leaseId: held.leaseId!, reason: `try ${i}`, sceneFault: false, now, policy });
        expect(out.task.state).toBe(i < policy.maxAttempts ? 'queued' : 'failed');
        now += policy.retryMaxMs;
      }
      expect((await store.getJob(job.jobId))!.error).toMatch(new RegExp(`failed ${policy.maxAttempts} times`));
    });

    it('weighs failures by record: fresh ids alone cannot fail a job while a trusted node is around', async () => {
      const p: TaskPolicy = { ...policy, trustedAfterVerified: 1, maxAttempts: 4 };
      const rules = { blocklistAfter: 1, maxRounds: 2 };
      let now = T0;
      const join = (nodeId: string) => store.registerNode({ nodeId, tokenHash: `h-${nodeId}`, card: nodeCardFor('eu'), registeredAt: now, lastSeenAt: now, load: 0 });
      await join('t');
      await join('w');
      // t and w earn a record: w's render of t's sampled tile agrees.
      const warm = makeJob();
      await store.createJob(warm.job, warm.tasks);
      const r = (await lease('t', now))!.task;
      await store.completeTask({ taskId: r.taskId, nodeId: 't', leaseId: r.leaseId!, result, now, sample: true, verification: rules });
      const v = (await lease('w', now))!.task;
      expect((await store.completeTask({ taskId: v.taskId, nodeId: 'w', leaseId: v.leaseId!, result, now, verification: rules })).verdict).toMatchObject({ outcome: 'verified' });

      const { job, tasks } = makeJob();
      await store.createJob(job, tasks);
      const failAs = async (nodeId: string) => {
        const held = (await lease(nodeId, now))!.task;
        expect(held.taskId).toBe(tasks[0].taskId);
        return store.failTask({ taskId: held.taskId, nodeId, leaseId: held.leaseId!, reason: `${nodeId} says no`, sceneFault: true, now, policy: p });
      };
      // Six fresh ids fail it (more than maxNodeFailures, more than maxAttempts): the job runs on; each is
      // closed out of the task it failed.
      for (const s of ['s1', 's2', 's3', 's4', 's5', 's6']) {
        await join(s);
        const out = await failAs(s);
        expect(out.task).toMatchObject({ state: 'queued' });
        expect(out.task.excludeNodes).toContain(s);
        expect(out.job.state).toBe('running');
        now += p.retryMaxMs + 1;
        await store.heartbeat({ nodeId: 't', leaseIds: [], load: 0, now, policy: p });
      }
      expect(await lease('s1', now)).toBeNull();
      // A trusted node's failure counts, backed by one untrusted failure: 2 of 3.
      expect((await failAs('t')).task.state).toBe('queued');
      now += p.retryMaxMs + 1;
      await store.heartbeat({ nodeId: 't', leaseIds: [], load: 0, now, policy: p });
      // A second trusted node's failure fails the job.
      const last = await failAs('w');
      expect(last.task.state).toBe('failed');
      expect(last.job).toMatchObject({ state: 'failed', error: expect.stringMatching(/failed on 4 different nodes/) });
    });

    it('counts every failure in a farm with no trusted node (nobody to wait for)', async () => {
      const p: TaskPolicy = { ...policy, trustedAfterVerified: 1 };
      const { job, tasks } = makeJob();
      await store.createJob(job, tasks);
      let now = T0;
      let out;
      for (const s of ['f1', 'f2', 'f3']) {
        await store.registerNode({ nodeId: s, tokenHash: `h-${s}`, card: nodeCardFor('eu'), registeredAt: now, lastSeenAt: now, load: 0 });
        const held = (await lease(s, now))!.task;
        out = await store.failTask({ taskId: held.taskId, nodeId: s, leaseId: held.leaseId!, reason: 'broken scene', sceneFault: true, now, policy: p });
        expect(held.taskId).toBe(tasks[0].taskId);
        now += p.retryMaxMs + 1;
      }
      expect(out!.job).toMatchObject({ state: 'failed', error: expect.stringMatching(/3 different nodes/) });
    });

    it('requeues expired leases with the attempt counted', async () => {
      const { job, tasks } = makeJob({ frames: [0, 1] });
      await store.createJob(job, tasks);
      const a = (await lease('n1', T0))!.task;
      const b = (await lease('n2', T0 + 5000))!.task;
      expect(await store.expireLeases(T0 + policy.leaseMs, policy)).toEqual([]);

      const changes = await store.expireLeases(T0 + policy.leaseMs + 1, policy);
      expect(changes).toHaveLength(1);
      expect(changes[0]).toMatchObject({ entity: 'task', id: a.taskId, from: 'leased', to: 'queued' });
      expect(await store.getTask(a.taskId)).toMatchObject({ state: 'queued', attempts: 1, leaseId: null, error: expect.stringMatching(/lease expired/) });
      expect((await store.getTask(b.taskId))!.state).toBe('leased');

      const again = (await lease('n3', T0 + policy.leaseMs + 2))!.task;
      expect(again).toMatchObject({ taskId: a.taskId, attempts: 2, nodeId: 'n3' });
      await expectCode(store.completeTask({ taskId: a.taskId, nodeId: 'n1', leaseId: a.leaseId!, result, now: T0 + policy.leaseMs + 3 }), 'LEASE_LOST');
    });

    it('extends leases on heartbeat and names the ones the node lost', async () => {
      const { job, tasks } = makeJob({ frames: [0, 1] });
      await store.createJob(job, tasks);
      await store.registerNode({ nodeId: 'n1', tokenHash: 'h1', card: {} as never, registeredAt: T0, lastSeenAt: T0, load: 0 });
      await store.registerNode({ nodeId: 'n2', tokenHash: 'h2', card: {} as never, registeredAt: T0, lastSeenAt: T0, load: 0 });
      const a = (await lease('n1', T0))!.task;
      const b = (await lease('n2', T0))!.task;

      const ack = await store.heartbeat({ nodeId: 'n1', leaseIds: [a.leaseId!, b.leaseId!, 'lease_unknown'], load: 0.5, now: T0 + 8000, policy });
      expect(ack.revoked.sort()).toEqual([b.leaseId!, 'lease_unknown'].sort());
      expect((await store.getTask(a.taskId))!.leaseExpiresAt).toBe(T0 + 8000 + policy.leaseMs);
      expect(await store.getNode('n1')).toMatchObject({ lastSeenAt: T0 + 8000, load: 0.5 });

      const expired = await store.expireLeases(T0 + policy.leaseMs + 1, policy);
      expect(expired.map((c) => c.id)).toEqual([b.taskId]);
      await expectCode(store.heartbeat({ nodeId: 'n_missing', leaseIds: [], load: 0, now: T0, policy }), 'NODE_NOT_FOUND');
    });

    it('cancels a job: queued and leased tasks stop, results are refused, a second cancel is refused', async () => {
      const { job, tasks } = makeJob({ frames: [0, 1, 2] });
      await store.createJob(job, tasks);
      await store.registerNode({ nodeId: 'n1', tokenHash: 'hc', card: {} as never, registeredAt: T0, lastSeenAt: T0, load: 0 });
      const held = (await lease('n1'))!.task;
      const { job: cancelled, changes } = await store.cancelJob(job.jobId, T0 + 1);
      expect(cancelled).toMatchObject({ state: 'cancelled', finishedAt: T0 + 1 });
      expect(changes.map((c) => `${c.entity}:${c.from}->${c.to}`).sort()).toEqual(
        ['job:running->cancelled', 'task:leased->cancelled', 'task:queued->cancelled', 'task:queued->cancelled'].sort(),
      );
      expect((await store.listTasks(job.jobId)).every((t) => t.state === 'cancelled')).toBe(true);
      expect(await lease('n1')).toBeNull();
      expect((await store.heartbeat({ nodeId: 'n1', leaseIds: [held.leaseId!], load: 0, now: T0 + 2, policy })).revoked).toEqual([held.leaseId]);
      await expectCode(store.completeTask({ taskId: held.taskId, nodeId: 'n1', leaseId: held.leaseId!, result, now: T0 + 2 }), 'LEASE_LOST');
      await expectCode(store.cancelJob(job.jobId, T0 + 3), 'JOB_FINISHED');
      await expectCode(store.cancelJob('job_missing', T0 + 3), 'JOB_NOT_FOUND');
    });

    it('registers nodes and finds them by token hash', async () => {
      const card = { name: 'n', region: 'eu', version: '1', cpu: { model: 'c', cores: 4 }, ramBytes: 1, gl: { renderer: 'r', vendor: 'v', version: '1', maxTextureSize: 1, maxViewport: [1, 1] as [number, number] }, tilesPerSecond: 2, concurrency: 1 };
      const node = { nodeId: 'node_1', tokenHash: 'f'.repeat(64), card, registeredAt: T0, lastSeenAt: T0, load: 0 };
      await store.registerNode(node);
      // A new node starts with a clean reputation.
      // …and no probe key (none given), no lease call yet, nothing measured, its location believed.
      const stored = {
        ...node,
        reputation: { verified: 0, disproven: 0, blocklisted: null },
        probeKey: null,
        lastLeaseAt: null,
        throughput: { pixels: 0, ms: 0, results: 0, best: 0 },
        locationRefuted: null,
      };
      expect(await store.getNode('node_1')).toEqual(stored);
      expect(await store.findNodeByTokenHash('f'.repeat(64))).toEqual(stored);
      expect(await store.findNodeByTokenHash('0'.repeat(64))).toBeNull();
      expect(await store.getNode('node_2')).toBeNull();
      // Where a node registered from (session votes: node-origin.ts) is kept as given.
      const origin = { network: '203.0.113.0/24', joinKey: 'key_op' };
      await store.registerNode({ ...node, nodeId: 'node_3', tokenHash: 'e'.repeat(64), origin });
      expect(await store.getNode('node_3')).toEqual({ ...stored, nodeId: 'node_3', tokenHash: 'e'.repeat(64), origin });
    });

    it('never hands one task to two concurrent lease calls', async () => {
      const { job, tasks } = makeJob({ frames: Array.from({ length: 12 }, (_, i) => i) });
      await store.createJob(job, tasks);
      const got = await Promise.all(Array.from({ length: 16 }, (_, i) => lease(`n${i}`)));
      const ids = got.filter((g) => g !== null).map((g) => g!.task.taskId);
      expect(ids).toHaveLength(12);
      expect(new Set(ids).size).toBe(12);
    });

    it('creates jobs within a quota in one step: racing submissions never overrun maxActiveJobs or the megapixel budget', async () => {
      const owned = (opts: Parameters<typeof makeJob>[0] = {}) => {
        const { job, tasks } = makeJob(opts);
        return { job: { ...job, owner: 'key_q' }, tasks };
      };
      const quota = { maxActiveJobs: 3, maxActiveTasks: 1e9, megapixelsPerDay: 1e9, now: T0 };
      const verdicts = await Promise.all(Array.from({ length: 12 }, () => owned()).map(({ job, tasks }) => store.createJobWithinQuota(job, tasks, quota)));
      expect(verdicts.filter((v) => v.ok)).toHaveLength(3);
      expect(verdicts.filter((v) => !v.ok && v.quota === 'maxActiveJobs')).toHaveLength(9);
      expect(await store.countActiveJobs('key_q')).toBe(3);

      // Megapixels: 1000×1000 a frame; 3 MP already submitted (64×64 jobs are ~0.004 MP each).
      const mp = { maxActiveJobs: 100, maxActiveTasks: 1e9, megapixelsPerDay: 5, now: T0 };
      const big = await Promise.all([0, 1, 2, 3].map(() => owned({ width: 1000, height: 1000, frames: [0, 1] })).map(({ job, tasks }) => store.createJobWithinQuota(job, tasks, mp)));
      expect(big.filter((v) => v.ok)).toHaveLength(2);
      const refused = big.find((v) => !v.ok);
      expect(refused).toMatchObject({ ok: false, quota: 'megapixelsPerDay', needed: 2 });
      // A day later the window has moved on.
      const later = owned({ width: 1000, height: 1000, frames: [0, 1] });
      expect(await store.createJobWithinQuota(later.job, later.tasks, { ...mp, now: T0 + 24 * 3600_000 + 1 })).toEqual({ ok: true });
    });

    it('counts the tasks not yet done of a key’s active jobs against maxActiveTasks, in the same step', async () => {
      const owned = () => {
        const { job, tasks } = makeJob({ frames: [0, 1] });
        return { job: { ...job, owner: 'key_t' }, tasks };
      };
      const perJob = owned().tasks.length;
      const quota = { maxActiveJobs: 100, maxActiveTasks: 2 * perJob, megapixelsPerDay: 1e9, now: T0 };
      const verdicts = await Promise.all([0, 1, 2, 3].map(() => owned()).map(({ job, tasks }) => store.createJobWithinQuota(job, tasks, quota)));
      expect(verdicts.filter((v) => v.ok)).toHaveLength(2);
      expect(verdicts.find((v) => !v.ok)).toMatchObject({ ok: false, quota: 'maxActiveTasks', active: 2 * perJob, needed: perJob });
    });

    it('keeps everything across a restart', async () => {
      await store.putScene(scene);
      const { job, tasks } = makeJob({ frames: [0, 1] });
      await store.createJob(job, tasks);
      await store.registerNode({ nodeId: 'n1', tokenHash: 'hr', card: {} as never, registeredAt: T0, lastSeenAt: T0, load: 0 });
      const held = (await lease('n1'))!.task;
      const before = await store.listTasks(job.jobId);

      store = await fx.reopen();
      expect(await store.getScene(scene.sceneId)).toEqual(scene);
      expect(await store.getJob(job.jobId)).toMatchObject({ state: 'running' });
      expect(await store.listTasks(job.jobId)).toEqual(before);
      expect(await store.findNodeByTokenHash('hr')).toMatchObject({ nodeId: 'n1' });
      // The lease survives: its holder completes it, and the rest of the job runs.
      await store.completeTask({ taskId: held.taskId, nodeId: 'n1', leaseId: held.leaseId!, result, now: T0 + 1 });
      const next = (await lease('n1', T0 + 2))!.task;
      const last = await store.completeTask({ taskId: next.taskId, nodeId: 'n1', leaseId: next.leaseId!, result, now: T0 + 3 });
      expect(last.job.state).toBe('done');
    });

    it("marks an ended job's storage clean-up as due once its upload URLs have expired; a sweep settles the mark, across a restart", async () => {
      const delay = PRUNE_DELAY_DEFAULT_MS;
      // Times far ahead: a store that sweeps on its own when a clean-up comes due (the coordinator's alarm) keeps
      // these marks as they are while the test reads them.
      const T = T0 + 100 * 365 * 86_400_000;
      const { job, tasks } = makeJob({ frames: [0] });
      await store.createJob(job, tasks);
      const held = (await lease('n1', T))!.task;
      // A running job has nothing due.
      expect(await store.nextPruneDueAt()).toBeNull();
      expect(await store.listDuePrunes({ now: T + 10 * delay, limit: 10 })).toEqual([]);
      const done = await store.completeTask({ taskId: held.taskId, nodeId: 'n1', leaseId: held.leaseId!, result, now: T + 100 });
      expect(done.job.state).toBe('done');
      const dueAt = T + 100 + delay;
      expect(await store.nextPruneDueAt()).toBe(dueAt);
      expect(await store.listDuePrunes({ now: dueAt - 1, limit: 10 })).toEqual([]);
      expect(await store.listDuePrunes({ now: dueAt, limit: 10 })).toEqual([{ jobId: job.jobId, dueAt }]);

      // Cancelled and failed jobs are marked as they end, too (whichever operation ends them).
      const cancelled = makeJob({ frames: [0] });
      await store.createJob(cancelled.job, cancelled.tasks);
      await store.cancelJob(cancelled.job.jobId, T + 50);
      const failing = makeJob({ frames: [0] });
      await store.createJob(failing.job, failing.tasks);
      const doomed = (await lease('n1', T + 60))!.task;
      const failed = await store.failTask({ taskId: doomed.taskId, nodeId: 'n1', leaseId: doomed.leaseId!, reason: 'broken', sceneFault: true, now: T + 70, policy: { ...policy, maxNodeFailures: 1 } });
      expect(failed.job.state).toBe('failed');
      // Earliest first, and never more than the limit.
      expect(await store.listDuePrunes({ now: dueAt, limit: 2 })).toEqual([
        { jobId: cancelled.job.jobId, dueAt: T + 50 + delay },
        { jobId: failing.job.jobId, dueAt: T + 70 + delay },
      ]);
      expect(await store.nextPruneDueAt()).toBe(T + 50 + delay);

      // The marks survive a restart.
      store = await fx.reopen();
      expect((await store.listDuePrunes({ now: dueAt, limit: 10 })).map((d) => d.jobId)).toEqual([cancelled.job.jobId, failing.job.jobId, job.jobId]);

      // Settled only while the mark still holds the due time read: a second settle (another sweep) changes nothing.
      expect(await store.settlePrune({ jobId: cancelled.job.jobId, dueAt: T + 1, retryAt: null })).toBe(false);
      expect(await store.settlePrune({ jobId: cancelled.job.jobId, dueAt: T + 50 + delay, retryAt: null })).toBe(true);
      expect(await store.settlePrune({ jobId: cancelled.job.jobId, dueAt: T + 50 + delay, retryAt: null })).toBe(false);
      // Storage failed: due again later, behind the others.
      expect(await store.settlePrune({ jobId: failing.job.jobId, dueAt: T + 70 + delay, retryAt: dueAt + 60_000 })).toBe(true);
      expect(await store.listDuePrunes({ now: dueAt, limit: 10 })).toEqual([{ jobId: job.jobId, dueAt }]);
      expect(await store.settlePrune({ jobId: job.jobId, dueAt, retryAt: null })).toBe(true);
      expect(await store.nextPruneDueAt()).toBe(dueAt + 60_000);
      expect(await store.listDuePrunes({ now: dueAt + 60_000, limit: 10 })).toEqual([{ jobId: failing.job.jobId, dueAt: dueAt + 60_000 }]);
      expect(await store.settlePrune({ jobId: failing.job.jobId, dueAt: dueAt + 60_000, retryAt: null })).toBe(true);
      expect(await store.nextPruneDueAt()).toBeNull();
      expect(await store.listDuePrunes({ now: Number.MAX_SAFE_INTEGER, limit: 10 })).toEqual([]);
      // A job ends once: its mark is never stamped again.
      await expectCode(store.cancelJob(job.jobId, T + 10 * delay), 'JOB_FINISHED');
      expect(await store.nextPruneDueAt()).toBeNull();
    });

    const card = (region: string) => ({ ...nodeCardFor(region) });
    const route = (nodeId: string, fallbackId: string | null, fallbackAt: number | null): TaskRoute => ({
      nodeId,
      fallbackId,
      fallbackAt,
      predictedRttMs: 5,
      rttSource: 'measured',
      queueMs: 0,
      renderMs: 1,
      score: 6,
      reason: 'test',
      routedAt: T0,
      leasedAs: null,
    });

    it('routes: a node leases what is routed to it, its fallback after fallbackAt, any capable node after openAt', async () => {
      const { job, tasks } = makeJob({ frames: [0, 1, 2, 3], routed: true });
      await store.createJob(job, tasks);
      for (const id of ['a', 'b', 'c']) await store.registerNode({ nodeId: id, tokenHash: `h${id}`, card: card('eu'), registeredAt: T0, lastSeenAt: T0, load: 0 });
      expect((await store.listRunnableJobs()).map((j) => [j.jobId, j.routed])).toEqual([[job.jobId, true]]);
      expect((await store.getJob(job.jobId))!.client).toEqual({ rttMs: { a: 5 }, location: null, coordinate: null });
      const ready = await store.listRoutableTasks({ jobId: job.jobId, now: T0, limit: 2, rerouteFrom: [] });
      expect(ready.map((r) => [r.task.taskId, r.failedOn])).toEqual([[tasks[0].taskId, []], [tasks[1].taskId, []]]);
      // A routed job's unrouted tasks are nobody's yet.
      expect(await lease('c', T0)).toBeNull();

      const assign = (i: number, r: TaskRoute, openAt: number | null, expectNode: string | null = null) => store.setTaskRoutes([{ taskId: tasks[i].taskId, expectNode, route: r, openAt }]);
      expect(await assign(0, route('a', 'b', T0 + 100), T0 + 200)).toBe(1);
      expect(await assign(1, route('a', 'b', T0 + 100), T0 + 200)).toBe(1);
      // Stored only while the task is still routed where the router thought.
      expect(await assign(1, route('c', null, null), null, 'someone-else')).toBe(0);
      expect(await store.countNodeTasks()).toEqual(new Map([['a', { queued: 2, running: 0 }]]));
      expect(await store.listRoutedNodes()).toEqual(['a']);

      expect(await lease('b', T0 + 99)).toBeNull();
      const byFallback = (await lease('b', T0 + 100))!.task;
      expect(byFallback).toMatchObject({ taskId: tasks[0].taskId, nodeId: 'b', route: { nodeId: 'a', leasedAs: 'fallback' } });
      const byChosen = (await lease('a', T0 + 100))!.task;
      expect(byChosen).toMatchObject({ taskId: tasks[1].taskId, route: { nodeId: 'a', leasedAs: 'chosen' } });
      expect(await store.countNodeTasks()).toEqual(new Map([['a', { queued: 0, running: 1 }], ['b', { queued: 0, running: 1 }]]));

      expect(await assign(2, route('a', null, null), T0 + 300)).toBe(1);
      expect(await lease('c', T0 + 299)).toBeNull();
      expect((await lease('c', T0 + 300))!.task).toMatchObject({ taskId: tasks[2].taskId, nodeId: 'c', route: { nodeId: 'a', leasedAs: 'open' } });

      // Tasks routed to a node that went away come back for routing; a failed task is routed afresh, avoiding its failures.
      expect(await assign(3, route('gone', null, null), null)).toBe(1);
      expect((await store.listRoutableTasks({ jobId: job.jobId, now: T0 + 400, limit: 10, rerouteFrom: [] })).map((r) => r.task.taskId)).toEqual([]);
      expect((await store.listRoutableTasks({ jobId: job.jobId, now: T0 + 400, limit: 10, rerouteFrom: ['gone'] })).map((r) => r.task.taskId)).toEqual([tasks[3].taskId]);
      const failed = await store.failTask({ taskId: byChosen.taskId, nodeId: 'a', leaseId: byChosen.leaseId!, reason: 'boom', sceneFault: false, now: T0 + 400, policy });
      expect(failed.task).toMatchObject({ state: 'queued', route: null, openAt: null });
      const later = T0 + 400 + policy.retryMaxMs;
      expect((await store.listRoutableTasks({ jobId: job.jobId, now: later, limit: 10, rerouteFrom: [] })).map((r) => [r.task.taskId, r.failedOn])).toEqual([[byChosen.taskId, ['a']]]);
    });

    it('keeps lease order across first-come and routed jobs: an older first-come job\'s ready stitch goes before a younger job\'s routed work', async () => {
      // The soak's lost jobs: a first-come job (submitted before the client had RTTs) was leased only once a node's
      // routed queue ran dry, so under steady routed work its stitch, ready once its tiles were verified, sat queued
      // (never leased, no route) until the job's time limit.
      for (const id of ['a', 'b']) await store.registerNode({ nodeId: id, tokenHash: `h${id}`, card: card('eu'), registeredAt: T0, lastSeenAt: T0, load: 0 });
      const first = makeJob({ frames: [0], tile: 32, now: T0 });
      await store.createJob(first.job, first.tasks);
      const routed = makeJob({ frames: [0, 1, 2, 3], routed: true, now: T0 + 1 });
      await store.createJob(routed.job, routed.tasks);
      for (const t of routed.tasks) expect(await store.setTaskRoutes([{ taskId: t.taskId, expectNode: null, route: route('a', null, null), openAt: null }])).toBe(1);
      // Node b has no routed work: it takes the first-come job's four tiles; the last one is sampled.
      const tiles = first.tasks.filter((t) => t.kind === 'render');
      const stitch = first.tasks.find((t) => t.kind === 'stitch')!;
      expect(tiles).toHaveLength(4);
      for (const [i, tile] of tiles.entries()) {
        const got = (await lease('b', T0 + 10))!.task;
        expect(got.taskId).toBe(tile.taskId);
        await store.completeTask({ taskId: got.taskId, nodeId: 'b', leaseId: got.leaseId!, result, now: T0 + 20, sample: i === 3 });
      }
      // Node a has routed work, and takes the verification first (lease phase 0): the frame's tiles are then all verified.
      const check = (await lease('a', T0 + 30))!.task;
      expect(check).toMatchObject({ kind: 'verify', verifies: tiles[3].taskId });
      await store.completeTask({ taskId: check.taskId, nodeId: 'a', leaseId: check.leaseId!, result, now: T0 + 40 });
      expect((await store.getTask(tiles[3].taskId))!.verification!.state).toBe('verified');
      // The stitch is ready, and its job is older than the routed one: node a takes it before its routed queue.
      const next = (await lease('a', T0 + 50))!.task;
      expect(next).toMatchObject({ taskId: stitch.taskId, nodeId: 'a', route: { nodeId: 'a', leasedAs: 'first-free' } });
      expect((await lease('a', T0 + 50))!.task).toMatchObject({ taskId: routed.tasks[0].taskId, route: { nodeId: 'a', leasedAs: 'chosen' } });
      // A younger first-come job waits behind the older routed job's work, as lease order says.
      const younger = makeJob({ frames: [0], now: T0 + 2 });
      await store.createJob(younger.job, younger.tasks);
      expect((await lease('a', T0 + 60))!.task).toMatchObject({ taskId: routed.tasks[1].taskId, route: { leasedAs: 'chosen' } });
      // Priority still comes first: a more urgent first-come job goes before routed work of any age.
      const urgent = makeJob({ frames: [0], priority: 90, now: T0 + 3 });
      await store.createJob(urgent.job, urgent.tasks);
      expect((await lease('a', T0 + 70))!.task).toMatchObject({ taskId: urgent.tasks[0].taskId, route: { leasedAs: 'first-free' } });
      // The completion of the stitch finishes the first-come job.
      const done = await store.completeTask({ taskId: next.taskId, nodeId: 'a', leaseId: next.leaseId!, result, now: T0 + 80 });
      expect(done.job.state).toBe('done');
    });

    it('never leases a task to a node whose card fails its job\'s requirements, and records first-come leases', async () => {
      const { job, tasks } = makeJob({ frames: [0], requirements: { allowedRegions: ['us'] } });
      await store.createJob(job, tasks);
      expect(tasks[0]).toMatchObject({ route: null, openAt: 0 });
      expect(await store.leaseNext({ nodeId: 'e', leaseId: 'l-e', now: T0, policy, card: card('eu') })).toBeNull();
      const got = (await store.leaseNext({ nodeId: 'u', leaseId: 'l-u', now: T0, policy, card: card('us') }))!.task;
      expect(got.route).toMatchObject({ nodeId: 'u', leasedAs: 'first-free', predictedRttMs: null, fallbackId: null });
      expect(got.route!.renderMs).toBeGreaterThan(0);
    });

    it('gives a WebGL 2 job (a transmission scene) only to nodes whose card lists a WebGL 2 backend, first-come and routed-open alike', async () => {
      const webgl1 = card('eu');
      const webgl2 = { ...card('eu'), backends: [{ id: 'headless-gl', webgl2: false, version: '1' }, { id: 'chromium', webgl2: true, version: '2' }] };
      const { job, tasks } = makeJob({ frames: [0, 1], requirements: { webgl2: true } });
      await store.createJob(job, tasks);
      expect((await store.getJob(job.jobId))!.requirements).toEqual({ webgl2: true });
      // First come, first served: the WebGL 1 node gets nothing, one-by-one or batched.
      expect(await store.leaseNext({ nodeId: 'gl1', leaseId: 'l-1', now: T0, policy, card: webgl1 })).toBeNull();
      expect((await store.leaseMany({ nodeId: 'gl1', leaseIds: ['m1', 'm2'], now: T0, policy, card: webgl1 })).leased).toEqual([]);
      expect((await store.leaseMany({ nodeId: 'gl2', leaseIds: ['m3', 'm4'], now: T0, policy, card: webgl2, maxLeases: 2 })).leased.map((o) => o.task.taskId)).toEqual([tasks[0].taskId, tasks[1].taskId]);
      // A job of a plain scene still goes to either.
      const plain = makeJob({ frames: [0], now: T0 + 1 });
      await store.createJob(plain.job, plain.tasks);
      expect((await store.leaseNext({ nodeId: 'gl1', leaseId: 'l-2', now: T0, policy, card: webgl1 }))!.task.jobId).toBe(plain.job.jobId);

      // Routed: a task opened to any node (openAt) still goes only to a capable one.
      const routed = makeJob({ frames: [0], routed: true, requirements: { webgl2: true }, now: T0 + 2 });
      await store.createJob(routed.job, routed.tasks);
      await store.setTaskRoutes([{ taskId: routed.tasks[0].taskId, expectNode: null, route: route('gone', 'gone-too', T0 + 10), openAt: T0 + 20 }]);
      expect(await store.leaseNext({ nodeId: 'gl1', leaseId: 'l-3', now: T0 + 30, policy, card: webgl1 })).toBeNull();
      expect((await store.leaseNext({ nodeId: 'gl2', leaseId: 'l-4', now: T0 + 30, policy, card: webgl2 }))!.task.taskId).toBe(routed.tasks[0].taskId);
    });

    it('stores the WebGL 2 flag with the scene, and a re-upload of the same bytes refreshes a record stored without it', async () => {
      const glass: SceneRecord = { ...scene, sceneId: 'b'.repeat(64), info: { ...scene.info } };
      await store.putScene(glass);
      expect((await store.getScene(glass.sceneId))!.info.webgl2).toBeUndefined();
      const flagged = { ...glass, info: { ...glass.info, webgl2: ['KHR_materials_transmission', 'KHR_materials_volume'] } };
      expect((await store.putScene({ ...flagged, createdAt: T0 + 9 })).info.webgl2).toEqual(['KHR_materials_transmission', 'KHR_materials_volume']);
      store = await fx.reopen();
      expect(await store.getScene(glass.sceneId)).toEqual(flagged);
    });

    it('keeps API keys (by hash), scene grants and per-owner active job counts, across a restart', async () => {
      const key = { keyId: 'key_1', keyHash: 'f'.repeat(64), name: 'studio', role: 'client' as const, limits: { burst: 5 }, createdAt: T0, revokedAt: null };
      await store.putApiKey(key);
      await store.putApiKey({ ...key, keyId: 'key_0', keyHash: 'e'.repeat(64), name: 'ops', role: 'admin', limits: null, createdAt: T0 - 1 });
      expect(await store.findApiKeyByHash(key.keyHash)).toEqual(key);
      expect(await store.findApiKeyByHash('0'.repeat(64))).toBeNull();
      expect((await store.listApiKeys()).map((k) => k.keyId)).toEqual(['key_0', 'key_1']);
      expect(await store.revokeApiKey('key_1', T0 + 5)).toEqual({ ...key, revokedAt: T0 + 5 });
      // Revoking again keeps the first time.
      expect((await store.revokeApiKey('key_1', T0 + 9))!.revokedAt).toBe(T0 + 5);
      expect(await store.revokeApiKey('key_missing', T0)).toBeNull();

      await store.putScene(scene);
      expect(await store.isSceneGranted(scene.sceneId, 'key_1')).toBe(false);
      await store.grantScene(scene.sceneId, 'key_1', T0);
      await store.grantScene(scene.sceneId, 'key_1', T0 + 1);
      expect(await store.isSceneGranted(scene.sceneId, 'key_1')).toBe(true);
      expect(await store.isSceneGranted(scene.sceneId, 'key_2')).toBe(false);

      const mine = makeJob();
      const done = makeJob();
      await store.createJob({ ...mine.job, owner: 'key_1' }, mine.tasks);
      await store.createJob({ ...done.job, owner: 'key_1' }, done.tasks);
      await store.cancelJob(done.job.jobId, T0 + 1);
      expect((await store.getJob(mine.job.jobId))!.owner).toBe('key_1');
      expect(await store.countActiveJobs('key_1')).toBe(1);
      expect(await store.countActiveJobs('key_2')).toBe(0);

      store = await fx.reopen();
      expect((await store.findApiKeyByHash(key.keyHash))!.revokedAt).toBe(T0 + 5);
      expect(await store.isSceneGranted(scene.sceneId, 'key_1')).toBe(true);
      expect(await store.countActiveJobs('key_1')).toBe(1);
    });

    it('keeps network facts about nodes, counts lease calls as signs of life, and keeps small values across a restart', async () => {
      await store.registerNode({ nodeId: 'old', tokenHash: 'ho', card: card('eu'), registeredAt: T0, lastSeenAt: T0, load: 0 });
      await store.registerNode({ nodeId: 'new', tokenHash: 'hn', card: card('eu'), registeredAt: T0 + 1, lastSeenAt: T0 + 1000, load: 0 });
      const coordinate = { vec: [1, 2, 3, 4], height: 0.5, error: 0.2 };
      await store.updateNodeNetwork([{ nodeId: 'new', coordinate, rttToApiMs: 3.5 }, { nodeId: 'old', rttToApiMs: 9 }]);
      await store.updateNodeNetwork([{ nodeId: 'new', rttToApiMs: 4 }]);
      expect(await store.getNode('new')).toMatchObject({ coordinate, rttToApiMs: 4 });
      expect((await store.listNodes({ seenSince: T0 + 500 })).map((n) => n.nodeId)).toEqual(['new']);
      expect((await store.listNodes()).map((n) => n.nodeId)).toEqual(['old', 'new']);
      expect(await lease('old', T0 + 2000)).toBeNull();
      expect((await store.getNode('old'))!.lastSeenAt).toBe(T0 + 2000);
      expect(await store.getMeta('k')).toBeNull();
      await store.setMeta('k', 'v1');
      await store.setMeta('k', 'v2');
      store = await fx.reopen();
      expect(await store.getMeta('k')).toBe('v2');
      // Insert-if-absent: the first value stored stays, and every caller gets it.
      expect(await store.initMeta('first', 'a')).toBe('a');
      expect(await store.initMeta('first', 'b')).toBe('a');
      expect(await store.initMeta('k', 'v3')).toBe('v2');
      expect(await store.getNode('new')).toMatchObject({ coordinate, rttToApiMs: 4 });
    });

    describe('node trust', () => {
      const registerNode = (nodeId: string, extra: Partial<NodeRecord> = {}) =>
        store.registerNode({ nodeId, tokenHash: nodeId.padEnd(64, '0'), card: nodeCardFor('eu'), registeredAt: T0, lastSeenAt: T0, load: 0, ...extra });

      it('keeps the probe key and when a node last asked for work, across a restart', async () => {
        await registerNode('p', { probeKey: 'k'.repeat(64) });
        expect((await store.getNode('p'))!).toMatchObject({ probeKey: 'k'.repeat(64), lastLeaseAt: null });
        expect(await lease('p', T0 + 5)).toBeNull();
        store = await fx.reopen();
        expect((await store.getNode('p'))!).toMatchObject({ probeKey: 'k'.repeat(64), lastLeaseAt: T0 + 5, lastSeenAt: T0 + 5 });
        await store.recordLeaseCall('p', T0 + 9);
        expect((await store.getNode('p'))!).toMatchObject({ lastLeaseAt: T0 + 9, lastSeenAt: T0 + 9 });
      });

      it('never leases more tasks to a node than maxLeases (its slots)', async () => {
        await registerNode('h');
        const { job, tasks } = makeJob({ frames: [0, 1, 2] });
        await store.createJob(job, tasks);
        const first = await store.leaseNext({ nodeId: 'h', leaseId: 'l1', now: T0, policy, maxLeases: 2 });
        const second = await store.leaseNext({ nodeId: 'h', leaseId: 'l2', now: T0, policy, maxLeases: 2 });
        expect([first?.task.frame, second?.task.frame]).toEqual([0, 1]);
        expect(await store.leaseNext({ nodeId: 'h', leaseId: 'l3', now: T0, policy, maxLeases: 2 })).toBeNull();
        // Another node gets the rest; a finished task frees a slot.
        expect((await store.leaseNext({ nodeId: 'o', leaseId: 'l4', now: T0, policy, maxLeases: 2 }))?.task.frame).toBe(2);
        await store.completeTask({ taskId: first!.task.taskId, nodeId: 'h', leaseId: 'l1', result, now: T0 + 1 });
        const { job: job2, tasks: tasks2 } = makeJob({ frames: [7] });
        await store.createJob(job2, tasks2);
        expect((await store.leaseNext({ nodeId: 'h', leaseId: 'l5', now: T0 + 2, policy, maxLeases: 2 }))?.task.frame).toBe(7);
      });

      it('leases several tasks in one call, never past maxLeases, in the order leaseNext would', async () => {
        await registerNode('m');
        const { job, tasks } = makeJob({ frames: [0, 1, 2, 3, 4] });
        await store.createJob(job, tasks);
        const first = await store.leaseMany({ nodeId: 'm', leaseIds: ['b1', 'b2', 'b3'], now: T0, policy, maxLeases: 2 });
        expect(first.leased.map((o) => [o.task.frame, o.task.leaseId, o.task.leaseExpiresAt])).toEqual([
          [0, 'b1', T0 + policy.leaseMs],
          [1, 'b2', T0 + policy.leaseMs],
        ]);
        expect(first.expired).toEqual([]);
        // Fewer than asked: the next deadline is the first lease's end (its sweep), for a long-poll to wake at.
        expect(first.wakeAt).toBe(T0 + policy.leaseMs + 1);
        // No runnable job is routed (the router may skip its passes); a routed one is reported.
        expect(first.routedJobs).toBe(false);
        expect((await store.getJob(job.jobId))!.state).toBe('running');
        // Slots full: nothing more, but the call still counts as a sign of life.
        expect((await store.leaseMany({ nodeId: 'm', leaseIds: ['b4'], now: T0 + 3, policy, maxLeases: 2 })).leased).toEqual([]);
        expect((await store.getNode('m'))!).toMatchObject({ lastLeaseAt: T0 + 3 });
        // Without a cap it takes as many as it names lease ids for; the rest are left for others.
        expect((await store.leaseMany({ nodeId: 'o', leaseIds: ['b5', 'b6'], now: T0, policy })).leased.map((o) => o.task.frame)).toEqual([2, 3]);
        expect((await store.getTask(tasks[4].taskId))!.state).toBe('queued');
        const routed = makeJob({ frames: [0], routed: true });
        await store.createJob(routed.job, routed.tasks);
        expect((await store.leaseMany({ nodeId: 'm', leaseIds: ['b7'], now: T0 + 4, policy, maxLeases: 2 })).routedJobs).toBe(true);
      });

      it('tells an empty lease when a backoff ends, and nothing when it leased all it asked for', async () => {
        await registerNode('w');
        const { job, tasks } = makeJob({ frames: [0, 1] });
        await store.createJob(job, tasks);
        const got = await store.leaseMany({ nodeId: 'w', leaseIds: ['w1', 'w2'], now: T0, policy });
        expect(got.wakeAt).toBeNull();
        await store.failTask({ taskId: got.leased[0].task.taskId, nodeId: 'w', leaseId: 'w1', reason: 'boom', sceneFault: false, now: T0 + 10, policy });
        await store.completeTask({ taskId: got.leased[1].task.taskId, nodeId: 'w', leaseId: 'w2', result, now: T0 + 10 });
        const retry = (await store.getTask(got.leased[0].task.taskId))!;
        expect(retry.notBefore).toBeGreaterThan(T0 + 10);
        const empty = await store.leaseMany({ nodeId: 'w', leaseIds: ['w3'], now: T0 + 11, policy });
        expect(empty.leased).toEqual([]);
        expect(empty.wakeAt).toBe(retry.notBefore);
        expect((await store.leaseMany({ nodeId: 'w', leaseIds: ['w4'], now: retry.notBefore, policy })).leased.map((o) => o.task.taskId)).toEqual([retry.taskId]);
      });

      it('leases at most LEASE_AHEAD_MAX tasks ahead of the slots, on a short first lease', async () => {
        await registerNode('a');
        const { job, tasks } = makeJob({ frames: [0, 1, 2, 3] });
        await store.createJob(job, tasks);
        // Asking for 5 ahead gets one: the store bounds the allowance whatever the caller asks.
        const got = await store.leaseMany({ nodeId: 'a', leaseIds: ['a1', 'a2', 'a3', 'a4'], now: T0, policy, maxLeases: 2, ahead: 5, aheadLeaseMs: 1000 });
        expect(got.leased.map((o) => [o.task.frame, o.task.leaseExpiresAt])).toEqual([
          [0, T0 + policy.leaseMs],
          [1, T0 + policy.leaseMs],
          [2, T0 + 1000],
        ]);
        expect(await store.leaseMany({ nodeId: 'a', leaseIds: ['a5'], now: T0, policy, maxLeases: 2, ahead: 1 })).toMatchObject({ leased: [] });
        // Not started (no heartbeat lists it): the lease-ahead task comes back fast, in the same call that leases it again.
        const again = await store.leaseMany({ nodeId: 'o', leaseIds: ['o1'], now: T0 + 1001, policy, expire: true });
        expect(again.expired).toContainEqual(expect.objectContaining({ id: got.leased[2].task.taskId, to: 'queued' }));
        expect(again.leased.map((o) => o.task.taskId)).toEqual([got.leased[2].task.taskId]);
      });

      it('never extends a lease past its lifetime cap, however often the node heartbeats', async () => {
        await registerNode('s');
        const { job, tasks } = makeJob({ frames: [0] });
        await store.createJob(job, tasks);
        const capped: TaskPolicy = { ...policy, leaseMs: 1000, maxLeaseLifetimeMs: 2500 };
        const held = (await store.leaseNext({ nodeId: 's', leaseId: 'ls', now: T0, policy: capped }))!.task;
        for (const t of [T0 + 800, T0 + 1600, T0 + 2400]) expect((await store.heartbeat({ nodeId: 's', leaseIds: ['ls'], load: 1, now: t, policy: capped })).revoked).toEqual([]);
        expect((await store.getTask(held.taskId))!.leaseExpiresAt).toBe(T0 + 2500);
        const changes = await store.expireLeases(T0 + 2501, capped);
        expect(changes.map((c) => `${c.id}:${c.from}->${c.to}`)).toEqual([`${held.taskId}:leased->queued`]);
        expect((await store.heartbeat({ nodeId: 's', leaseIds: ['ls'], load: 1, now: T0 + 2600, policy: capped })).revoked).toEqual(['ls']);
      });

      it('measures throughput from accepted results only: reported compute time, at least a tenth of the wall time lease → completion', async () => {
        await registerNode('m');
        await registerNode('v');
        const { job, tasks } = makeJob({ frames: [0, 1] });
        await store.createJob(job, tasks);
        const a = (await lease('m', T0))!.task;
        await store.completeTask({ taskId: a.taskId, nodeId: 'm', leaseId: a.leaseId!, result, now: T0 + 400, renderMs: 5 });
        const px = a.tile!.width * a.tile!.height;
        expect((await store.getNode('m'))!.throughput).toEqual({ pixels: px, ms: 40, results: 1, best: px / 65536 / 0.04 }); // reported 5 ms, but 400 ms of wall time charge at least 40
        // A sampled result counts only once another node's render agreed with it.
        const b = (await lease('m', T0 + 500))!.task;
        await store.completeTask({ taskId: b.taskId, nodeId: 'm', leaseId: b.leaseId!, result, now: T0 + 700, sample: true });
        expect((await store.getNode('m'))!.throughput!.results).toBe(1);
        const v = (await lease('v', T0 + 800))!.task;
        expect(v.kind).toBe('verify');
        await store.completeTask({ taskId: v.taskId, nodeId: 'v', leaseId: v.leaseId!, result, now: T0 + 900 });
        expect((await store.getNode('m'))!.throughput).toEqual({ pixels: 2 * px, ms: 60, results: 2, best: px / 65536 / 0.02 });
        expect((await store.getNode('v'))!.throughput).toEqual({ pixels: px, ms: 10, results: 1, best: px / 65536 / 0.01 });
        store = await fx.reopen();
        expect((await store.getNode('m'))!.throughput!.results).toBe(2);
      });

      const claims = { inflatedClaimFactor: 100, inflatedClaimPeerFactor: 20, inflatedClaimAfter: 5 };
      /** One single-frame job rendered by `nodeId`: leased at `at`, done a second later with 0.5 s of compute. */
      const renderOne = async (nodeId: string, at: number) => {
        const { job, tasks } = makeJob({ frames: [0], now: at });
        await store.createJob(job, tasks);
        const t = (await store.leaseNext({ nodeId, leaseId: `l-${nodeId}-${at}`, now: at, policy }))!.task;
        expect(t.jobId).toBe(job.jobId);
        return store.completeTask({ taskId: t.taskId, nodeId, leaseId: t.leaseId!, result, now: at + 1000, renderMs: 500, claims });
      };

      it('proves an inflated card against its measured speed and its peers\', blocklists it and forfeits all it earned', async () => {
        await registerNode('honest-1');
        await registerNode('honest-2');
        await registerNode('inflated', { card: { ...nodeCardFor('eu'), tilesPerSecond: 10_000 } });
        let at = T0;
        // Alone, nothing is proven: a farm of one cannot tell a heavy scene from a lie.
        for (let i = 0; i < 5; i++) expect((await renderOne('inflated', (at += 2000))).blocklisted).toBeUndefined();
        expect((await store.getNode('inflated'))!.reputation!.blocklisted).toBeNull();
        // Honest nodes (claims 16× their measured speed on this work) are measured, and never proven anything.
        for (let i = 0; i < 10; i++) for (const id of ['honest-1', 'honest-2']) expect((await renderOne(id, (at += 2000))).blocklisted).toBeUndefined();
        // At its next check (its 10th result) the claim is compared with theirs: 80,000× against 16×.
        for (let i = 0; i < 4; i++) expect((await renderOne('inflated', (at += 2000))).blocklisted).toBeUndefined();
        const caught = await renderOne('inflated', (at += 2000));
        expect(caught.blocklisted).toEqual([{ nodeId: 'inflated', reason: expect.stringMatching(/^inflated card: it claims 10000 tiles\/s, 80000× the 0.125 tiles\/s measured from its fastest of 10/) }]);
        expect((await store.getNode('inflated'))!.reputation!.blocklisted).toMatchObject({ reason: expect.stringMatching(/^inflated card/) });
        // The task it just completed is done again by others; everything else it was credited for is forfeited.
        expect(caught.task).toMatchObject({ state: 'queued', result: null, excludeNodes: ['inflated'] });
        const entries = await store.listLedger({ nodeId: 'inflated' });
        expect(entries.map((e) => e.state)).toEqual([...Array(9).fill('forfeited'), 'voided']);
        // The honest nodes keep every credit.
        for (const id of ['honest-1', 'honest-2']) {
          expect((await store.listLedger({ nodeId: id })).map((e) => e.state)).toEqual(Array(10).fill('credited'));
          expect((await store.getNode(id))!.reputation!.blocklisted).toBeNull();
        }
      });

      it('blocklisting forfeits what a node earned in finished jobs too, pending entries included; voided ones stay void', async () => {
        await registerNode('cheat');
        await registerNode('other');
        const earlier = await renderOne('cheat', T0);
        expect(earlier.job.state).toBe('done');
        await renderOne('other', T0 + 10);
        // A sampled result awaiting its vote, in a running job.
        const { job, tasks } = makeJob({ frames: [0, 1], now: T0 + 20 });
        await store.createJob(job, tasks);
        const t = (await store.leaseNext({ nodeId: 'cheat', leaseId: 'l-pending', now: T0 + 20, policy }))!.task;
        await store.completeTask({ taskId: t.taskId, nodeId: 'cheat', leaseId: 'l-pending', result, now: T0 + 30, renderMs: 5, sample: true });
        expect((await store.listLedger({ nodeId: 'cheat' })).map((e) => e.state)).toEqual(['credited', 'pending']);
        await store.blocklistNode('cheat', 'forged probe: test', T0 + 40);
        // The running job's result is discarded and redone (voided); the finished job's credit is forfeited.
        expect((await store.listLedger({ nodeId: 'cheat' })).map((e) => [e.jobId, e.state])).toEqual([
          [earlier.job.jobId, 'forfeited'],
          [job.jobId, 'voided'],
        ]);
        expect((await store.listLedger({ nodeId: 'other' })).map((e) => e.state)).toEqual(['credited']);
        // Once is enough: blocklisting again changes nothing.
        expect(await store.blocklistNode('cheat', 'again', T0 + 50)).toEqual([]);
        expect((await store.getNode('cheat'))!.reputation!.blocklisted).toEqual({ at: T0 + 40, reason: 'forged probe: test' });
      });

      it('refutes a claimed location once (the first reason stays)', async () => {
        await registerNode('t');
        await store.refuteNodeLocation('t', 'first');
        await store.refuteNodeLocation('t', 'second');
        expect((await store.getNode('t'))!.locationRefuted).toBe('first');
      });
    });

    describe('verification by re-issue', () => {
      const sum = (c: string) => ({ bytes: 10, checksum: c.repeat(64).slice(0, 64) });
      const GOOD = sum('a');
      const BAD = sum('b');
      const rules = { blocklistAfter: 1, maxRounds: 2 };
      const register = async (...ids: string[]) => {
        for (const id of ids) await store.registerNode({ nodeId: id, tokenHash: `h-${id}`, card: card('eu'), registeredAt: T0, lastSeenAt: T0, load: 0 });
      };
      const done = (nodeId: string, t: TaskRecord, r: { bytes: number; checksum: string }, extra: { sample?: boolean; renderMs?: number; agrees?: boolean[] } = {}) =>
        store.completeTask({ taskId: t.taskId, nodeId, leaseId: t.leaseId!, result: r, now: T0 + 100, renderMs: extra.renderMs ?? 500, verification: rules, ...extra });
      const take = async (nodeId: string) => (await lease(nodeId, T0 + 150))?.task ?? null;

      it('holds a sampled tile back until another node agrees, then stitches and credits both', async () => {
        await register('a', 'b');
        const { job, tasks } = makeJob({ frames: [0], width: 64, height: 32, tile: 32 });
        await store.createJob(job, tasks);
        const t0 = (await take('a'))!;
        const first = await done('a', t0, GOOD, { sample: true });
        expect(first.task.verification).toEqual({ state: 'pending', verifiedBy: [], disproven: [] });
        const t1 = (await take('a'))!;
        await done('a', t1, GOOD);
        // The verification excludes the node that rendered the tile; the stitch waits for it.
        expect(await take('a')).toBeNull();
        expect(await store.countTasks(job.jobId)).toMatchObject({ rendersDone: 2, framesDone: 0 });
        const v = (await take('b'))!;
        expect(v).toMatchObject({ kind: 'verify', verifies: t0.taskId, tile: t0.tile, excludeNodes: ['a'], round: 0 });
        expect(v.outputKey).not.toBe(t0.outputKey);
        expect(await store.getVerificationRound(v.taskId)).toMatchObject({ target: { taskId: t0.taskId }, earlier: [{ nodeId: 'a', checksum: GOOD.checksum, outputKey: t0.outputKey }] });
        const voted = await done('b', v, GOOD);
        expect(voted.verdict).toEqual({ taskId: t0.taskId, outcome: 'verified', winners: ['a', 'b'], losers: [], blocklisted: [] });
        expect((await store.getTask(t0.taskId))!.verification).toEqual({ state: 'verified', verifiedBy: ['a', 'b'], disproven: [] });
        expect(await store.getVerificationRound(v.taskId)).toBeNull();
        const stitch = (await take('b'))!;
        expect(stitch.kind).toBe('stitch');
        expect((await done('b', stitch, GOOD, { renderMs: 100 })).job.state).toBe('done');
        const ledger = await store.listLedger({ jobId: job.jobId });
        expect(ledger.map((e) => [e.taskId, e.nodeId, e.kind, e.state, e.renderSeconds, e.megapixels, e.tiles])).toEqual([
          [t0.taskId, 'a', 'render', 'credited', 0.5, 0.001024, 1],
          [t1.taskId, 'a', 'render', 'credited', 0.5, 0.001024, 1],
          [v.taskId, 'b', 'verify', 'credited', 0.5, 0.001024, 1],
          [stitch.taskId, 'b', 'stitch', 'credited', 0.1, 0, 0],
        ]);
        expect((await store.listLedger({ nodeId: 'b' })).map((e) => e.taskId)).toEqual([v.taskId, stitch.taskId]);
        expect((await store.getNode('a'))!.reputation).toEqual({ verified: 1, disproven: 0, blocklisted: null });
        expect((await store.getNode('b'))!.reputation).toEqual({ verified: 1, disproven: 0, blocklisted: null });
      });

      it('a node with routed work takes a verification waiting for it first (else it would wait for the job to end)', async () => {
        await register('a', 'b');
        const route = (nodeId: string): TaskRoute => ({ nodeId, fallbackId: null, fallbackAt: null, predictedRttMs: 5, rttSource: 'measured', queueMs: 0, renderMs: 1, score: 6, reason: 'test', routedAt: T0, leasedAs: null });
        const { job, tasks } = makeJob({ frames: [0, 1, 2, 3], routed: true });
        await store.createJob(job, tasks);
        // Frames 0 and 1 routed to a, 2 and 3 to b.
        for (const [i, node] of [[0, 'a'], [1, 'a'], [2, 'b'], [3, 'b']] as const) {
          await store.setTaskRoutes([{ taskId: tasks[i].taskId, expectNode: null, route: route(node), openAt: null }]);
        }
        const a0 = (await take('a'))!;
        expect(a0.taskId).toBe(tasks[0].taskId);
        await done('a', a0, GOOD, { sample: true });
        // b still has frames 2 and 3 routed to it: a's result is checked first, then b's own frames.
        const v = (await take('b'))!;
        expect(v).toMatchObject({ kind: 'verify', verifies: a0.taskId, excludeNodes: ['a'] });
        expect((await done('b', v, GOOD)).verdict).toMatchObject({ outcome: 'verified', winners: ['a', 'b'] });
        expect((await take('b'))!.taskId).toBe(tasks[2].taskId);
        // A more urgent job's routed work goes before a verification of a less urgent one.
        const urgent = makeJob({ frames: [0], routed: true, priority: 90 });
        await store.createJob(urgent.job, urgent.tasks);
        await store.setTaskRoutes([{ taskId: urgent.tasks[0].taskId, expectNode: null, route: route('b'), openAt: null }]);
        const a1 = (await take('a'))!;
        expect(a1.taskId).toBe(tasks[1].taskId);
        await done('a', a1, GOOD, { sample: true });
        expect((await take('b'))!.taskId).toBe(urgent.tasks[0].taskId);
        expect((await take('b'))!).toMatchObject({ kind: 'verify', verifies: a1.taskId });
      });

      it('sends a disagreement to a third node; the majority wins, the liar is blocklisted and its work redone', async () => {
        await register('liar', 'a', 'b');
        // Frame 0: 3 tiles; frame 1: 1 tile of 3 done by the liar and already stitched by b.
        const { job, tasks } = makeJob({ frames: [0, 1], width: 96, height: 32, tile: 32 });
        await store.createJob(job, tasks);
        const bad0 = (await take('liar'))!; // frame 0 tile 0
        await done('liar', bad0, BAD, { sample: true });
        const a1 = (await take('a'))!; // frame 0 tile 1
        await done('a', a1, GOOD);
        const a2 = (await take('a'))!; // frame 0 tile 2
        await done('a', a2, GOOD);
        const v1 = (await take('a'))!;
        expect(v1).toMatchObject({ kind: 'verify', verifies: bad0.taskId });
        const escalated = await done('a', v1, GOOD);
        expect(escalated.verdict).toMatchObject({ outcome: 'escalated' });
        const v2 = (await store.listTasks(job.jobId)).find((t) => t.kind === 'verify' && t.state === 'queued')!;
        expect(v2.excludeNodes.sort()).toEqual(['a', 'liar']);
        // Frame 1: the liar renders a tile (not sampled) and b stitches... once all its tiles are in.
        const l10 = (await take('liar'))!;
        expect(l10).toMatchObject({ frame: 1, index: 0 });
        await done('liar', l10, BAD);
        const b11 = (await take('b'))!;
        expect(b11.kind).toBe('verify'); // frame 0's verification comes first
        const verdict = (await done('b', b11, GOOD)).verdict!;
        expect(verdict).toEqual({ taskId: bad0.taskId, outcome: 'disproven', winners: ['a', 'b'], losers: ['liar'], blocklisted: ['liar'] });
        const liar = (await store.getNode('liar'))!;
        expect(liar.reputation).toMatchObject({ verified: 0, disproven: 1, blocklisted: { at: T0 + 100, reason: expect.stringMatching(/outvoted/) } });
        expect((await store.getNode('a'))!.reputation).toMatchObject({ verified: 1, disproven: 0 });
        // Both of the liar's tiles are queued again, excluding it; its ledger entries are void.
        for (const id of [bad0.taskId, l10.taskId]) {
          expect(await store.getTask(id)).toMatchObject({ state: 'queued', result: null, excludeNodes: ['liar'], verification: { state: 'rerender' }, round: 1 });
        }
        expect((await store.getTask(bad0.taskId))!.verification!.disproven).toEqual(['liar']);
        expect((await store.listLedger({ nodeId: 'liar' })).map((e) => e.state)).toEqual(['voided', 'voided']);
        expect((await store.listLedger({ jobId: job.jobId })).filter((e) => e.kind === 'verify').map((e) => [e.nodeId, e.state])).toEqual([['a', 'credited'], ['b', 'credited']]);

        // The re-renders are always verified; then the frames are stitched from agreed tiles only.
        let now = T0 + 200;
        const finish = async (nodeId: string) => {
          const t = (await lease(nodeId, now++))!.task;
          return { t, out: await store.completeTask({ taskId: t.taskId, nodeId, leaseId: t.leaseId!, result: GOOD, now: now++, renderMs: 10, verification: rules }) };
        };
        const r0 = await finish('a');
        expect(r0.t.taskId).toBe(bad0.taskId);
        expect(r0.out.task.verification).toMatchObject({ state: 'pending', disproven: ['liar'] });
        const rv = await finish('b');
        expect(rv.t).toMatchObject({ kind: 'verify', verifies: bad0.taskId, round: 1 });
        // Its id has a render's shape (the job id and an opaque token), nothing that names what it verifies.
        expect(rv.t.taskId).toMatch(new RegExp(`^${job.jobId}\\.[0-9a-f]{16}$`));
        expect(rv.out.verdict).toMatchObject({ outcome: 'verified', winners: ['a', 'b'] });
        const kinds: string[] = [];
        let out = rv.out;
        for (let i = 0; i < 10 && out.job.state !== 'done'; i++) {
          const step = await finish(i % 2 ? 'a' : 'b');
          kinds.push(`${step.t.frame}:${step.t.kind}`);
          out = step.out;
        }
        expect(out.job.state).toBe('done');
        expect(kinds).toContain('0:stitch');
        expect(kinds.filter((k) => k === '1:stitch')).toHaveLength(1);
        // The liar gets nothing: its work is redone, its lease calls find no task.
        const all = await store.listTasks(job.jobId);
        expect(all.filter((t) => t.kind !== 'verify' && t.state === 'done').every((t) => t.nodeId !== 'liar')).toBe(true);
        expect(all.filter((t) => t.kind === 'render').every((t) => t.verification === null || t.verification.state === 'verified')).toBe(true);
      });

      it('re-renders a tile when all three renders differ, and fails the job after maxRounds such rounds', async () => {
        await register('a', 'b', 'c');
        const { job, tasks } = makeJob({ frames: [0] });
        await store.createJob(job, tasks);
        for (let round = 0; round < rules.maxRounds; round++) {
          const t = (await take('a'))!;
          expect(t).toMatchObject({ taskId: tasks[0].taskId, round });
          await done('a', t, sum('1'), { sample: round === 0 });
          await done('b', (await take('b'))!, sum('2'));
          const last = await done('c', (await take('c'))!, sum('3'));
          expect(last.verdict).toMatchObject({ outcome: 'inconclusive', losers: [] });
          if (round < rules.maxRounds - 1) expect(await store.getTask(t.taskId)).toMatchObject({ state: 'queued', verification: { state: 'rerender' } });
          else expect(last.job).toMatchObject({ state: 'failed', error: expect.stringMatching(/disagreed in 2 verification rounds/) });
        }
        for (const id of ['a', 'b', 'c']) expect((await store.getNode(id))!.reputation).toMatchObject({ verified: 0, disproven: 0, blocklisted: null });
        expect((await store.listLedger({ jobId: job.jobId })).every((e) => e.state === 'voided')).toBe(true);
      });

      it('verifies a sampled stitch like a tile: a doctored stitch is outvoted, stitched again by another node, and the frame counts only once agreed', async () => {
        await register('liar', 'a', 'b');
        const { job, tasks } = makeJob({ frames: [0], width: 64, height: 32, tile: 32 });
        await store.createJob(job, tasks);
        await done('a', (await take('a'))!, GOOD);
        await done('a', (await take('a'))!, GOOD);
        const stitch = (await take('liar'))!;
        expect(stitch.kind).toBe('stitch');
        const held = await done('liar', stitch, BAD, { sample: true });
        // Held back: the frame is not finished, the job not done, and a verify task stitches the same tiles elsewhere.
        expect(held.task.verification).toEqual({ state: 'pending', verifiedBy: [], disproven: [] });
        expect(held.job.state).toBe('running');
        expect(await store.listFinishedFrames(job.jobId)).toEqual([]);
        expect(await store.countTasks(job.jobId)).toMatchObject({ framesDone: 0 });
        expect(await take('liar')).toBeNull();
        const v1 = (await take('a'))!;
        expect(v1).toMatchObject({ kind: 'verify', verifies: stitch.taskId, tile: null, frame: 0, excludeNodes: ['liar'], round: 0 });
        expect(v1.outputKey).not.toBe(stitch.outputKey);
        expect(await store.getVerificationRound(v1.taskId)).toMatchObject({ target: { taskId: stitch.taskId }, earlier: [{ nodeId: 'liar', checksum: BAD.checksum }] });
        expect((await done('a', v1, GOOD)).verdict).toMatchObject({ outcome: 'escalated' });
        const v2 = (await take('b'))!;
        expect(v2).toMatchObject({ kind: 'verify', verifies: stitch.taskId, tile: null });
        const voted = await done('b', v2, GOOD);
        expect(voted.verdict).toEqual({ taskId: stitch.taskId, outcome: 'disproven', winners: ['a', 'b'], losers: ['liar'], blocklisted: ['liar'] });
        expect((await store.getNode('liar'))!.reputation).toMatchObject({ verified: 0, disproven: 1, blocklisted: { reason: expect.stringMatching(/outvoted/) } });
        // The stitch is queued again without the liar, in a new round whose result is always checked.
        expect(await store.getTask(stitch.taskId)).toMatchObject({ state: 'queued', result: null, excludeNodes: ['liar'], verification: { state: 'rerender', disproven: ['liar'] }, round: 1 });
        expect((await store.listLedger({ nodeId: 'liar' })).map((e) => [e.kind, e.state])).toEqual([['stitch', 'voided']]);
        expect(await store.listFinishedFrames(job.jobId)).toEqual([]);
        const again = (await lease('b', T0 + 300))!.task;
        expect(again.taskId).toBe(stitch.taskId);
        const pending = await store.completeTask({ taskId: again.taskId, nodeId: 'b', leaseId: again.leaseId!, result: GOOD, now: T0 + 310, renderMs: 10, verification: rules });
        expect(pending.task.verification).toMatchObject({ state: 'pending' });
        const check = (await lease('a', T0 + 320))!.task;
        expect(check).toMatchObject({ kind: 'verify', verifies: stitch.taskId, round: 1 });
        const final = await store.completeTask({ taskId: check.taskId, nodeId: 'a', leaseId: check.leaseId!, result: GOOD, now: T0 + 330, renderMs: 10, verification: rules });
        expect(final.verdict).toMatchObject({ outcome: 'verified', winners: ['b', 'a'] });
        expect(final.job.state).toBe('done');
        expect((await store.listFinishedFrames(job.jobId)).map((t) => [t.taskId, t.nodeId, t.result!.checksum])).toEqual([[stitch.taskId, 'b', GOOD.checksum]]);
      });

      it('a tile re-rendered after its frame was stitched ends the stitch\'s open vote and stitches again', async () => {
        await register('a', 'b', 'c');
        const { job, tasks } = makeJob({ frames: [0], width: 64, height: 32, tile: 32 });
        await store.createJob(job, tasks);
        const t0 = (await take('a'))!;
        await done('a', t0, GOOD);
        await done('a', (await take('a'))!, GOOD);
        const stitch = (await take('b'))!;
        await done('b', stitch, GOOD, { sample: true });
        const v = (await take('c'))!;
        expect(v).toMatchObject({ kind: 'verify', verifies: stitch.taskId });
        // a is blocklisted: its tiles are rendered again, the stitch's vote ends and the verify task is cancelled.
        await store.blocklistNode('a', 'caught elsewhere', T0 + 200);
        expect(await store.getTask(v.taskId)).toMatchObject({ state: 'cancelled' });
        expect(await store.getTask(stitch.taskId)).toMatchObject({ state: 'queued', result: null, verification: { state: 'rerender' }, round: 1 });
        await expectCode(done('c', v, GOOD), 'LEASE_LOST');
        expect((await store.listLedger({ jobId: job.jobId })).filter((e) => e.kind === 'stitch').map((e) => e.state)).toEqual(['voided']);
      });

      it('uses the agreement the API measured when given (perceptual comparison), else checksums', async () => {
        await register('a', 'b');
        const { job, tasks } = makeJob({ frames: [0] });
        await store.createJob(job, tasks);
        await done('a', (await take('a'))!, GOOD, { sample: true });
        const out = await done('b', (await take('b'))!, BAD, { agrees: [true] });
        expect(out.verdict).toMatchObject({ outcome: 'verified', winners: ['a', 'b'] });
        expect(out.job.state).toBe('done');
        expect(await store.listFinishedFrames(job.jobId)).toHaveLength(1);
      });

      it('skips a verification no eligible node can take, accepting the result, and finishes the job', async () => {
        await register('a', 'b');
        const { job, tasks } = makeJob({ frames: [0] });
        await store.createJob(job, tasks);
        const t = (await take('a'))!;
        await done('a', t, GOOD, { sample: true });
        expect(await store.listFinishedFrames(job.jobId)).toEqual([]);
        // b is healthy: nothing is skipped. Only a is left: the verification is skipped.
        const a = { nodeId: 'a', card: card('eu') };
        const b = { nodeId: 'b', card: card('eu') };
        expect((await store.skipStrandedVerifications({ waitingSince: T0 + 1000, eligible: [a, b], now: T0 + 1000 })).skipped).toEqual([]);
        expect((await store.skipStrandedVerifications({ waitingSince: T0 + 50, eligible: [a], now: T0 + 1000 })).skipped).toEqual([]); // not waiting long enough
        const { skipped, changes } = await store.skipStrandedVerifications({ waitingSince: T0 + 1000, eligible: [a], now: T0 + 1000 });
        expect(skipped).toEqual([t.taskId]);
        expect(changes.map((c) => `${c.entity}:${c.from}->${c.to}`)).toEqual(['task:queued->cancelled', 'verification:pending->skipped', 'job:running->done']);
        expect((await store.getTask(t.taskId))!.verification!.state).toBe('skipped');
        expect((await store.listLedger({ jobId: job.jobId })).map((e) => e.state)).toEqual(['credited']);

        // A healthy node that may not run the job (its requirements) cannot verify it either.
        const eu = makeJob({ frames: [0], requirements: { allowedRegions: ['eu'] } });
        await store.createJob(eu.job, eu.tasks);
        const u = (await store.leaseNext({ nodeId: 'a', leaseId: 'l-eu', now: T0 + 150, policy, card: card('eu') }))!.task;
        await done('a', u, GOOD, { sample: true });
        const us = { nodeId: 'b', card: card('us') };
        expect((await store.skipStrandedVerifications({ waitingSince: T0 + 1000, eligible: [a, us], now: T0 + 1000 })).skipped).toEqual([u.taskId]);
      });

      it('a frame finished again after a blocklist comes again after the cursor, with its new result', async () => {
        await register('x', 'y');
        const { job, tasks } = makeJob({ frames: [0, 1] });
        await store.createJob(job, tasks);
        await done('x', (await take('x'))!, BAD);
        const first = await store.listFinishedFramesSince(job.jobId, FINISHED_FRAMES_START, 10);
        expect(first.tasks.map((t) => [t.frame, t.nodeId, t.result!.checksum])).toEqual([[0, 'x', BAD.checksum]]);
        await store.blocklistNode('x', 'caught', T0 + 120);
        // No longer finished: neither list has it.
        expect((await store.listFinishedFramesSince(job.jobId, FINISHED_FRAMES_START, 10)).tasks).toEqual([]);
        expect(await store.listFinishedFramesAfter(job.jobId, -1, 10)).toEqual([]);
        const again = (await take('y'))!;
        expect(again.taskId).toBe(tasks[0].taskId);
        await store.completeTask({ taskId: again.taskId, nodeId: 'y', leaseId: again.leaseId!, result: GOOD, now: T0 + 200, verifiable: false, verification: rules });
        const next = await store.listFinishedFramesSince(job.jobId, first.cursor, 10);
        expect(next.tasks.map((t) => [t.frame, t.nodeId, t.result!.checksum])).toEqual([[0, 'y', GOOD.checksum]]);
        expect(next.cursor).toBeGreaterThan(first.cursor);
        // A sampled result is not finished until its vote: it comes once verified.
        const one = (await take('y'))!;
        expect(one.frame).toBe(1);
        await store.completeTask({ taskId: one.taskId, nodeId: 'y', leaseId: one.leaseId!, result: GOOD, now: T0 + 210, renderMs: 500, verification: rules, sample: true });
        expect(await store.listFinishedFramesSince(job.jobId, next.cursor, 10)).toEqual({ tasks: [], cursor: next.cursor });
      });

      it('re-renders what a blocklisted node delivered; a re-render nobody else can check is accepted unverified', async () => {
        await register('x', 'y');
        const { job, tasks } = makeJob({ frames: [0, 1] });
        await store.createJob(job, tasks);
        await done('x', (await take('x'))!, BAD);
        expect((await store.listFinishedFrames(job.jobId)).map((t) => t.frame)).toEqual([0]);
        const changes = await store.blocklistNode('x', 'caught', T0 + 120);
        expect(changes.map((c) => `${c.id}:${c.from}->${c.to}`)).toEqual([`${tasks[0].taskId}:done->queued`, `${tasks[0].taskId}:none->rerender`]);
        expect(await store.listFinishedFrames(job.jobId)).toEqual([]);
        const again = (await take('y'))!;
        expect(again).toMatchObject({ taskId: tasks[0].taskId, attempts: 2, excludeNodes: ['x'] });
        const out = await store.completeTask({ taskId: again.taskId, nodeId: 'y', leaseId: again.leaseId!, result: GOOD, now: T0 + 200, verifiable: false, verification: rules });
        expect(out.task.verification).toMatchObject({ state: 'skipped' });
        expect(await store.listTasks(job.jobId)).toHaveLength(2); // no verify task
        expect((await store.listLedger({ jobId: job.jobId })).map((e) => [e.nodeId, e.state])).toEqual([['x', 'voided'], ['y', 'credited']]);
      });

      it('blocklisting revokes leases at once and keeps the records across a restart', async () => {
        await register('x', 'y');
        const { job, tasks } = makeJob({ frames: [0, 1] });
        await store.createJob(job, tasks);
        const held = (await take('x'))!;
        const changes = await store.blocklistNode('x', 'test', T0 + 60);
        expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['leased->queued', 'none->rerender']);
        expect((await store.heartbeat({ nodeId: 'x', leaseIds: [held.leaseId!], load: 0, now: T0 + 61, policy })).revoked).toEqual([held.leaseId]);
        await expectCode(done('x', held, GOOD), 'LEASE_LOST');
        expect(await store.blocklistNode('x', 'again', T0 + 70)).toEqual([]);
        store = await fx.reopen();
        expect((await store.getNode('x'))!.reputation!.blocklisted).toEqual({ at: T0 + 60, reason: 'test' });
        expect((await lease('y', T0 + 80))!.task.taskId).toBe(held.taskId);
      });
    });

    describe('composite node calls (one step each: one Durable Object request)', () => {
      const hashOf = (nodeId: string) => nodeId.padEnd(64, '0');
      const registerNode = (nodeId: string, concurrency = 2) =>
        store.registerNode({ nodeId, tokenHash: hashOf(nodeId), card: { ...nodeCardFor('eu'), concurrency }, registeredAt: T0, lastSeenAt: T0, load: 0 });
      const authLease = (nodeId: string, extra: { tokenHash?: string; max?: number; ahead?: number; now?: number; waitMs?: number } = {}) =>
        store.authenticateAndLease({
          credentials: { nodeId, tokenHash: extra.tokenHash ?? hashOf(nodeId) },
          max: extra.max ?? 4,
          ahead: extra.ahead ?? 0,
          aheadLeaseMs: 1000,
          leaseIds: Array.from({ length: 8 }, () => `cl_${++leaseSeq}`),
          now: extra.now ?? T0,
          policy,
          expire: true,
          waitMs: extra.waitMs,
        });

      it('authenticates and leases in one step: the node\'s slots cap it, expired leases are swept first, the call is recorded', async () => {
        await registerNode('c1', 2);
        await expectCode(authLease('c1', { tokenHash: 'e'.repeat(64) }), 'UNAUTHORIZED');
        await expectCode(authLease('c_missing'), 'NODE_NOT_FOUND');
        // Nothing to lease, no job at all: an idle farm.
        const idle = await authLease('c1', { now: T0 + 1 });
        expect(idle).toMatchObject({ runnableJobs: false, lease: { leased: [], expired: [] } });
        expect(idle.node).toMatchObject({ nodeId: 'c1', lastLeaseAt: null });
        const { job, tasks } = makeJob({ frames: [0, 1, 2, 3] });
        await store.createJob(job, tasks);
        // Asks for 4 and one ahead: gets its 2 slots and 1 ahead.
        const got = await authLease('c1', { now: T0 + 2, ahead: 1 });
        expect(got.runnableJobs).toBe(true);
        expect(got.node.lastLeaseAt).toBe(T0 + 1);
        expect(got.lease!.leased.map((o) => [o.task.frame, o.task.nodeId])).toEqual([
          [0, 'c1'],
          [1, 'c1'],
          [2, 'c1'],
        ]);
        expect((await store.getNode('c1'))!.lastLeaseAt).toBe(T0 + 2);
        // Another node's call, after the leases ran out, requeues them and leases in the same step.
        await registerNode('c2', 4);
        const later = await authLease('c2', { now: T0 + policy.leaseMs + 10 });
        expect(later.lease!.expired.map((c) => c.id).sort()).toEqual(got.lease!.leased.map((o) => o.task.taskId).sort());
        expect(later.lease!.leased.map((o) => o.task.frame)).toEqual([0, 1, 2, 3]);
      });

      it('leases nothing to a blocklisted node and records nothing; a store may hold an idle call only up to waitMs', async () => {
        await registerNode('b1');
        await store.blocklistNode('b1', 'test', T0);
        const { job, tasks } = makeJob({ frames: [0] });
        await store.createJob(job, tasks);
        const refused = await authLease('b1', { now: T0 + 5 });
        expect(refused.lease).toBeNull();
        expect((await store.getNode('b1'))!.lastLeaseAt).toBeNull();
        expect((await store.getTask(tasks[0].taskId))!.state).toBe('queued');
        // An idle farm (nothing runnable once the job is cancelled): the call answers within its wait, leasing nothing.
        await store.cancelJob(job.jobId, T0 + 6);
        await registerNode('w1');
        const started = Date.now();
        const idle = await authLease('w1', { now: T0 + 7, waitMs: 100 });
        expect(idle.lease!.leased).toEqual([]);
        expect(idle.waited === undefined || idle.waited.woken === false).toBe(true);
        expect(Date.now() - started).toBeLessThan(5000);
      });

      it('checks a completion\'s node and task in one read, then completes and leases the next tasks in one step', async () => {
        await registerNode('d1', 1);
        const { job, tasks } = makeJob({ frames: [0, 1, 2] });
        await store.createJob(job, tasks);
        const held = (await authLease('d1')).lease!.leased[0].task;
        await expectCode(store.authenticateTask({ tokenHash: 'e'.repeat(64), taskId: held.taskId }), 'UNAUTHORIZED');
        expect(await store.authenticateTask({ tokenHash: hashOf('d1'), taskId: 'task_missing' })).toMatchObject({ node: { nodeId: 'd1' }, task: null, job: null });
        const seen = await store.authenticateTask({ tokenHash: hashOf('d1'), taskId: held.taskId });
        expect([seen.node.nodeId, seen.task?.taskId, seen.task?.leaseId, seen.job?.jobId]).toEqual(['d1', held.taskId, held.leaseId, job.jobId]);
        const nextLease = (ids: string[], now: number) => ({ nodeId: 'd1', leaseIds: ids, now, policy, card: { ...nodeCardFor('eu'), concurrency: 1 }, maxLeases: 1 });
        // A lost lease: nothing is completed and nothing leased (all or nothing).
        await expectCode(store.completeAndLease({ complete: { taskId: held.taskId, nodeId: 'd1', leaseId: 'lease_wrong', result, now: T0 + 1 }, lease: nextLease(['n0'], T0 + 1) }), 'LEASE_LOST');
        expect((await store.listTasks(job.jobId)).filter((t) => t.state === 'leased').map((t) => t.taskId)).toEqual([held.taskId]);
        const out = await store.completeAndLease({ complete: { taskId: held.taskId, nodeId: 'd1', leaseId: held.leaseId!, result, now: T0 + 2 }, lease: nextLease(['n1', 'n2'], T0 + 2) });
        expect(out.completed.task).toMatchObject({ taskId: held.taskId, state: 'done' });
        expect(out.completed.changes.map((c) => `${c.entity}:${c.from}->${c.to}`)).toEqual(['task:leased->done']);
        // Its one slot is free again: the next task (one: the slots cap it), leased in the same step.
        expect(out.lease!.leased.map((o) => [o.task.frame, o.task.leaseId])).toEqual([[1, 'n1']]);
        // Without a lease it only completes.
        const plain = await store.completeAndLease({ complete: { taskId: out.lease!.leased[0].task.taskId, nodeId: 'd1', leaseId: 'n1', result, now: T0 + 3 } });
        expect([plain.completed.task.state, plain.lease]).toEqual(['done', null]);
      });

      it('completes in one call: reads node, task and job, asks the route, records its decision (other calls may run meanwhile)', async () => {
        await registerNode('k1', 1);
        const { job, tasks } = makeJob({ frames: [0, 1, 2] });
        await store.createJob(job, tasks);
        const held = (await authLease('k1')).lease!.leased[0].task;
        const nextLease = (ids: string[], now: number) => ({ nodeId: 'k1', leaseIds: ids, now, policy, card: { ...nodeCardFor('eu'), concurrency: 1 }, maxLeases: 1 });
        const complete = (now: number, leaseId = held.leaseId!) => ({ taskId: held.taskId, nodeId: 'k1', leaseId, result, now });
        let asked = 0;
        // A wrong token: refused before the route is asked anything.
        await expectCode(
          store.authenticateAndComplete({ tokenHash: 'e'.repeat(64), taskId: held.taskId }, async () => {
            asked++;
            return { stop: true };
          }),
          'UNAUTHORIZED',
        );
        expect(asked).toBe(0);
        // The route stops (an error of its own): nothing recorded. It saw the node, task and job, and could call the store meanwhile.
        const stopped = await store.authenticateAndComplete({ tokenHash: hashOf('k1'), taskId: held.taskId }, async (read) => {
          expect([read.node.nodeId, read.task?.taskId, read.task?.leaseId, read.job?.jobId]).toEqual(['k1', held.taskId, held.leaseId, job.jobId]);
          expect((await store.getTask(held.taskId))!.state).toBe('leased');
          return { stop: true };
        });
        expect([stopped.completed, stopped.failed, stopped.lease]).toEqual([null, null, null]);
        expect((await store.getTask(held.taskId))!.state).toBe('leased');
        const missing = await store.authenticateAndComplete({ tokenHash: hashOf('k1'), taskId: 'task_missing' }, async (read) => {
          expect([read.task, read.job]).toEqual([null, null]);
          return { stop: true };
        });
        expect(missing.read.node.nodeId).toBe('k1');
        // A lost lease: nothing completed, nothing leased.
        await expectCode(store.authenticateAndComplete({ tokenHash: hashOf('k1'), taskId: held.taskId }, async () => ({ complete: complete(T0 + 1, 'lease_wrong'), lease: nextLease(['m0'], T0 + 1) })), 'LEASE_LOST');
        expect((await store.listTasks(job.jobId)).filter((t) => t.state === 'leased').map((t) => t.taskId)).toEqual([held.taskId]);
        // Completed, and the next task leased in the same call.
        const out = await store.authenticateAndComplete({ tokenHash: hashOf('k1'), taskId: held.taskId }, async () => ({ complete: complete(T0 + 2), lease: nextLease(['m1', 'm2'], T0 + 2) }));
        expect(out.completed!.task).toMatchObject({ taskId: held.taskId, state: 'done' });
        expect(out.completed!.changes.map((c) => `${c.entity}:${c.from}->${c.to}`)).toEqual(['task:leased->done']);
        expect(out.lease!.leased.map((o) => [o.task.frame, o.task.leaseId])).toEqual([[1, 'm1']]);
        // The same completion again (a retried request): nothing changes.
        const again = await store.authenticateAndComplete({ tokenHash: hashOf('k1'), taskId: held.taskId }, async (read) => {
          expect(read.task!.state).toBe('done');
          return { complete: complete(T0 + 3) };
        });
        expect(again.completed!.changes).toEqual([]);
        // A refused output fails the attempt: the task is queued again, counted against the node.
        const second = out.lease!.leased[0].task;
        const failed = await store.authenticateAndComplete({ tokenHash: hashOf('k1'), taskId: second.taskId }, async () => ({
          fail: { taskId: second.taskId, nodeId: 'k1', leaseId: 'm1', reason: 'OUTPUT_CORRUPT: test', sceneFault: false, now: T0 + 4, policy },
        }));
        expect([failed.completed, failed.lease]).toEqual([null, null]);
        expect(failed.failed!.changes.map((c) => `${c.entity}:${c.from}->${c.to}`)).toEqual(['task:leased->queued']);
        expect((await store.getTask(second.taskId))!.state).toBe('queued');
      });

      it('authenticates and fails an attempt in one step; bad credentials or a lost lease record nothing', async () => {
        await registerNode('f1');
        await registerNode('f2');
        const { job, tasks } = makeJob({ frames: [0] });
        await store.createJob(job, tasks);
        const held = (await authLease('f1')).lease!.leased[0].task;
        const failAs = (credentials: { tokenHash: string; nodeId?: string }, leaseId = held.leaseId!, now = T0 + 10) =>
          store.authenticateAndFail({ credentials, taskId: held.taskId, leaseId, reason: 'gl context lost', sceneFault: false, now, policy });
        // Wrong token, unknown node, another node's token, a stale lease: refused, and the task stays leased.
        await expectCode(failAs({ nodeId: 'f1', tokenHash: hashOf('f2') }), 'UNAUTHORIZED');
        await expectCode(failAs({ tokenHash: 'e'.repeat(64) }), 'UNAUTHORIZED');
        await expectCode(failAs({ nodeId: 'f_missing', tokenHash: hashOf('f_missing') }), 'NODE_NOT_FOUND');
        await expectCode(failAs({ nodeId: 'f2', tokenHash: hashOf('f2') }), 'LEASE_LOST');
        await expectCode(failAs({ nodeId: 'f1', tokenHash: hashOf('f1') }, 'lease_stale'), 'LEASE_LOST');
        await expectCode(store.authenticateAndFail({ credentials: { nodeId: 'f1', tokenHash: hashOf('f1') }, taskId: 'task_missing', leaseId: held.leaseId!, reason: 'x', sceneFault: false, now: T0 + 10, policy }), 'TASK_NOT_FOUND');
        expect(await store.getTask(held.taskId)).toMatchObject({ state: 'leased', nodeId: 'f1', attempts: 1 });
        // The holder (found by its id, or by its token hash alone): the attempt fails as failTask would, retried after a backoff.
        const out = await failAs({ tokenHash: hashOf('f1') });
        expect(out.node.nodeId).toBe('f1');
        expect(out.failed.changes.map((c) => `${c.entity}:${c.from}->${c.to}`)).toEqual(['task:leased->queued']);
        expect(out.failed.task).toMatchObject({ state: 'queued', notBefore: T0 + 10 + policy.retryBaseMs * 2 });
        expect(out.failed.job.state).toBe('running');
        // Failing it again is a lost lease: the failure counted once.
        await expectCode(failAs({ nodeId: 'f1', tokenHash: hashOf('f1') }), 'LEASE_LOST');
        const again = (await authLease('f2', { now: T0 + 60_000 })).lease!.leased[0].task;
        expect(again.taskId).toBe(held.taskId);
        expect(again.attempts).toBe(2);
      });

      it('authenticates and heartbeats in one step; a blocklisted node\'s heartbeat records nothing', async () => {
        await registerNode('h1');
        const { job, tasks } = makeJob({ frames: [0] });
        await store.createJob(job, tasks);
        const held = (await authLease('h1')).lease!.leased[0].task;
        const beat = (nodeId: string, tokenHash: string, now: number) => store.authenticateAndHeartbeat({ credentials: { nodeId, tokenHash }, leaseIds: [held.leaseId!, 'lease_other'], load: 0.25, now, policy });
        await expectCode(beat('h1', 'e'.repeat(64), T0 + 1), 'UNAUTHORIZED');
        await expectCode(beat('h_missing', hashOf('h_missing'), T0 + 1), 'NODE_NOT_FOUND');
        const ack = await beat('h1', hashOf('h1'), T0 + 5000);
        expect(ack.revoked).toEqual(['lease_other']);
        expect(ack.node.load).toBe(0);
        expect((await store.getTask(held.taskId))!.leaseExpiresAt).toBe(T0 + 5000 + policy.leaseMs);
        expect(await store.getNode('h1')).toMatchObject({ load: 0.25, lastSeenAt: T0 + 5000 });
        await store.blocklistNode('h1', 'test', T0 + 6000);
        const refused = await beat('h1', hashOf('h1'), T0 + 7000);
        expect(refused.revoked).toBeNull();
        expect(await store.getNode('h1')).toMatchObject({ load: 0.25, lastSeenAt: T0 + 5000 });
      });
    });
  });
}

/** A resource card in `region`. */
function nodeCardFor(region: string): NodeCard {
  return { name: region, region, version: '1', cpu: { model: 'c', cores: 4 }, ramBytes: 1, gl: { renderer: 'r', vendor: 'v', version: '1', maxTextureSize: 1, maxViewport: [1, 1] }, tilesPerSecond: 2, concurrency: 1 };
}
