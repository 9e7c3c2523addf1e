import { z } from 'zod';

/** `POST /v1/nodes` response. The token authenticates every later node call (`Authorization: Bearer`). */
export const NodeRegistered = z.object({
  nodeId: z.string(),
  nodeToken: z.string(),
  heartbeatIntervalMs: z.number().int().positive(),
  leaseMs: z.number().int().positive(),
});
export type NodeRegistered = z.infer<typeof NodeRegistered>;

/** `POST /v1/nodes/:id/heartbeat`: the node's load; extends the leases it still holds. */
export const Heartbeat = z.object({
  leaseIds: z.array(z.string()).max(256).default([]),
  /** Tasks running / concurrency, 0–1. */
  load: z.number().min(0).max(64).default(0),
  /** The node's clock when sending (epoch ms), for RTT and clock-offset measurement. */
  sentAt: z.number().optional(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

export const HeartbeatAck = z.object({
  serverTime: z.number(),
  /** Leases the node should stop working on (job cancelled, or lease lost). */
  revoked: z.array(z.string()),
});
export type HeartbeatAck = z.infer<typeof HeartbeatAck>;

/** `POST /v1/nodes/:id/lease`: wait up to `waitSeconds` (long-poll) for a task; 204 when none came. */
export const LeaseRequest = z.object({
  waitSeconds: z.number().min(0).max(25).default(20),
});
export type LeaseRequest = z.infer<typeof LeaseRequest>;
