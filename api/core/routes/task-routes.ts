/**
 * Task results from nodes, in two steps. Upload: the node reports its encoded output's size and sha256 with the
 * lease's upload token and gets a PUT URL signed for exactly those bytes (storage refuses any other body), to a
 * key named by that sha256; a size over the task's bound is refused before any URL exists. Complete: accepted
 * only from the node holding the current lease, and only once the object exists in storage with the size and
 * sha256 the node reported (HEAD; see accept-output.ts), then copied where no node can write. An object that
 * differs fails the attempt (counted against the node) so the task is retried; the consumers (stitch tasks,
 * clients) check the recorded checksum again when they read. Protocol 3: a small output (at most the lease's
 * `output.inlineMaxBytes`) may come inside the completion instead: no report, no PUT, and the API hashes and
 * stores it itself (accept-output.ts checkInlineOutput, storeInlineOutput), under the same rules.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { TesseraError } from '../../protocol/errors.ts';
import { TaskAck, TaskComplete, TaskFail, UploadRequest, UploadTicket, type LeasedTask } from '../../protocol/task.ts';
import { presignedPutHeaders } from '../blob-store.ts';
import { checkUploadToken, UPLOAD_CAPABILITY_PURPOSE } from '../upload-capability.ts';
import { leaseWith, type LeaseStepInput } from '../lease-tasks.ts';
import type { AuthenticateAndCompleteOutcome, AuthenticatedTask, CompleteInput, CompletionDecision, NodeRecord, TaskOutcome, TaskRecord } from '../job-store.ts';
import type { ApiContext } from '../api-context.ts';
import { errorResponses } from './error-responses.ts';
import { authenticateNode, bearerCredentials, bearerHash, blocklisted, NODE_AUTH } from './node-auth.ts';
import { chargeNodeCall, limitNodeCall, nodeCallAllowed } from './node-admission.ts';
import { claimedRenderMs } from '../claimed-render-ms.ts';
import { acceptOutput, checkInlineOutput, maxOutputBytes, storeInlineOutput } from '../accept-output.ts';
import { outputsFrame } from '../job-compiler.ts';
import { base64ToBytes } from '../../protocol/base64-bytes.ts';
import { acceptedKey, attemptKey, claimedAttemptKey, outputContentType } from '../object-keys.ts';
import { jobTopic } from '../notifier.ts';
import { heldForVerification } from '../verification-hold.ts';
import { jsonBody, jsonResponse } from './route-shapes.ts';
import { epochMs, stampLeased, stampTimeline } from '../timeline.ts';

const TaskParams = z.object({ id: z.string().min(1).max(256) });
const security = [{ [NODE_AUTH]: [] }];

const complete = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/complete',
  tags: ['tasks'],
  summary: 'Report a task done (after uploading its output, or with it inline), and optionally lease the next tasks',
  security,
  request: { params: TaskParams, body: jsonBody(TaskComplete) },
  responses: {
    200: jsonResponse('Recorded.', TaskAck),
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'NODE_BLOCKLISTED', 'TASK_NOT_FOUND', 'LEASE_LOST', 'PAYLOAD_TOO_LARGE', 'OUTPUT_MISSING', 'OUTPUT_CORRUPT', 'STORAGE_FAILED'),
  },
});

const upload = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/upload',
  tags: ['tasks'],
  summary: "Report an output's size and sha256 before uploading it; answers a PUT URL signed for exactly those bytes",
  request: { params: TaskParams, body: jsonBody(UploadRequest) },
  responses: {
    200: jsonResponse('PUT the reported bytes to `url` with `headers`.', UploadTicket),
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED', 'STORAGE_FAILED'),
  },
});

const fail = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/fail',
  tags: ['tasks'],
  summary: 'Report a failed attempt',
  security,
  request: { params: TaskParams, body: jsonBody(TaskFail) },
  responses: {
    200: jsonResponse('Recorded; the task is retried or its job failed.', TaskAck),
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'TASK_NOT_FOUND', 'LEASE_LOST'),
  },
});

/** Register the task routes. */
export function registerTaskRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  app.openapi(upload, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    // The lease's token is the credential (checked without the store: no Durable Object request on Workers).
    const now = ctx.clock.now();
    const grant = await checkUploadToken(await ctx.tickets.derivedKey(UPLOAD_CAPABILITY_PURPOSE), body.token, id, now);
    limitNodeCall(ctx, grant.nodeId);
    if (body.bytes > grant.maxBytes) {
      throw new TesseraError('PAYLOAD_TOO_LARGE', `An output of ${body.bytes} bytes is more than this task's ${grant.maxBytes} (its pixels' bound); no upload URL was made.`);
    }
    const key = claimedAttemptKey({ outputKey: grant.outputKey, attempts: grant.attempt }, body.checksum);
    const expect = { bytes: body.bytes, sha256: body.checksum, contentType: outputContentType(key) };
    const seconds = Math.max(1, Math.min(ctx.options.nodeUrlSeconds, Math.ceil((grant.expiresAt - now) / 1000)));
    const url = await ctx.blobs.presignPut(key, seconds, expect);
    return c.json({ key, url, headers: presignedPutHeaders(expect), expiresAt: now + seconds * 1000 }, 200);
  });

  app.openapi(complete, async (c) => {
    const receivedAt = epochMs();
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    /** Stamps of this completion's steps, logged once its job is known (the API's `timeline` option). */
    const stamps: [string, number][] = [['complete-received', receivedAt]];
    // An inline output over what this API takes is refused before anything is read or recorded (the node may
    // upload it instead); within that, the task's own bound is checked for the lease holder below.
    const inline = body.inline === undefined ? undefined : decodeInline(body.inline);
    if (inline && inline.length > ctx.options.inlineOutputBytes) throw inlineTooLarge(id, inline.length, ctx.options.inlineOutputBytes);
    const tokenHash = await bearerHash(c, ctx);
    /** An answer the route gives of its own once the store step is back (nothing is recorded then). */
    let refused: { err: unknown } | undefined;
    /** Why the output was refused, when it was (the attempt is failed in the same step), and where it was read. */
    let corrupt: { mismatch: string; key: string; nodeId: string } | undefined;
    /** The attempt object copied to the accepted key: garbage once the completion is recorded. */
    let copiedFrom: string | undefined;
    /** The lease holder's verification draw (made once its output checked out). */
    let sampling: { sample: boolean; verifiable: boolean } | undefined;
    /** The frame offered to event streams ahead of its store and record (withdrawn once the store step is back). */
    let offered: { key: string; jobId: string } | undefined;
    const offerFrame = (task: TaskRecord, checksum: string, bytes: Uint8Array): boolean => {
      const key = acceptedKey(task);
      if (!ctx.recentFrames.offer({ jobId: task.jobId, frame: task.frame, key, checksum, bytes })) return false;
      offered = { key, jobId: task.jobId };
      stamps.push(['output-offered', epochMs()]);
      // Only this process's streams can send it (the offer is in its memory).
      const { notifier } = ctx;
      if (notifier.notifyLocal) notifier.notifyLocal(jobTopic(task.jobId));
      else notifier.notify(jobTopic(task.jobId));
      return true;
    };
    /**
     * What to record, decided while the store step waits (one Durable Object request on Workers: this is called back
     * over RPC): the node, its task and the task's job were read in the same step. Never throws: an error would lose
     * its code crossing the RPC, so it is kept here and thrown once the step is back.
     */
    const decide = async ({ node, task, job }: AuthenticatedTask, lease?: LeaseStepInput, wanted?: { max: number; ahead: number }): Promise<CompletionDecision> => {
      try {
        // Counted once the token checks out (nothing is read from storage before the rate limit).
        limitNodeCall(ctx, node.nodeId);
        if (!task) throw new TesseraError('TASK_NOT_FOUND', `No task with id ${id}.`);
        if (node.reputation?.blocklisted) throw blocklisted(node);
        const holder = task.state === 'leased' && task.leaseId === body.leaseId && task.nodeId === node.nodeId;
        // Check storage only for the lease holder; anyone else gets the store's LEASE_LOST.
        if (holder) {
          // A render's size is its tile's; a stitch's is the frame's.
          const size = task.tile ?? job?.view ?? { width: 0, height: 0 };
          if (inline && inline.length > maxOutputBytes(size.width, size.height)) throw inlineTooLarge(id, inline.length, maxOutputBytes(size.width, size.height));
          stamps.push(['output-check', epochMs()]);
          const mismatch = inline ? await checkInlineOutput(body, inline, size) : await acceptOutput(ctx, task, body, size);
          if (mismatch) {
            stamps.push(['output-stored', epochMs()]);
            // The node's word is worth nothing here: fail its attempt now (counted against it) so the task is retried.
            corrupt = { mismatch, key: attemptKey(task), nodeId: node.nodeId };
            return { fail: { taskId: id, nodeId: node.nodeId, leaseId: body.leaseId, reason: `OUTPUT_CORRUPT: ${mismatch}`, sceneFault: false, now: ctx.clock.now(), policy: ctx.options.policy } };
          }
          sampling = await ctx.verifier.sampling(task, node, job ?? undefined);
          if (inline) {
            // A frame this completion finishes as it stands goes to the job's event streams now, while it is stored and
            // recorded (recent-frames.ts offer): the file a client waits for no longer waits on the storage write.
            if (outputsFrame(task) && !heldForVerification(task, sampling) && offerFrame(task, body.checksum, inline)) {
              // The woken streams send it in this turn of the event loop (no I/O on their way); storage's work after it.
              await nextTurn();
            }
            await storeInlineOutput(ctx, task, body.checksum, inline);
          } else copiedFrom = claimedAttemptKey(task, body.checksum);
          stamps.push(['output-stored', epochMs()]);
        }
        const now = ctx.clock.now();
        const input: CompleteInput = {
          taskId: id,
          nodeId: node.nodeId,
          leaseId: body.leaseId,
          result: { bytes: body.bytes, checksum: body.checksum },
          now,
          renderMs: claimedRenderMs(body.timings, task, now, ctx.options.policy.leaseMs),
          ...(sampling ?? {}),
          agrees: holder ? await ctx.verifier.agreement(task, node, body.checksum) : undefined,
          verification: { ...ctx.options.verification, probationResults: ctx.options.trust.probationResults },
          claims: ctx.options.trust,
        };
        if (!lease || !wanted) return { complete: input };
        const leaseIds = lease.leaseIds.slice(0, Math.max(0, Math.min(wanted.max, node.card.concurrency) + wanted.ahead));
        // Leased as of the completion (the output check took time since the lease input was made).
        return { complete: input, lease: { ...lease, now, leaseIds, nodeId: node.nodeId, card: node.card, maxLeases: node.card.concurrency } };
      } catch (err) {
        refused = { err };
        return { stop: true };
      }
    };
    /** The store step's outcome as the route answers it: an error of the route's own, or a refused output. */
    const settle = async (out: AuthenticateAndCompleteOutcome): Promise<TaskOutcome> => {
      if (refused) throw refused.err;
      if (out.failed && corrupt) {
        ctx.logger.warn({ taskId: id, nodeId: corrupt.nodeId, key: corrupt.key, reason: `OUTPUT_CORRUPT: ${corrupt.mismatch}` }, 'task output corrupt; attempt failed');
        await ctx.applied(out.failed.changes);
        throw new TesseraError('OUTPUT_CORRUPT', `${corrupt.mismatch}; this attempt failed and the task will be retried.`);
      }
      return out.completed!;
    };
    const next = body.next;
    const done: { outcome?: TaskOutcome; leased?: LeasedTask[]; node?: NodeRecord } = {};
    try {
      if (next) {
        // Authentication, the output check, the completion and the node's next tasks in one store step (no lease round
        // trip between tasks; none for a node this vote blocklists); their changes are announced together.
        const got = await leaseWith(ctx, next, async (lease) => {
          const out = await ctx.jobs.authenticateAndComplete({ tokenHash, taskId: id }, (read) => decide(read, lease, next));
          stamps.push(['complete-recorded', epochMs()]);
          done.outcome = await settle(out);
          done.node = out.read.node;
          return { node: out.read.node, lease: out.lease, changes: done.outcome.changes };
        });
        done.leased = got.tasks;
      } else {
        const out = await ctx.jobs.authenticateAndComplete({ tokenHash, taskId: id }, (read) => decide(read));
        stamps.push(['complete-recorded', epochMs()]);
        done.outcome = await settle(out);
        done.node = out.read.node;
        await ctx.applied(done.outcome.changes);
      }
    } finally {
      // The store speaks for the offered frame now: recorded (the woken streams read it from the store) or not (a stream
      // that sent it early sends the frame again if it is finished with other bytes).
      if (offered) ctx.recentFrames.withdraw(offered.key);
    }
    stamps.push(['complete-applied', epochMs()]);
    // Its accepted copy is what everyone reads: delete the attempt's object now rather than only when the job ends
    // (a restart between a job's last completion and that clean-up would leave every attempt object behind). Not
    // awaited and best effort: the job-end clean-up deletes whatever this misses.
    if (copiedFrom) void ctx.blobs.delete(copiedFrom).catch((err: unknown) => ctx.logger.warn({ err, key: copiedFrom }, 'could not delete an accepted attempt\'s object'));
    const node = done.node!;
    const outcome = done.outcome!;
    const { leased } = done;
    ctx.logger.debug({ taskId: id, nodeId: node.nodeId, bytes: body.bytes, inline: inline !== undefined, timings: body.timings }, 'task result');
    const { verdict } = outcome;
    if (verdict) {
      const log = verdict.outcome === 'verified' && verdict.losers.length === 0 ? ctx.logger.info : ctx.logger.warn;
      log.call(ctx.logger, { ...verdict }, `verification of ${verdict.taskId}: ${verdict.outcome}`);
    }
    // Liars this completion proved (outvoted past the threshold, or a card inflated far beyond what they measure):
    // blocklisted, everything they earned forfeited.
    if (outcome.blocklisted?.length) {
      for (const b of outcome.blocklisted) ctx.logger.warn({ nodeId: b.nodeId, reason: b.reason }, 'node proven a liar: blocklisted, its credit forfeited');
      ctx.nodes.invalidate();
    }
    if (ctx.options.timeline) {
      const ids = { jobId: outcome.task.jobId, taskId: id, frame: outcome.task.frame };
      for (const [step, at] of [...stamps, ['complete-answered', epochMs()] as [string, number]]) stampTimeline(true, ctx.logger, step, ids, at);
      if (leased) stampLeased(ctx, leased);
    }
    return c.json({ taskId: id, state: outcome.task.state, jobState: outcome.job.state, ...(leased ? { next: leased } : {}) }, 200);
  });

  app.openapi(fail, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    let credentials = await bearerCredentials(c, ctx);
    // Over its rate limit (or an unsigned token, whose node only the store knows): the plain check answers (429 for
    // the token's owner, else 401/404) or names the node, recording nothing. Otherwise authentication and the failed
    // attempt are one store step (one Durable Object request on Workers).
    if (credentials.nodeId === undefined || !nodeCallAllowed(ctx, credentials.nodeId)) {
      const node = await authenticateNode(c, ctx, credentials.nodeId);
      credentials = { tokenHash: credentials.tokenHash, nodeId: node.nodeId };
    } else {
      chargeNodeCall(ctx, credentials.nodeId);
    }
    const { node, failed: outcome } = await ctx.jobs.authenticateAndFail({
      credentials,
      taskId: id,
      leaseId: body.leaseId,
      reason: body.reason,
      sceneFault: body.sceneFault,
      now: ctx.clock.now(),
      policy: ctx.options.policy,
    });
    ctx.logger.warn({ taskId: id, nodeId: node.nodeId, reason: body.reason, sceneFault: body.sceneFault }, 'task attempt failed');
    await ctx.applied(outcome.changes);
    return c.json({ taskId: id, state: outcome.task.state, jobState: outcome.job.state }, 200);
  });
}

function decodeInline(text: string): Uint8Array {
  try {
    return base64ToBytes(text);
  } catch (cause) {
    throw new TesseraError('BAD_REQUEST', 'Invalid request body: `inline` is not padded standard base64.', { cause });
  }
}

function inlineTooLarge(taskId: string, bytes: number, max: number): TesseraError {
  return new TesseraError(
    'PAYLOAD_TOO_LARGE',
    `An inline output of ${bytes} bytes is more than the ${max} this completion may carry; nothing was recorded. Report it to POST /v1/tasks/${taskId}/upload and PUT it to the URL that answers, then complete without \`inline\`.`,
  );
}

/** Resolves in the event loop's next turn (setImmediate where the runtime has it; else at once). */
function nextTurn(): Promise<void> {
  const { setImmediate } = globalThis as { setImmediate?: (fn: () => void) => unknown };
  return setImmediate ? new Promise((resolve) => void setImmediate(resolve)) : Promise.resolve();
}
