/**
 * Jobs: submit (checked against the scene, compiled into tasks), follow (status, server-sent events),
 * download (presigned frame URLs) and cancel.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { bytesToBase64 } from '../../protocol/base64-bytes.ts';
import { TesseraError } from '../../protocol/errors.ts';
import { JobRequest } from '../../protocol/job-spec.ts';
import { JobCreated, JobFrames, JobStatus, JobSummary, type JobEvent } from '../../protocol/job-status.ts';
import type { ApiContext } from '../api-context.ts';
import { randomId } from '../crypto-utils.ts';
import { compileJob } from '../job-compiler.ts';
import { FINISHED_FRAMES_START, type JobClientRecord, type JobRecord, type SceneRecord, type TaskRecord } from '../job-store.ts';
import { jobProgress, toJobStatus, toJobSummary } from '../job-status-view.ts';
import { jobTopic, TASKS_TOPIC } from '../notifier.ts';
import { acceptedKey } from '../object-keys.ts';
import { planJob } from '../plan-job.ts';
import { jobWaitingReason } from '../job-waiting.ts';
import { epochMs, stampTimeline } from '../timeline.ts';
import { isJobFinished } from '../state-machine.ts';
import type { Principal } from '../client-keys.ts';
import { mayAccess } from '../client-keys.ts';
import { CLIENT_AUTH_ERRORS, clientSecurity, principalOf } from './client-auth.ts';
import { clientEdgePop } from './client-edge.ts';
import { edgeLocation, withEdgeLocation } from './edge-location.ts';
import { errorResponses } from './error-responses.ts';
import { jsonBody, jsonResponse } from './route-shapes.ts';

/** Longest an event stream stays silent. */
const SSE_KEEPALIVE_MS = 15_000;
/** Finished frames an event stream reads per store call (it reads pages until it has every new one). */
const FINISHED_FRAMES_PAGE = 1000;

const JobParams = z.object({ id: z.string().min(1).max(128) });
const StatusQuery = z.object({
  tasksFrom: z.coerce.number().int().min(0).optional(),
  tasksLimit: z.coerce.number().int().min(1).optional(),
});
const EventsQuery = z.object({
  /** `1`: frame events carry the frame itself (base64 `inline`) when the API still holds it (ApiOptions.eventInlineBytes). */
  inline: z.enum(['0', '1']).optional(),
});
const FramesQuery = z.object({
  after: z.coerce.number().int().min(-1).optional(),
  limit: z.coerce.number().int().min(1).optional(),
});

/** A page size the caller asked for, bounded by the API's page size (which is also the default). */
function pageSize(asked: number | undefined, max: number): number {
  if (asked !== undefined && asked > max) throw new TesseraError('BAD_REQUEST', `A page lists at most ${max} items; ask for fewer.`);
  return asked ?? max;
}

/** Round a megapixel figure for a message. */
const mp = (n: number) => (n < 10 ? n.toFixed(2) : Math.round(n).toLocaleString('en-US'));

const submitJob = createRoute({
  method: 'post',
  path: '/v1/jobs',
  tags: ['jobs'],
  security: clientSecurity,
  summary: 'Submit a render job',
  request: { body: jsonBody(JobRequest) },
  responses: {
    201: jsonResponse('Queued.', JobCreated),
    ...errorResponses(
      'BAD_REQUEST',
      'SCENE_UNKNOWN',
      'FRAME_OUT_OF_RANGE',
      'CAMERA_NOT_FOUND',
      'CLIP_NOT_FOUND',
      'SCENE_INDEX_NOT_FOUND',
      'PAYLOAD_TOO_LARGE',
      'UNSUPPORTED_MEDIA_TYPE',
      ...CLIENT_AUTH_ERRORS,
      'QUOTA_EXCEEDED',
      'FORBIDDEN',
    ),
  },
});

const getStatus = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}',
  tags: ['jobs'],
  security: clientSecurity,
  summary: 'Job status: state, progress, ETA, tasks',
  description: 'Tasks come in pages (`tasksFrom`, `tasksLimit`, at most the API page size, 1000 by default); `tasksNext` is where the next page starts.',
  request: { params: JobParams, query: StatusQuery },
  responses: {
    200: jsonResponse('The job.', JobStatus),
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'JOB_NOT_FOUND', 'BAD_REQUEST'),
  },
});

const getSummary = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/summary',
  tags: ['jobs'],
  security: clientSecurity,
  summary: 'Job status without the task list: state, progress, ETA (counted in the store; fast for any job size)',
  request: { params: JobParams },
  responses: {
    200: jsonResponse('The job.', JobSummary),
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'JOB_NOT_FOUND'),
  },
});

const followEvents = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/events',
  tags: ['jobs'],
  security: clientSecurity,
  summary: 'Server-sent events: progress, frame, end',
  description:
    'Each event is named after its `type` and carries a JobEvent as JSON. The stream ends after `end`. With `inline=1`, a `frame` event also carries the frame itself (base64 `inline`, its sha256 the event\'s `checksum`) when it is small and the API still holds it from its completion: no download needed. Such a frame may be sent with `storing: true` as soon as its completion checks out, while the API stores and records it (its `url` answers once stored).',
  request: { params: JobParams, query: EventsQuery },
  responses: {
    200: { description: 'An event stream.', content: { 'text/event-stream': { schema: z.string() } } },
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'JOB_NOT_FOUND', 'QUOTA_EXCEEDED'),
  },
});

const listFrames = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/frames',
  tags: ['jobs'],
  security: clientSecurity,
  summary: 'Finished frames with presigned download URLs',
  description: 'Frames come in pages in frame order (`after`: the last frame of the previous page; `limit`); `next` is the `after` of the next page.',
  request: { params: JobParams, query: FramesQuery },
  responses: {
    200: jsonResponse('The frames finished so far.', JobFrames),
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'JOB_NOT_FOUND', 'STORAGE_FAILED', 'BAD_REQUEST'),
  },
});

const cancelJob = createRoute({
  method: 'delete',
  path: '/v1/jobs/{id}',
  tags: ['jobs'],
  security: clientSecurity,
  summary: 'Cancel a job',
  description: 'Queued tasks are cancelled; nodes working on leased ones are told at their next heartbeat, and their results are refused.',
  request: { params: JobParams },
  responses: {
    200: jsonResponse('Cancelled.', JobStatus),
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'JOB_NOT_FOUND', 'JOB_FINISHED'),
  },
});

/** The scene, if the caller may use it: scenes are stored once by content; a client key may use those it uploaded. */
export async function requireScene(ctx: ApiContext, sceneId: string, principal: Principal): Promise<SceneRecord> {
  const scene = await ctx.jobs.getScene(sceneId);
  if (!scene || (principal.role !== 'admin' && !(await ctx.jobs.isSceneGranted(sceneId, principal.keyId)))) {
    throw new TesseraError('SCENE_UNKNOWN', `No scene with id ${sceneId} has been uploaded; POST it to /v1/scenes first.`);
  }
  return scene;
}

/** Why `job` waits for a capable node (jobWaitingReason over the healthy nodes), or null; reads the scene only then. */
async function waitingFor(ctx: ApiContext, job: JobRecord): Promise<string | null> {
  if (!job.requirements || (job.state !== 'queued' && job.state !== 'running')) return null;
  const healthy = await ctx.nodes.healthyNodes(ctx.clock.now());
  if (jobWaitingReason(job, healthy, null) === null) return null;
  return jobWaitingReason(job, healthy, await ctx.jobs.getScene(job.sceneId));
}

/** The client record with its PoP sighting only where the PoP's row applies (`pop`, clientEdgePop), named by that PoP. */
function withEdgeRow(record: JobClientRecord, pop: string | undefined): JobClientRecord {
  const { edge, ...rest } = record;
  return edge && pop ? { ...rest, edge: { pop, rttMs: edge.rttMs } } : rest;
}

/** The job, if the caller may see it; another key's job is as unknown as a missing one. */
export async function requireJob(ctx: ApiContext, jobId: string, principal: Principal): Promise<JobRecord> {
  const job = await ctx.jobs.getJob(jobId);
  if (!job || !mayAccess(principal, job.owner)) throw new TesseraError('JOB_NOT_FOUND', `No job with id ${jobId} for API key "${principal.name}".`);
  return job;
}

/** Register the job routes. */
export function registerJobRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  app.openapi(submitJob, async (c) => {
    const receivedAt = epochMs();
    const req = c.req.valid('json');
    const principal = principalOf(c);
    if (req.priority > principal.limits.maxPriority) {
      throw new TesseraError(
        'FORBIDDEN',
        `API key "${principal.name}" may ask for priority up to ${principal.limits.maxPriority}, not ${req.priority}; higher priorities are the operator's to give.`,
      );
    }
    const scene = await requireScene(ctx, req.sceneId, principal);
    const plan = { ...planJob(req, scene.info, { jobId: randomId('job') }), owner: principal.keyId };
    const now = ctx.clock.now();
    // No probes from the client: where Cloudflare's edge saw it (Workers) is the hint.
    const edge = edgeLocation(c.req.raw);
    const hint = withEdgeLocation(req.client, edge);
    const { record: located, routed } = await ctx.network.locateClient(hint.client, now);
    // Its PoP and RTT to it: kept (under the PoP's code) where that PoP's own RTTs to nodes apply, so the router
    // bounds the client's RTT to the nodes it did not ping by them, as GET /v1/nodes/nearby does (TaskRouter).
    const client = located && withEdgeRow(located, clientEdgePop(ctx, c.req.raw, req.client?.edge));
    // Its proven RTTs teach its PoP (the edge's colo; a claimed PoP only where the operator trusts it).
    await ctx.pops.teach(c.req.raw, req.client?.edge?.pop, client?.rttMs, async () => (await ctx.nodes.healthyNodes(now)).map((n) => n.nodeId), now);
    const { job, tasks } = compileJob({ ...plan, client, routed }, now);
    const verdict = await ctx.jobs.createJobWithinQuota({ ...job, owner: principal.keyId }, tasks, {
      maxActiveJobs: principal.limits.maxActiveJobs,
      maxActiveTasks: principal.limits.maxActiveTasks,
      megapixelsPerDay: principal.limits.megapixelsPerDay,
      now,
    });
    if (!verdict.ok && verdict.quota === 'maxActiveJobs') {
      throw new TesseraError(
        'QUOTA_EXCEEDED',
        `API key "${principal.name}" has ${verdict.active} jobs queued or running, its limit; submit more when some have finished.`,
        { retryAfterSeconds: 30 },
      );
    }
    if (!verdict.ok && verdict.quota === 'maxActiveTasks') {
      throw new TesseraError(
        'QUOTA_EXCEEDED',
        `API key "${principal.name}" has ${verdict.active} tasks not yet done and may have ${principal.limits.maxActiveTasks} (maxActiveTasks); this job needs ${verdict.needed} more: use larger tiles, or submit when some have finished.`,
        { retryAfterSeconds: 30 },
      );
    }
    if (!verdict.ok) {
      throw new TesseraError(
        'QUOTA_EXCEEDED',
        `API key "${principal.name}" may submit ${mp(principal.limits.megapixelsPerDay)} megapixels a day and has submitted ${mp(verdict.used)} in the last 24 hours; this job needs ${mp(verdict.needed)} more (frames × width × height × ssaa²).`,
        { retryAfterSeconds: 3600 },
      );
    }
    stampTimeline(ctx.options.timeline, ctx.logger, 'job-received', { jobId: job.jobId }, receivedAt);
    stampTimeline(ctx.options.timeline, ctx.logger, 'job-created', { jobId: job.jobId });
    ctx.logger.info(
      {
        jobId: job.jobId,
        sceneId: job.sceneId,
        frames: job.frames.length,
        tasks: tasks.length,
        routed,
        clientRtts: client?.rttMs,
        ...(hint.hinted ? { clientLocationFrom: 'request.cf', colo: edge?.colo } : {}),
        requirements: job.requirements ?? undefined,
      },
      'job queued',
    );
    // Route its first tasks now, so the chosen nodes are woken and the status shows where they go.
    if (routed) {
      ctx.router.noteRoutedJobs(true);
      ctx.router.invalidate();
      await ctx.router.routePending();
    }
    ctx.notifier.notify(TASKS_TOPIC);
    stampTimeline(ctx.options.timeline, ctx.logger, 'job-answered', { jobId: job.jobId });
    return c.json({ jobId: job.jobId }, 201);
  });

  app.openapi(getStatus, async (c) => {
    const job = await requireJob(ctx, c.req.valid('param').id, principalOf(c));
    const query = c.req.valid('query');
    const from = query.tasksFrom ?? 0;
    const limit = pageSize(query.tasksLimit, ctx.options.maxPageSize);
    const status = toJobStatus(job, await ctx.jobs.listTasks(job.jobId), ctx.clock.now());
    // Progress counts every task; the list is one page of them.
    const page = status.tasks.slice(from, from + limit);
    return c.json({ ...status, waiting: await waitingFor(ctx, job), tasks: page, tasksNext: from + limit < status.tasks.length ? from + limit : null }, 200);
  });

  app.openapi(getSummary, async (c) => {
    const job = await requireJob(ctx, c.req.valid('param').id, principalOf(c));
    return c.json({ ...toJobSummary(job, await ctx.jobs.countTasks(job.jobId), ctx.clock.now()), waiting: await waitingFor(ctx, job) }, 200);
  });

  app.openapi(followEvents, async (c) => {
    const principal = principalOf(c);
    const jobId = (await requireJob(ctx, c.req.valid('param').id, principal)).jobId;
    const inlineFrames = c.req.valid('query').inline === '1' && ctx.options.eventInlineBytes > 0;
    const release = ctx.streams.take(principal.keyId, principal.limits.maxEventStreams);
    if (!release) {
      throw new TesseraError(
        'QUOTA_EXCEEDED',
        `API key "${principal.name}" has ${principal.limits.maxEventStreams} event streams open, its limit; close one, or poll GET /v1/jobs/${jobId}.`,
        { retryAfterSeconds: 5 },
      );
    }
    return streamSSE(c, async (stream) => {
      const stop = new AbortController();
      stream.onAbort(() => {
        release();
        stop.abort();
      });
      try {
        await followJob(stream, stop);
      } finally {
        release();
      }
    });

    async function followJob(stream: Parameters<Parameters<typeof streamSSE>[1]>[0], stop: AbortController): Promise<void> {
      const signal = ctx.options.shutdown ? AbortSignal.any([stop.signal, ctx.options.shutdown]) : stop.signal;
      let lastSent = ctx.clock.now();
      const send = (event: JobEvent): Promise<void> => {
        lastSent = ctx.clock.now();
        return stream.writeSSE({ event: event.type, data: JSON.stringify(event) });
      };
      /** The frames sent, with the sha256 of the version sent (a frame finished again with other bytes is sent again). */
      const sentFrames = new Map<number, string>();
      /** The finished frames read from the store. */
      const readFrames = new Set<number>();
      /** Frames sent from their offer whose record this stream has not read yet. */
      const offeredEarly = new Set<number>();
      const sendFrame = async (t: { taskId?: string; frame: number; key: string; bytes: number; checksum: string; storing?: boolean }, held: Uint8Array | undefined): Promise<void> => {
        sentFrames.set(t.frame, t.checksum);
        // Where to fetch it, so clients need no frame-list call per frame.
        const url = await ctx.blobs.presignGet(t.key, ctx.options.urlSeconds);
        await send({ type: 'frame', jobId, frame: t.frame, url, bytes: t.bytes, checksum: t.checksum, ...(held ? { inline: bytesToBase64(held) } : {}), ...(t.storing ? { storing: true } : {}) });
        stampTimeline(ctx.options.timeline, ctx.logger, 'frame-sent', { jobId, taskId: t.taskId, frame: t.frame });
      };
      // Where this stream's reading of finished frames stands: each wake-up reads only the frames finished since.
      let cursor = FINISHED_FRAMES_START;
      let last = '';
      // A change announced while a round reads and sends (no wait is open then) starts the next round at once.
      let missed = false;
      const unlisten = ctx.notifier.listen?.(jobTopic(jobId), () => {
        missed = true;
      });
      try {
        for (;;) {
          missed = false;
          if (await followRound()) return;
          if (missed) {
            stampTimeline(ctx.options.timeline, ctx.logger, 'events-woken', { jobId });
            continue;
          }
          if (await ctx.notifier.wait(jobTopic(jobId), ctx.options.recheckMs, signal)) stampTimeline(ctx.options.timeline, ctx.logger, 'events-woken', { jobId });
        }
      } finally {
        unlisten?.();
      }

      /** One round of reads and sends; true when the stream is over. */
      async function followRound(): Promise<boolean> {
        const job = (await ctx.jobs.getJob(jobId))!;
        const counts = await ctx.jobs.countTasks(jobId);
        if (counts.framesDone > readFrames.size) {
          const fresh: TaskRecord[] = [];
          for (;;) {
            const page = await ctx.jobs.listFinishedFramesSince(jobId, cursor, FINISHED_FRAMES_PAGE);
            fresh.push(...page.tasks);
            cursor = page.cursor;
            if (page.tasks.length < FINISHED_FRAMES_PAGE) break;
          }
          // Sent in frame order, as they were when every wake-up read every finished frame.
          fresh.sort((a, b) => a.frame - b.frame);
          for (const t of fresh) {
            readFrames.add(t.frame);
            // Sent already, these bytes (maybe ahead of their record, below).
            if (sentFrames.get(t.frame) === t.result!.checksum) {
              offeredEarly.delete(t.frame);
              continue;
            }
            // Sent already with other bytes: only an offered frame is sent again (as before, a frame finished again
            // after it was sent is not: the client lists frames once the job has ended).
            if (sentFrames.has(t.frame) && !offeredEarly.has(t.frame)) continue;
            const key = acceptedKey(t);
            // The frame itself when asked for and still held (exactly the stored bytes: looked up by the recorded sha256).
            const held = inlineFrames ? ctx.recentFrames.get(key, t.result!.checksum) : undefined;
            await sendFrame({ taskId: t.taskId, frame: t.frame, key, bytes: t.result!.bytes, checksum: t.result!.checksum }, held);
            offeredEarly.delete(t.frame);
          }
        }
        // Frames checked and being stored and recorded (recent-frames.ts offer): a stream that takes frames inline sends
        // them now; the store's record follows (and is not sent again with the same bytes).
        if (inlineFrames) {
          for (const o of ctx.recentFrames.offers(jobId).sort((a, b) => a.frame - b.frame)) {
            if (sentFrames.get(o.frame) === o.checksum) continue;
            offeredEarly.add(o.frame);
            await sendFrame({ frame: o.frame, key: o.key, bytes: o.bytes.length, checksum: o.checksum, storing: true }, o.bytes);
          }
        }
        const progress = jobProgress(job, counts);
        const key = JSON.stringify([job.state, progress]);
        if (key !== last) {
          last = key;
          await send({ type: 'progress', jobId, state: job.state, ...progress });
        }
        if (isJobFinished(job.state)) {
          await send({ type: 'end', jobId, state: job.state, error: job.error });
          return true;
        }
        if (signal.aborted) return true;
        // A comment line now and then keeps proxies from closing a quiet stream.
        if (ctx.clock.now() - lastSent >= SSE_KEEPALIVE_MS) {
          lastSent = ctx.clock.now();
          await stream.write(': keep-alive\n\n');
        }
        return false;
      }
    }
  });

  app.openapi(listFrames, async (c) => {
    const job = await requireJob(ctx, c.req.valid('param').id, principalOf(c));
    const query = c.req.valid('query');
    const limit = pageSize(query.limit, ctx.options.maxPageSize);
    const after = query.after ?? -1;
    const finished = await ctx.jobs.listFinishedFramesAfter(job.jobId, after, limit + 1);
    const done = finished.slice(0, limit);
    const next = finished.length > limit ? done[done.length - 1].frame : null;
    const frames = await Promise.all(
      done.map(async (t) => ({
        frame: t.frame,
        key: acceptedKey(t),
        url: await ctx.blobs.presignGet(acceptedKey(t), ctx.options.urlSeconds),
        bytes: t.result!.bytes,
        checksum: t.result!.checksum,
      })),
    );
    return c.json({ jobId: job.jobId, frames, next }, 200);
  });

  app.openapi(cancelJob, async (c) => {
    const { id } = c.req.valid('param');
    await requireJob(ctx, id, principalOf(c));
    const { job, changes } = await ctx.jobs.cancelJob(id, ctx.clock.now());
    await ctx.applied(changes);
    return c.json(toJobStatus(job, await ctx.jobs.listTasks(job.jobId), ctx.clock.now()), 200);
  });
}
