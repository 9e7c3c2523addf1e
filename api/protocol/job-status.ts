import { z } from 'zod';
import { TaskRouteView } from './latency.ts';

export const JobState = z.enum(['queued', 'running', 'done', 'failed', 'cancelled']);
export type JobState = z.infer<typeof JobState>;
export const TaskState = z.enum(['queued', 'leased', 'done', 'failed', 'cancelled']);
export type TaskState = z.infer<typeof TaskState>;

/**
 * Verification of a render (or stitch) task by re-issue: `pending` (a sampled result waits for another node's
 * render of the same tile, or stitch of the same tiles; its frame is not stitched, or not listed, meanwhile),
 * `verified` (another node's result agreed), `skipped` (sampled, but no other node could verify it in time:
 * accepted unverified), `rerender` (the last result was disproven or inconclusive: the task is done again and
 * that result is always verified).
 */
export const VerificationState = z.enum(['pending', 'verified', 'skipped', 'rerender']);
export type VerificationState = z.infer<typeof VerificationState>;

/** A render or stitch task's verification, in the job status; null when it was not sampled. */
export const TaskVerificationView = z.object({
  state: VerificationState,
  /** Rounds so far: each re-render after a disproof or an inconclusive vote starts a new one. */
  round: z.number(),
  /** Nodes whose renders agreed with the accepted result (its renderer first). */
  verifiedBy: z.array(z.string()),
  /** Nodes whose results for this tile were outvoted. */
  disproven: z.array(z.string()),
});
export type TaskVerificationView = z.infer<typeof TaskVerificationView>;

export const TaskKindView = z.enum(['render', 'stitch', 'verify']);

/** `GET /v1/jobs/:id`. */
export const JobStatus = z.object({
  jobId: z.string(),
  sceneId: z.string(),
  state: JobState,
  createdAt: z.number(),
  updatedAt: z.number(),
  frames: z.object({ done: z.number(), total: z.number() }),
  tiles: z.object({ done: z.number(), total: z.number() }),
  /** Seconds until done, estimated from progress so far; null until something finished. */
  etaSeconds: z.number().nullable(),
  error: z.string().nullable(),
  /**
   * Why the job waits with no node able to take it (no connected node meets its requirements: a scene that needs
   * WebGL 2 and no node with a WebGL 2 backend, say); absent or null while some node can.
   */
  waiting: z.string().nullable().optional(),
  tasks: z.array(
    z.object({
      taskId: z.string(),
      /** `verify`: a render of another task's tile by a different node, compared with that task's result. */
      kind: TaskKindView,
      frame: z.number(),
      tile: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }).nullable(),
      state: TaskState,
      attempts: z.number(),
      node: z.string().nullable(),
      error: z.string().nullable(),
      /** Which node the router chose and why; null until routed. Absent from older servers. */
      route: TaskRouteView.nullable().optional(),
      /** Render tasks: their verification (null: not sampled). Verify tasks: the task they verify. */
      verification: TaskVerificationView.nullable().optional(),
      verifies: z.string().nullable().optional(),
    }),
  ),
  /**
   * The tasks are one page (`?tasksFrom=&tasksLimit=`): where the next page starts, or null when this is the
   * last. Absent from older servers, which always listed every task.
   */
  tasksNext: z.number().int().nullable().optional(),
});
export type JobStatus = z.infer<typeof JobStatus>;

/** `GET /v1/jobs/:id/summary`: the status without its task list (counted in the store, so a job of any size reads fast). */
export const JobSummary = JobStatus.omit({ tasks: true, tasksNext: true });
export type JobSummary = z.infer<typeof JobSummary>;

/** `GET /v1/jobs/:id/frames`: finished frames with presigned GET URLs. */
export const JobFrames = z.object({
  jobId: z.string(),
  frames: z.array(z.object({ frame: z.number(), key: z.string(), url: z.string().url(), bytes: z.number(), checksum: z.string() })),
  /** The frames are one page (`?after=&limit=`): the `after` of the next page, or null when this is the last. */
  next: z.number().int().nullable().optional(),
});
export type JobFrames = z.infer<typeof JobFrames>;

/** `POST /v1/scenes` and `POST /v1/scenes/uploads/:id/complete`. */
export const SceneUploaded = z.object({
  sceneId: z.string(),
  bytes: z.number(),
  stats: z.record(z.string(), z.unknown()),
  /**
   * Extensions the scene uses that render only on WebGL 2 (transmission, volume): its jobs go only to nodes
   * with a WebGL 2 backend. Empty when none.
   */
  webgl2: z.array(z.string()).optional(),
});
export type SceneUploaded = z.infer<typeof SceneUploaded>;

/** `POST /v1/scenes/uploads` answer: where to PUT the scene, then which id to complete. */
export const SceneUploadTicket = z.object({
  uploadId: z.string(),
  url: z.string().url(),
  expiresAt: z.number(),
  /** Headers the PUT must carry (with `bytes` and `sha256` announced: the signed checksum). */
  headers: z.record(z.string(), z.string()).optional(),
});
export type SceneUploadTicket = z.infer<typeof SceneUploadTicket>;

/** `POST /v1/jobs` answer. */
export const JobCreated = z.object({ jobId: z.string() });
export type JobCreated = z.infer<typeof JobCreated>;

/** One server-sent event on `GET /v1/jobs/:id/events` (event name = `type`). */
export type JobEvent =
  | { type: 'progress'; jobId: string; state: JobState; frames: { done: number; total: number }; tiles: { done: number; total: number } }
  /**
   * A frame finished. Servers since the throughput work add where to fetch it (a presigned GET URL, valid like
   * the frame list's), its size and sha256, so a client downloads it without listing the frames; a client still
   * reads the frame list once at the end (a frame can be stitched again after its job's nodes are verified).
   * `inline`: the frame itself (base64), on streams opened with `?inline=1`, when it is small and the API still
   * holds it from its completion; its sha256 is `checksum` (clients check it, and download from `url` otherwise).
   * `storing`: sent with `inline` as soon as its completion checked out, while the API stores and records it (the
   * frame is done once recorded; an API that stops before then renders it again). Its `url` answers once it is
   * stored: a client that cannot use `inline` takes the frame from the frame list once it is listed (a later
   * `progress`, or the list at the job's end) rather than downloading it now.
   */
  | { type: 'frame'; jobId: string; frame: number; url?: string; bytes?: number; checksum?: string; inline?: string; storing?: boolean }
  | { type: 'end'; jobId: string; state: JobState; error: string | null };
