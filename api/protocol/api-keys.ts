/**
 * Client API keys. A client sends `Authorization: Bearer <key>`; the API stores only the key's sha256.
 * `client` keys see only the scenes they uploaded and the jobs they submitted; `admin` keys see
 * everything and manage keys. `node` keys are join tokens: they do nothing but register render nodes
 * (`POST /v1/nodes`, required when the operator turns on requireJoinToken); a registered node then works with
 * its own node token.
 */
import { z } from 'zod';

export const ApiKeyRole = z.enum(['client', 'admin', 'node']);
export type ApiKeyRole = z.infer<typeof ApiKeyRole>;

/** Per-key limits; absent fields take the API's defaults for the key's role. */
export const ApiKeyLimits = z.object({
  /** Sustained request rate (token bucket refill). */
  requestsPerMinute: z.number().int().min(1).max(1_000_000).optional(),
  /** Requests allowed at once above the sustained rate (bucket size). */
  burst: z.number().int().min(1).max(100_000).optional(),
  /** Jobs queued or running at the same time. */
  maxActiveJobs: z.number().int().min(1).max(1_000_000).optional(),
  /** Interactive sessions open at the same time. */
  maxOpenSessions: z.number().int().min(1).max(100_000).optional(),
  /** Highest job `priority` the key may ask for (jobs run highest priority first). */
  maxPriority: z.number().int().min(0).max(100).optional(),
  /**
   * Render and stitch tasks not yet done across the key's queued and running jobs: the farm's cost is per task
   * (a lease, a render, an upload, a database row), which megapixels alone do not bound (small tiles).
   */
  maxActiveTasks: z.number().int().min(1).max(1e9).optional(),
  /** Megapixels (frames × width × height × ssaa²) the key's jobs submitted in the last 24 hours may add up to. */
  megapixelsPerDay: z.number().min(0).max(1e12).optional(),
  /** Server-sent event streams (`GET /v1/jobs/:id/events`) the key may hold open at once, per API process. */
  maxEventStreams: z.number().int().min(1).max(100_000).optional(),
});
export type ApiKeyLimits = z.infer<typeof ApiKeyLimits>;

export const CreateApiKey = z.object({
  name: z.string().trim().min(1).max(100),
  role: ApiKeyRole.default('client'),
  limits: ApiKeyLimits.optional(),
});
export type CreateApiKey = z.input<typeof CreateApiKey>;

/** A key as listed: never the key itself. */
export const ApiKeyView = z.object({
  keyId: z.string(),
  name: z.string(),
  role: ApiKeyRole,
  limits: ApiKeyLimits.nullable(),
  createdAt: z.number(),
  revokedAt: z.number().nullable(),
});
export type ApiKeyView = z.infer<typeof ApiKeyView>;

/** The answer to creating a key: the only time the key is shown. */
export const ApiKeyCreated = ApiKeyView.extend({ key: z.string() });
export type ApiKeyCreated = z.infer<typeof ApiKeyCreated>;

export const ApiKeyList = z.object({ keys: z.array(ApiKeyView) });

/** `GET /v1/keys/me`: the key a request carries, with the limits in force for it (its own or its role's). */
export const KeyIdentity = ApiKeyView.pick({ keyId: true, name: true, role: true }).extend({ limits: ApiKeyView.shape.limits.unwrap().required() });
export type KeyIdentity = z.infer<typeof KeyIdentity>;

/** Keys look like `tsk_` and 64 hex digits, so they are easy to spot in a leaked log or file. */
export const API_KEY_PREFIX = 'tsk_';
