import { z } from 'zod';
import { TaskRouteView } from './latency.ts';

export const JobState = z.enum(['queued', 'running', 'done', 'failed', 'cancelled']);
export type JobState = z.infer<typeof JobState>;
export const TaskState = z.enum(['queued', 'leased', 'done', 'failed', 'cancelled']);
export type TaskState = z.infer<typeof TaskState>;

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
  tasks: z.array(
    z.object({
      taskId: z.string(),
      kind: z.enum(['render', 'stitch']),
      frame: z.number(),
      tile: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }).nullable(),
      state: TaskState,
      attempts: z.number(),
      node: z.string().nullable(),
      error: z.string().nullable(),
      /** Which node the router chose and why; null until routed. Absent from older servers. */
      route: TaskRouteView.nullable().optional(),
    }),
  ),
});
export type JobStatus = z.infer<typeof JobStatus>;

/** `GET /v1/jobs/:id/frames`: finished frames with presigned GET URLs. */
export const JobFrames = z.object({
  jobId: z.string(),
  frames: z.array(z.object({ frame: z.number(), key: z.string(), url: z.string().url(), bytes: z.number(), checksum: z.string() })),
});
export type JobFrames = z.infer<typeof JobFrames>;

/** `POST /v1/scenes` and `POST /v1/scenes/uploads/:id/complete`. */
export const SceneUploaded = z.object({
  sceneId: z.string(),
  bytes: z.number(),
  stats: z.record(z.string(), z.unknown()),
});
export type SceneUploaded = z.infer<typeof SceneUploaded>;

/** One server-sent event on `GET /v1/jobs/:id/events` (event name = `type`). */
export type JobEvent =
  | { type: 'progress'; jobId: string; state: JobState; frames: { done: number; total: number }; tiles: { done: number; total: number } }
  | { type: 'frame'; jobId: string; frame: number }
  | { type: 'end'; jobId: string; state: JobState; error: string | null };
