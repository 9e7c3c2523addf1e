/**
 * Verifying session frames. A node streams session frames straight to the client, so the API never sees them; a
 * node could stream wrong pictures (a stale frame, a blank one, opaque glass) and still be credited its session's
 * render time. Here the client reports a sampled frame (session-sample.ts), and the API has other nodes render the
 * same pose as a batch task (ViewSpec `pose`) and compares the pictures within JPEG's noise.
 *
 * Who must agree before a node is penalised: the frame must carry the node's own signature (a client cannot forge
 * one, nor move a real frame onto another pose: a sample that fails the check is refused and blames nobody); a first
 * other node renders the pose (never the session's node); when it disagrees, a second other node (neither) renders it
 * too. Only when both references agree with each other and both disagree with the signed frame is the frame
 * disproven — when they are also a vote the node's standing may rest on (session-vote-trust.ts: a node with a verified
 * record is convicted only by references with records of their own, and references sharing a join token or a network
 * the node does not share count as one voice; otherwise the sample is inconclusive) —: the session is closed (its node ends the socket at its next heartbeat; the SDK reopens elsewhere, having
 * heard the verdict), its render time is voided in the ledger, and the node is blocklisted (it signed a picture of
 * that pose that two other nodes, agreeing, did not draw). A reference that fails, or references that disagree with
 * each other, leave the sample inconclusive: nobody is blamed. A client can thus cost the farm two batch renders per
 * sample (at most MAX_SAMPLES_PER_SESSION per session, each billed to its key as a job), never an honest node its
 * standing.
 */
import { TesseraError } from '../protocol/errors.ts';
import type { TaskRequirements } from '../protocol/job-requirements.ts';
import { JobRequest } from '../protocol/job-spec.ts';
import { FRAME_MAC_PURPOSE, frameMacMessage, MAX_SAMPLE_IMAGE_BYTES, MAX_SAMPLES_PER_SESSION, sampleSettled, type SessionSampleRequest, type SessionSampleView } from '../protocol/session-sample.ts';
import { hmacSha256, toBase64Url } from '../protocol/session-ticket.ts';
import { sha256Hex } from '../protocol/sha256-hex.ts';
import { base64ToBytes } from '../protocol/base64-bytes.ts';
import type { ApiContext } from './api-context.ts';
import { convictNode } from './convict-node.ts';
import { randomId } from './crypto-utils.ts';
import { fitsNode } from './fits-node.ts';
import { compileJob } from './job-compiler.ts';
import type { NodeRecord, SceneRecord } from './job-store.ts';
import { TASKS_TOPIC } from './notifier.ts';
import { planJob, sceneRequirements } from './plan-job.ts';
import { meetsRequirements } from './routing/requirements.ts';
import type { SessionRecord, SessionSampleRecord } from './session-store.ts';
import type { SessionChange } from './session-state.ts';
import { mayVote, sessionVoteTrust } from './session-vote-trust.ts';

export interface SessionVerificationOptions {
  /** Share of reduced pixels that may differ (image-comparer.ts SESSION_COMPARE_*) for a frame to agree with a reference. */
  maxDiffRatio: number;
  /** Frames of sessions below this JPEG/WebP quality are not checked (their noise could pass for a difference). */
  minQuality: number;
  /** A reference render not done by then leaves the sample inconclusive. */
  referenceTimeoutMs: number;
  /** Priority of the reference jobs (they stand between a client and its verdict). */
  referencePriority: number;
}

export const SESSION_VERIFICATION_DEFAULTS: SessionVerificationOptions = { maxDiffRatio: 0.03, minQuality: 50, referenceTimeoutMs: 180_000, referencePriority: 90 };

type Ctx = Pick<ApiContext, 'jobs' | 'blobs' | 'clock' | 'logger' | 'nodes' | 'applied' | 'tickets' | 'notifier' | 'comparer' | 'sessions' | 'options'>;

/**
 * A reference render's job id names its sample and its place in the vote (`ref_<the sample id's hex>_<1|2>`), so the
 * job's end finds its sample with one read and no other job's end costs a store call (advanceOnJobEnd). Unique per
 * sample and place: two processes moving one sample on at once cannot queue the same reference twice.
 */
export function referenceJobId(sampleId: string, place: number): string {
  return `ref_${sampleId.replace(/^smp_/, '')}_${place}`;
}

/** The sample a reference render's job id names (referenceJobId), or null for any other job. */
export function referenceSampleId(jobId: string): string | null {
  const m = /^ref_([0-9a-f]{32})_[12]$/.exec(jobId);
  return m ? `smp_${m[1]}` : null;
}

/** The key a sampled frame's bytes are kept under (only the API writes there). */
function sampleKey(sessionId: string, sampleId: string): string {
  return `session-samples/${sessionId}/${sampleId}`;
}

/** The view of a sample for clients. */
export function sampleView(s: SessionSampleRecord): SessionSampleView {
  return {
    sampleId: s.sampleId,
    sessionId: s.sessionId,
    nodeId: s.nodeId,
    seq: s.seq,
    state: s.state,
    referenceJobs: s.referenceJobs,
    referenceNodes: s.referenceNodes,
    diffs: s.diffs,
    reason: s.reason,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

/** Check a reported frame (signature, size, bounds), keep it, and ask a first other node to render its pose. */
export async function submitSample(ctx: Ctx, session: SessionRecord, req: SessionSampleRequest, options: SessionVerificationOptions = SESSION_VERIFICATION_DEFAULTS): Promise<SessionSampleRecord> {
  const store = ctx.sessions!;
  const { render } = session;
  if (!ctx.comparer?.compareEye) throw new TesseraError('SAMPLE_UNVERIFIABLE', 'This API cannot decode session frames to compare them (no image comparer for JPEG/WebP here).');
  if (!ctx.comparer.sessionFormats?.includes(render.format)) {
    throw new TesseraError('SAMPLE_UNVERIFIABLE', `This API cannot decode ${render.format} session frames to compare them (it decodes ${ctx.comparer.sessionFormats?.join(', ') || 'none'}); open sessions with format ${ctx.comparer.sessionFormats?.[0] ?? 'jpeg'} to have frames checked here.`);
  }
  if (render.fidelity === 'fast') throw new TesseraError('SAMPLE_UNVERIFIABLE', 'A `fast` session\'s look differs from a batch render by design; only `full` sessions are checked.');
  if (render.quality < options.minQuality) throw new TesseraError('SAMPLE_UNVERIFIABLE', `Frames encoded below quality ${options.minQuality} are too noisy to check (this session: ${render.quality}).`);
  if (req.format !== render.format || req.height !== render.eye.height || req.width !== render.eye.width * req.eyes.length) {
    throw new TesseraError('BAD_REQUEST', `A frame of this session is ${render.format}, ${render.eye.width}×${render.eye.height} per eye side by side; this one says ${req.format} ${req.width}×${req.height} for ${req.eyes.length} eyes.`);
  }
  let bytes: Uint8Array;
  try {
    bytes = base64ToBytes(req.image);
  } catch (cause) {
    throw new TesseraError('BAD_REQUEST', 'image: not base64.', { cause });
  }
  if (bytes.length > MAX_SAMPLE_IMAGE_BYTES) throw new TesseraError('BAD_REQUEST', `image: ${bytes.length} bytes; at most ${MAX_SAMPLE_IMAGE_BYTES}.`);
  const scene = await ctx.jobs.getScene(session.sceneId);
  if (!scene) throw new TesseraError('SCENE_UNKNOWN', `The session's scene ${session.sceneId} is gone.`);
  // Two capable nodes may be needed (a second opinion), but one that agrees decides alone: refuse only with none.
  const capable = await referenceNodes(ctx, scene.info, [session.nodeId]);
  if (!capable.length) throw new TesseraError('SAMPLE_UNVERIFIABLE', `No healthy node other than ${session.nodeId} can render this pose now (a reference needs a node whose card lists the view-pose render feature${scene.info.webgl2?.length ? ' and a WebGL 2 backend' : ''}; older nodes would draw the start view); retry later.`, { retryAfterSeconds: 30 });
  // The node's signature: nobody else (the client included) can have made it.
  const secret = await ctx.tickets.nodeSecret(session.nodeId);
  const key = await hmacSha256(secret, new TextEncoder().encode(FRAME_MAC_PURPOSE));
  const message = frameMacMessage({ sessionId: session.sessionId, seq: req.seq, eyes: req.eyes, width: req.width, height: req.height, format: req.format, imageSha256: await sha256Hex(bytes) });
  const expected = toBase64Url(await hmacSha256(key, message));
  if (!constantTimeEqual(expected, req.mac)) {
    throw new TesseraError('SAMPLE_UNSIGNED', `Frame ${req.seq} does not carry node ${session.nodeId}'s signature over these bytes and this pose; nobody is blamed for it.`);
  }
  const now = ctx.clock.now();
  const sampleId = randomId('smp');
  const imageKey = sampleKey(session.sessionId, sampleId);
  const sample: SessionSampleRecord = {
    sampleId,
    sessionId: session.sessionId,
    nodeId: session.nodeId,
    owner: session.owner,
    seq: req.seq,
    eyes: req.eyes,
    width: req.width,
    height: req.height,
    format: req.format,
    imageKey,
    state: 'checking',
    referenceJobs: [],
    referenceNodes: [],
    referenceKeys: [],
    diffs: [],
    reason: null,
    createdAt: now,
    updatedAt: now,
  };
  const added = await store.addSample(sample, MAX_SAMPLES_PER_SESSION);
  if (!added.ok) throw new TesseraError('QUOTA_EXCEEDED', `Session ${session.sessionId} has reported ${added.count} frames, its limit.`, { retryAfterSeconds: 3600 });
  await ctx.blobs.put(imageKey, bytes, { contentType: req.format === 'jpeg' ? 'image/jpeg' : 'image/webp' });
  return step(ctx, sample, { ...sample, referenceJobs: [await referenceJob(ctx, session, sample, [session.nodeId], options)] });
}

/** Store a sample's next state (unless another process moved it first: then its record stands). */
async function step(ctx: Ctx, before: SessionSampleRecord, after: SessionSampleRecord, onStored?: (s: SessionSampleRecord) => Promise<unknown>): Promise<SessionSampleRecord> {
  const next = { ...after, updatedAt: Math.max(ctx.clock.now(), before.updatedAt + 1) };
  if (await ctx.sessions!.updateSample(next, before.updatedAt)) {
    if (next.state !== before.state) ctx.logger.info({ entity: 'session-sample', id: next.sampleId, sessionId: next.sessionId, nodeId: next.nodeId, from: before.state, to: next.state, diffs: next.diffs, reason: next.reason }, `session sample ${next.sampleId}: ${before.state} → ${next.state}`);
    await onStored?.(next);
    return next;
  }
  return (await ctx.sessions!.getSample(before.sampleId)) ?? before;
}

/**
 * What a reference render needs of its node: what the scene needs (WebGL 2), and `viewPose`. A node of an older Tessera
 * strips the `pose` it does not know and draws the session's start view; two of them would agree with each other
 * against an honest frame of any other pose, so only nodes that say they draw the pose (`view-pose`) are asked.
 */
function referenceRequirements(info: SceneRecord['info']): TaskRequirements {
  return { ...sceneRequirements(undefined, info), viewPose: true };
}

/** The healthy nodes, none of `exclude`, that may render a reference of this scene (a one-tile frame: no tiles-only tab). */
async function referenceNodes(ctx: Ctx, info: SceneRecord['info'], exclude: readonly string[]): Promise<NodeRecord[]> {
  const req = referenceRequirements(info);
  return (await ctx.nodes.healthyNodes(ctx.clock.now())).filter((n) => !exclude.includes(n.nodeId) && meetsRequirements(n.card, req) && fitsNode(n.card, { kind: 'render', tile: null, final: true }));
}

/**
 * A one-frame batch job rendering the sample's left eye pose with the session's look, on none of `exclude`, only on
 * nodes that draw the pose; SAMPLE_UNVERIFIABLE when no healthy node may take it now (it would only time out).
 */
async function referenceJob(ctx: Ctx, session: SessionRecord, sample: SessionSampleRecord, exclude: string[], options: SessionVerificationOptions): Promise<string> {
  const scene = await ctx.jobs.getScene(session.sceneId);
  if (!scene) throw new TesseraError('SCENE_UNKNOWN', `The session's scene ${session.sceneId} is gone.`);
  const candidates = await referenceNodes(ctx, scene.info, exclude);
  if (!candidates.length) {
    throw new TesseraError('SAMPLE_UNVERIFIABLE', `no healthy node besides ${exclude.join(', ')} lists the view-pose render feature${scene.info.webgl2?.length ? ' with a WebGL 2 backend' : ''} (older nodes would draw the start view, not the pose)`);
  }
  // Drawn from the nodes whose vote could count against the session's node (session-vote-trust.ts) while any is
  // healthy: the others are excluded too (a bounded list; past it, any capable node may draw it and the vote decides).
  const passed = await preferredVoters(ctx, session.nodeId, sample.referenceNodes[0] ?? null, candidates);
  if (passed.length && passed.length <= MAX_PASSED_OVER) exclude = [...exclude, ...passed];
  const r = session.render;
  const req = JobRequest.parse({
    sceneId: session.sceneId,
    frames: [0],
    size: { width: r.eye.width, height: r.eye.height },
    camera: r.camera,
    scene: r.scene,
    clip: r.clip,
    background: r.background,
    toneMapping: r.toneMapping,
    exposure: r.exposure,
    environmentIntensity: r.environmentIntensity,
    keyLight: r.keyLight,
    shadows: r.shadows,
    format: 'png',
    priority: options.referencePriority,
  });
  const planned = planJob(req, scene.info, { jobId: referenceJobId(sample.sampleId, sample.referenceJobs.length + 1) });
  const plan = { ...planned, owner: session.owner, requirements: { ...planned.requirements, ...referenceRequirements(scene.info) } };
  plan.view = { ...plan.view, pose: { view: sample.eyes[0].view, projection: sample.eyes[0].projection } };
  const now = ctx.clock.now();
  const { job, tasks } = compileJob({ ...plan, client: null, routed: false }, now);
  for (const t of tasks) t.excludeNodes = [...new Set([...t.excludeNodes, ...exclude])];
  await ctx.jobs.createJob({ ...job, owner: session.owner }, tasks);
  ctx.logger.info({ sessionId: session.sessionId, sampleId: sample.sampleId, jobId: job.jobId, exclude }, 'session sample: reference render queued');
  ctx.notifier.notify(TASKS_TOPIC);
  return job.jobId;
}

/** Most capable nodes a reference may pass over for want of a vote that counts (beyond it, none are). */
const MAX_PASSED_OVER = 64;

/** The `candidates` to pass over: those whose vote would not count, when some other candidate's would (else none). */
async function preferredVoters(ctx: Ctx, accusedId: string, firstId: string | null, candidates: NodeRecord[]): Promise<string[]> {
  const [accused, first] = await Promise.all([ctx.jobs.getNode(accusedId), firstId ? ctx.jobs.getNode(firstId) : null]);
  if (!accused) return [];
  const passed = candidates.filter((c) => !mayVote(accused, first, c, ctx.options.trust)).map((c) => c.nodeId);
  return passed.length < candidates.length ? passed : [];
}

/** Move a sample on: read its latest reference, compare, ask a second node, or decide. */
export async function advanceSample(ctx: Ctx, sample: SessionSampleRecord, options: SessionVerificationOptions = SESSION_VERIFICATION_DEFAULTS): Promise<SessionSampleRecord> {
  if (sampleSettled(sample.state)) return sample;
  const jobId = sample.referenceJobs.at(-1);
  const inconclusive = (reason: string) => step(ctx, sample, { ...sample, state: 'inconclusive', reason });
  if (!jobId) return inconclusive('no reference render could be queued');
  const job = await ctx.jobs.getJob(jobId);
  if (!job || job.state === 'failed' || job.state === 'cancelled') return inconclusive(`the reference render ${jobId} ${job ? job.state : 'is gone'}${job?.error ? `: ${job.error}` : ''}`);
  if (job.state !== 'done') {
    if (ctx.clock.now() - sample.updatedAt > options.referenceTimeoutMs) {
      await ctx.jobs.cancelJob(jobId, ctx.clock.now()).catch(() => {});
      return inconclusive(`no other node rendered the pose within ${options.referenceTimeoutMs / 1000} s`);
    }
    return sample;
  }
  const frame = (await ctx.jobs.listFinishedFrames(jobId))[0];
  if (!frame?.nodeId) return inconclusive(`the reference render ${jobId} has no frame`);
  const session = await ctx.sessions!.getSession(sample.sessionId);
  if (!session) return inconclusive('the session is gone');
  const eye = session.render.eye;
  const { diffRatio } = await ctx.comparer!.compareEye!(sample.imageKey, frame.outputKey, { width: sample.width, height: sample.height }, eye);
  const seen = {
    ...sample,
    referenceNodes: [...sample.referenceNodes, frame.nodeId],
    referenceKeys: [...sample.referenceKeys, frame.outputKey],
    diffs: [...sample.diffs, Math.round(diffRatio * 1e4) / 1e4],
  };
  if (diffRatio <= options.maxDiffRatio) {
    const reason = seen.referenceNodes.length > 1 ? `node ${frame.nodeId} drew the same picture (node ${seen.referenceNodes[0]}'s reference differed)` : `node ${frame.nodeId} drew the same picture`;
    return step(ctx, sample, { ...seen, state: 'agreed', reason });
  }
  if (seen.referenceNodes.length === 1) {
    // One other node disagrees: either may lie. A second one, neither of them, decides.
    let second: string;
    try {
      second = await referenceJob(ctx, session, seen, [sample.nodeId, frame.nodeId], options);
    } catch (err) {
      return step(ctx, sample, { ...seen, state: 'inconclusive', reason: `node ${frame.nodeId}'s reference differs and no second could be queued: ${(err as Error).message}` });
    }
    return step(ctx, sample, { ...seen, state: 'second-opinion', referenceJobs: [...seen.referenceJobs, second], reason: `node ${frame.nodeId}'s reference differs (${pct(diffRatio)} of pixels); a second node renders it` });
  }
  // Two references both differ from the frame: disproven only if they agree with each other.
  const [k1, k2] = seen.referenceKeys;
  const between = await ctx.comparer!.compareEye!(k1, k2, eye, eye).catch(() => ({ diffRatio: 1 }));
  if (between.diffRatio > options.maxDiffRatio) {
    return step(ctx, sample, { ...seen, state: 'inconclusive', reason: `the two references (nodes ${seen.referenceNodes.join(', ')}) differ from each other too; nobody is blamed` });
  }
  // …and only if they are a vote the node's standing may rest on: records of their own, not one operator's voice.
  const [accused, ...voters] = await Promise.all([sample.nodeId, ...seen.referenceNodes].map((id) => ctx.jobs.getNode(id)));
  const trusted = sessionVoteTrust(accused, voters, ctx.options.trust);
  if (!trusted.ok) {
    return step(ctx, sample, { ...seen, state: 'inconclusive', reason: `nodes ${seen.referenceNodes.join(' and ')} agree with each other against node ${sample.nodeId}'s frame, but ${trusted.why}; nobody is blamed` });
  }
  const reason = `session frame ${sample.seq} disproven: nodes ${seen.referenceNodes.join(' and ')} agree on the pose's picture and node ${sample.nodeId}'s signed frame differs (${pct(Math.min(...seen.diffs))} of pixels)`;
  // Only the process whose step is stored penalises (once).
  return step(ctx, sample, { ...seen, state: 'disproven', reason }, (done) => penalise(ctx, done, reason));
}

/** The node signed a picture two other nodes did not draw: void its session, end it, blocklist the node. */
async function penalise(ctx: Ctx, sample: SessionSampleRecord, reason: string): Promise<SessionChange[]> {
  const { changes } = await ctx.sessions!.disproveSession({ sessionId: sample.sessionId, reason: reason.slice(0, 500), now: ctx.clock.now() });
  for (const ch of changes) ctx.logger.info({ entity: ch.entity, id: ch.id, from: ch.from, to: ch.to, reason: ch.reason }, `session ${ch.id}: ${ch.from} → ${ch.to}`);
  await convictNode(ctx, sample.nodeId, reason);
  return changes;
}

/**
 * Jobs ended (ApiContext.applied, where every status change lands, on Node and on Workers): move on each sample
 * whose latest reference render one of them was, so a verdict (and a disproven node's penalty) follows the reference
 * result at once, with nobody polling. Best effort: a failure is logged and the next poll or sweep tries again.
 */
export async function advanceOnJobEnd(ctx: Ctx, jobIds: readonly string[]): Promise<void> {
  if (!ctx.sessions || !ctx.comparer?.compareEye) return;
  for (const jobId of jobIds) {
    const sampleId = referenceSampleId(jobId);
    if (!sampleId) continue;
    try {
      const sample = await ctx.sessions.getSample(sampleId);
      if (sample && sample.referenceJobs.at(-1) === jobId) await advanceSample(ctx, sample);
    } catch (err) {
      ctx.logger.warn({ sampleId, jobId, err: (err as Error).message }, 'session sample: could not advance it on its reference\'s end');
    }
  }
}

/** Advance every unsettled sample (a few at a time). */
export async function advanceSamples(ctx: Ctx, limit = 16): Promise<void> {
  if (!ctx.sessions || !ctx.comparer?.compareEye) return;
  for (const s of await ctx.sessions.listUnsettledSamples(limit)) {
    try {
      await advanceSample(ctx, s);
    } catch (err) {
      ctx.logger.warn({ sampleId: s.sampleId, err: (err as Error).message }, 'session sample: could not advance it');
    }
  }
}

function pct(r: number): string {
  return `${(r * 100).toFixed(1)}%`;
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}
