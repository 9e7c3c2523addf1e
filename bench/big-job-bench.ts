/**
 * `npm run bench:big-job`: what reading a big job's state costs the API (issue 18: ≤ 50 ms for a 100,000-task
 * job). One SqlJobStore on a SQLite file (the Node API's store; the coordinator Durable Object runs the same SQL),
 * one job of N whole frames with some finished, then the median of R reads of each path, JSON included:
 *   summary  GET /v1/jobs/:id/summary — getJob + countTasks (SQL counts) + the view
 *   status   GET /v1/jobs/:id         — getJob + listTasks (every task) + the view
 *   frames   every finished frame's row: what an event stream read on each wake-up before issue 18's cursor
 *   cursor   an event stream's wake-up now: the frames finished since its cursor (listFinishedFramesSince), with one
 *            new frame and with none; and a new stream's first reading of all of them, 1000 a store call
 *   page     GET /v1/jobs/:id/frames?after=<middle>&limit=100 (listFinishedFramesAfter)
 *   complete a lease + completion, the mean over the `done` ones (each completion now also sets finished_seq)
 * Writes bench/results/big-job-<timestamp>.json and big-job-latest.json. Options: --tasks 100000 --done 2000 --repeats 5
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compileJob } from '../api/core/job-compiler.ts';
import { FINISHED_FRAMES_START, type TaskRecord } from '../api/core/job-store.ts';
import { toJobStatus, toJobSummary } from '../api/core/job-status-view.ts';
import { SqlJobStore } from '../api/core/sql-job-store.ts';
import { TASK_POLICY_DEFAULTS } from '../api/core/task-policy.ts';
import { openSqliteDriver } from '../api/node/sqlite-job-store.ts';
import { EncodeSpec, ViewSpec } from '../api/protocol/render-spec.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({ options: { tasks: { type: 'string', default: '100000' }, done: { type: 'string', default: '2000' }, repeats: { type: 'string', default: '5' } } });
const tasks = Number(args.tasks);
const done = Number(args.done);
const repeats = Number(args.repeats);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const dir = await mkdtemp(join(tmpdir(), 'tessera-big-job-'));
const store = new SqlJobStore(openSqliteDriver(join(dir, 'jobs.sqlite')));
const T0 = Date.now();
const sceneId = 'b'.repeat(64);
await store.putScene({ sceneId, bytes: 1, stats: { vertices: 8 }, info: { cameras: [], cameraNodes: [], clips: [], scenes: [null], defaultScene: 0 }, createdAt: T0 });
const { job, tasks: records } = compileJob(
  { jobId: 'job_big', sceneId, priority: 50, view: ViewSpec.parse({ width: 64, height: 64 }), encode: EncodeSpec.parse({}), frames: Array.from({ length: tasks }, (_, i) => i), tile: null },
  T0,
);
const c0 = performance.now();
await store.createJob(job, records);
const createMs = performance.now() - c0;
const policy = { ...TASK_POLICY_DEFAULTS };
const d0 = performance.now();
for (let i = 0; i < done; i++) {
  const leased = await store.leaseNext({ nodeId: 'n1', leaseId: `lease_${i}`, now: T0 + i, policy });
  if (!leased) break;
  await store.completeTask({ taskId: leased.task.taskId, nodeId: 'n1', leaseId: `lease_${i}`, result: { bytes: 10, checksum: 'c'.repeat(64) }, now: T0 + i });
}
const completeMs = (performance.now() - d0) / Math.max(done, 1);

async function time(fn: () => Promise<string>): Promise<{ medianMs: number; bytes: number; samplesMs: number[] }> {
  let bytes = 0;
  const samplesMs: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    const t0 = performance.now();
    bytes = (await fn()).length;
    if (i > 0) samplesMs.push(Math.round((performance.now() - t0) * 10) / 10);
  }
  return { medianMs: median(samplesMs), bytes, samplesMs };
}
const now = T0 + done;
const summary = await time(async () => JSON.stringify(toJobSummary((await store.getJob(job.jobId))!, await store.countTasks(job.jobId), now)));
const status = await time(async () => JSON.stringify(toJobStatus((await store.getJob(job.jobId))!, await store.listTasks(job.jobId), now)));
const frameJson = (list: TaskRecord[]) => JSON.stringify(list.map((t) => ({ frame: t.frame, bytes: t.result!.bytes, checksum: t.result!.checksum })));
const frames = await time(async () => frameJson(await store.listFinishedFrames(job.jobId)));
// A new stream's first wake-up: every finished frame, a page of 1000 at a time (the route's FINISHED_FRAMES_PAGE).
let cursor = FINISHED_FRAMES_START;
const firstRead = await time(async () => {
  const all: TaskRecord[] = [];
  cursor = FINISHED_FRAMES_START;
  for (;;) {
    const page = await store.listFinishedFramesSince(job.jobId, cursor, 1000);
    all.push(...page.tasks);
    cursor = page.cursor;
    if (page.tasks.length < 1000) break;
  }
  return frameJson(all);
});
const idle = await time(async () => frameJson((await store.listFinishedFramesSince(job.jobId, cursor, 1000)).tasks));
// One more frame finishes: each later wake-up reads it alone (the cursor stays put, so every repeat reads the same one).
const extra = await store.leaseNext({ nodeId: 'n1', leaseId: 'lease_extra', now: T0 + done, policy });
await store.completeTask({ taskId: extra!.task.taskId, nodeId: 'n1', leaseId: 'lease_extra', result: { bytes: 10, checksum: 'c'.repeat(64) }, now: T0 + done });
const wake = await time(async () => frameJson((await store.listFinishedFramesSince(job.jobId, cursor, 1000)).tasks));
const page = await time(async () => frameJson(await store.listFinishedFramesAfter(job.jobId, Math.floor(done / 2), 101)));
await store.close();
await rm(dir, { recursive: true, force: true });

const load = loadavg()[0];
const row = (name: string, r: { medianMs: number; bytes: number }) => `${name.padEnd(40)} ${r.medianMs.toFixed(1).padStart(8)} ms  ${(r.bytes / 1e6).toFixed(2).padStart(7)} MB`;
process.stdout.write(`big job: ${tasks.toLocaleString('en-US')} tasks (${done} done), created in ${createMs.toFixed(0)} ms; median of ${repeats} reads, JSON included; load average ${load.toFixed(1)}\n`);
process.stdout.write(`${row('summary (GET /v1/jobs/:id/summary)', summary)}\n${row('status with every task (GET /v1/jobs/:id)', status)}\n${row(`finished frames (${done}, not presigned)`, frames)}\n`);
process.stdout.write(`event stream wake-up: before (every finished frame) ${frames.medianMs.toFixed(1)} ms; with a cursor: 1 new frame ${wake.medianMs.toFixed(2)} ms, none ${idle.medianMs.toFixed(2)} ms; a new stream's first read of all ${done} (pages of 1000) ${firstRead.medianMs.toFixed(1)} ms\n`);
process.stdout.write(`${row('frame list page (after=middle, 100)', page)}\nlease + completion: ${completeMs.toFixed(2)} ms each (mean of ${done})\n`);
process.stdout.write(`${summary.medianMs <= 50 ? 'met    ' : 'NOT MET'}  summary of a ${tasks.toLocaleString('en-US')}-task job ≤ 50 ms: ${summary.medianMs.toFixed(1)} ms\n`);
const report = { startedAt: new Date(T0).toISOString(), loadAvg1m: load, tasks, done, createMs, completeMs, summary, status, frames, streamWake: { oneNew: wake, none: idle, firstRead }, framePage: page };
const results = join(ROOT, 'bench', 'results');
await mkdir(results, { recursive: true });
const stamp = new Date(T0).toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
const json = JSON.stringify(report, null, 2) + '\n';
await writeFile(join(results, `big-job-${stamp}.json`), json);
await writeFile(join(results, 'big-job-latest.json'), json);
