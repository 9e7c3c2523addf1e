import { z } from 'zod';
import { JobState, TaskState } from './job-status.ts';
import { EncodeSpec, TileRect, ViewSpec } from './render-spec.ts';

/** Most tasks one lease call (or one completion's `next`) may ask for. */
export const MAX_TASKS_PER_LEASE = 64;
/** Most lease-ahead tasks a node may hold beyond its slots (a hoarder gains this many tasks at most). */
export const LEASE_AHEAD_LIMIT = 1;

/** A sha256 digest as 64 lowercase hex digits. */
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex digits');

/** A presigned URL for exactly one object, and its storage key (for logs and checks). */
export const PresignedObject = z.object({ key: z.string(), url: z.string().url() });
export type PresignedObject = z.infer<typeof PresignedObject>;

/**
 * The node ↔ API protocol version this module describes. 2: outputs are reported before they are uploaded
 * (`POST /v1/tasks/:id/upload` with their size and sha256) and go up through a PUT signed for exactly those
 * bytes; a lease carries no upload URL. 3: a small output may instead travel inside its completion
 * (`TaskComplete.inline`, up to the lease's `output.inlineMaxBytes`), which the API checks and stores itself.
 * Nodes send it with every lease call; the API refuses task leases to nodes that send less than
 * NODE_PROTOCOL_MIN (NODE_OUTDATED), since they would look for an upload URL the lease no longer carries.
 */
export const NODE_PROTOCOL_VERSION = 3;
/** The oldest node protocol the API still leases tasks to (3 only adds inline outputs, which 2 never sends). */
export const NODE_PROTOCOL_MIN = 2;

/**
 * The most output bytes any API takes inside a completion (`TaskComplete.inline`); an API offers at most this
 * per lease (`output.inlineMaxBytes`, its `inlineOutputBytes` option, 512 KiB by default). Bigger outputs go up
 * through the storage-checked upload.
 */
export const INLINE_OUTPUT_LIMIT = 8 * 1024 * 1024;

/** Characters of the base64 (with padding) of `bytes` bytes. */
export function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

/**
 * Where a leased task's output goes, without a URL: the node reports the encoded output's size and sha256 to
 * `POST /v1/tasks/:id/upload` and gets a PUT URL signed for exactly those bytes (an UploadTicket).
 */
export const TaskOutput = z.object({
  /** The attempt's key (for logs); the ticket names the object actually written. */
  key: z.string(),
  /** The most bytes an output of this task may have (its pixels' bound); a larger report is refused. */
  maxBytes: z.number().int().min(0),
  /** The lease's upload capability: send it with the report (opaque to the node). */
  token: z.string().max(4096),
  /**
   * Protocol 3: an output of at most this many bytes may go inside the completion (`TaskComplete.inline`)
   * instead of through the upload report and PUT: one round trip after drawing instead of three. 0 (or absent,
   * from older APIs): always upload.
   */
  inlineMaxBytes: z.number().int().min(0).max(INLINE_OUTPUT_LIMIT).optional(),
});
export type TaskOutput = z.infer<typeof TaskOutput>;

/** `POST /v1/tasks/:id/upload` body: what the node is about to upload, measured on the encoded bytes. */
export const UploadRequest = z.object({
  /** The lease's `output.token`. */
  token: z.string().max(4096),
  /** Exact size of the encoded output; at most the task's `output.maxBytes`. */
  bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** sha256 hex of those bytes. */
  checksum: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex digits'),
});
export type UploadRequest = z.infer<typeof UploadRequest>;

/**
 * The answer: PUT the reported bytes to `url` with exactly `headers` (their checksum; the length is the body's).
 * Storage checks both against the signature and refuses any other body (S3 `BadDigest`, or a signature error).
 */
export const UploadTicket = z.object({
  key: z.string(),
  url: z.string().url(),
  headers: z.record(z.string(), z.string()),
  /** Epoch ms after which the URL no longer works. */
  expiresAt: z.number(),
});
export type UploadTicket = z.infer<typeof UploadTicket>;

/**
 * What a node gets when it leases a task: everything needed to do it and nothing more (no credentials).
 * - `render`: render `tile` of `frame`; upload the tile as PNG (see `output`) — or, when `final` is true (the
 *   frame is one tile), encode it as `encode` says and upload the finished frame.
 * - `stitch`: download `tiles`, check each against its `checksum` (the sha256 the API verified when the tile
 *   was completed), stitch them into the frame, encode as `encode` says, upload to `output`.
 */
export const LeasedTask = z.object({
  taskId: z.string(),
  leaseId: z.string(),
  /** Epoch ms; heartbeats extend it. Past it, the task may be handed to another node. */
  leaseExpiresAt: z.number(),
  jobId: z.string(),
  kind: z.enum(['render', 'stitch']),
  frame: z.number().int().min(0),
  attempt: z.number().int().min(1),
  scene: z.object({ id: z.string(), url: z.string().url() }),
  view: ViewSpec,
  encode: EncodeSpec,
  tile: TileRect.optional(),
  final: z.boolean().default(false),
  tiles: z.array(TileRect.extend({ url: z.string().url(), checksum: Sha256Hex })).optional(),
  /** Report the output to `POST /v1/tasks/:id/upload` for its PUT URL (protocol 2; there is no URL here). */
  output: TaskOutput,
});
export type LeasedTask = z.infer<typeof LeasedTask>;

/**
 * `POST /v1/tasks/:id/complete` body, after the PUT through the upload ticket succeeded, or (protocol 3) with
 * the output itself in `inline` when it is at most the lease's `output.inlineMaxBytes`.
 */
export const TaskComplete = z.object({
  leaseId: z.string(),
  /** sha256 hex of the output's bytes (as reported for the upload ticket, or of the `inline` bytes). */
  checksum: Sha256Hex,
  bytes: z.number().int().min(0),
  /**
   * The output's bytes in base64 (padded), instead of uploading them: at most the lease's `output.inlineMaxBytes`
   * (a larger one is 413 PAYLOAD_TOO_LARGE and changes nothing). The API hashes them: bytes that are not `bytes`
   * long with sha256 `checksum` are OUTPUT_CORRUPT (the attempt fails, as for a stored object that differs).
   */
  inline: z
    .string()
    .max(base64Length(INLINE_OUTPUT_LIMIT))
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'inline output must be base64')
    .refine((s) => s.length % 4 === 0, 'inline output must be padded base64')
    .optional(),
  timings: z.record(z.string(), z.number().min(0)).default({}),
  /**
   * Lease more tasks in the same call, without waiting (saves a lease round trip per task): up to `max`,
   * within the node's free slots once this task is done, plus `ahead` lease-ahead (see LeaseRequest).
   */
  next: z.object({ max: z.number().int().min(1).max(MAX_TASKS_PER_LEASE), ahead: z.number().int().min(0).max(LEASE_AHEAD_LIMIT).default(0) }).optional(),
});
export type TaskComplete = z.infer<typeof TaskComplete>;

/** What a node learns after reporting: the task's and its job's state, and the tasks `next` leased. */
export const TaskAck = z.object({
  taskId: z.string(),
  state: TaskState,
  jobState: JobState,
  /** Tasks leased by the completion's `next` (absent when it asked for none; empty when none was free). */
  next: z.array(LeasedTask).optional(),
});
export type TaskAck = z.infer<typeof TaskAck>;

/** `POST /v1/tasks/:id/fail` body. */
export const TaskFail = z.object({
  leaseId: z.string(),
  reason: z.string().min(1).max(2000),
  /** A failure caused by the scene itself (not the node), e.g. a texture that cannot decode. */
  sceneFault: z.boolean().default(false),
});
export type TaskFail = z.infer<typeof TaskFail>;
