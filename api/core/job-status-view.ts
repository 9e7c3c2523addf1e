/** Turns job and task records into the client's views: JobStatus, progress counts and the ETA. */
import type { JobStatus, JobSummary } from '../protocol/job-status.ts';
import { outputsFrame } from './job-compiler.ts';
import type { JobRecord, TaskCounts, TaskRecord } from './job-store.ts';

export interface JobProgress {
  frames: { done: number; total: number };
  tiles: { done: number; total: number };
}

/** Counts of a task list (the store counts without listing; this is for a list already read). */
export function countOf(tasks: TaskRecord[]): TaskCounts {
  const counts: TaskCounts = { tasks: tasks.length, tasksDone: 0, renders: 0, rendersDone: 0, framesDone: 0 };
  for (const t of tasks) {
    const done = t.state === 'done';
    if (done) counts.tasksDone += 1;
    if (t.kind === 'render') {
      counts.renders += 1;
      if (done) counts.rendersDone += 1;
    }
    // A one-tile frame whose render waits for its verification is not finished yet (as the store counts it).
    if (done && outputsFrame(t) && t.verification?.state !== 'pending') counts.framesDone += 1;
  }
  return counts;
}

/** Frames and tiles done so far. */
export function jobProgress(job: JobRecord, counts: TaskCounts): JobProgress {
  return { frames: { done: counts.framesDone, total: job.frames.length }, tiles: { done: counts.rendersDone, total: counts.renders } };
}

/** Seconds left at the pace so far (tasks done per second since the job started); null until one is done. */
export function estimateSeconds(job: JobRecord, counts: TaskCounts, now: number): number | null {
  if (job.state === 'done') return 0;
  if (job.state !== 'running' || job.startedAt === null || counts.tasksDone === 0) return null;
  const perTask = (now - job.startedAt) / 1000 / counts.tasksDone;
  return Math.round(perTask * (counts.tasks - counts.tasksDone) * 10) / 10;
}

/** `GET /v1/jobs/:id/summary`: from the store's counts, without reading the tasks. */
export function toJobSummary(job: JobRecord, counts: TaskCounts, now: number): JobSummary {
  const progress = jobProgress(job, counts);
  return {
    jobId: job.jobId,
    sceneId: job.sceneId,
    state: job.state,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    frames: progress.frames,
    tiles: progress.tiles,
    etaSeconds: estimateSeconds(job, counts, now),
    error: job.error,
  };
}

/** `GET /v1/jobs/:id`. */
export function toJobStatus(job: JobRecord, tasks: TaskRecord[], now: number): JobStatus {
  return {
    ...toJobSummary(job, countOf(tasks), now),
    tasks: tasks.map((t) => ({
      taskId: t.taskId,
      kind: t.kind,
      frame: t.frame,
      tile: t.tile,
      state: t.state,
      attempts: t.attempts,
      node: t.nodeId,
      error: t.error,
      route: t.route && {
        nodeId: t.route.nodeId,
        fallbackId: t.route.fallbackId,
        predictedRttMs: t.route.predictedRttMs,
        rttSource: t.route.rttSource,
        queueMs: t.route.queueMs,
        renderMs: t.route.renderMs,
        score: t.route.score,
        reason: t.route.reason,
        routedAt: t.route.routedAt,
        leasedAs: t.route.leasedAs,
      },
      verification: t.verification && { state: t.verification.state, round: t.round, verifiedBy: t.verification.verifiedBy, disproven: t.verification.disproven },
      verifies: t.verifies,
    })),
  };
}
