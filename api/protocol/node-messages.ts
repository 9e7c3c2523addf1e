import { z } from 'zod';
import { EdgeSighting } from './edge.ts';
import { Coordinate, MAX_RTT_MEASUREMENTS, ProbeCandidate, RttMeasurement } from './latency.ts';
import { SessionReport } from './session.ts';
import { LEASE_AHEAD_LIMIT, LeasedTask, MAX_TASKS_PER_LEASE } from './task.ts';

/** `POST /v1/nodes` response. The token authenticates every later node call (`Authorization: Bearer`). */
export const NodeRegistered = z.object({
  nodeId: z.string(),
  nodeToken: z.string(),
  heartbeatIntervalMs: z.number().int().positive(),
  /** The node's session-ticket secret (base64url): it checks the tickets the API mints for its sessions. */
  ticketSecret: z.string().optional(),
  leaseMs: z.number().int().positive(),
  /**
   * The node's probe key: its GET /ping answers `?nonce=` with HMAC-SHA256(probeKey, nonce), which the API
   * checks before it trusts an RTT a client or peer measured to this node. Keep it secret. Absent from older servers.
   */
  probeKey: z.string().optional(),
});
export type NodeRegistered = z.infer<typeof NodeRegistered>;

/** Most scene ids a heartbeat may report as cached on the node. */
export const MAX_REPORTED_SCENES = 64;

/** `POST /v1/nodes/:id/heartbeat`: the node's load; extends the leases it still holds. */
export const Heartbeat = z.object({
  leaseIds: z.array(z.string()).max(256).default([]),
  /** Tasks running / concurrency, 0–1. */
  load: z.number().min(0).max(64).default(0),
  /** The node's clock when sending (epoch ms), for RTT and clock-offset measurement. */
  sentAt: z.number().optional(),
  /** The node's filtered RTT to the API (ms): request → response of its earlier heartbeats, on its own clock. */
  rttToApiMs: z.number().positive().max(60_000).optional(),
  /**
   * The previous ack's serverTime and how long the node held it before sending this heartbeat (ms, node
   * clock): the API times ack → heartbeat on its own clock and subtracts the hold, so no clock sync is needed.
   */
  echo: z.object({ serverTime: z.number(), heldMs: z.number().min(0).max(3_600_000) }).optional(),
  /** Filtered RTTs the node measured to peers (their GET /ping) since its last heartbeat. */
  peers: z.array(RttMeasurement).max(MAX_RTT_MEASUREMENTS).default([]),
  /** The sessions the node holds (stats), and those that ended since the last heartbeat. */
  sessions: z.array(SessionReport).max(128).optional(),
  /** The edge location the node's requests reach and its RTT to it (timed `GET /v1/edge/ping`). */
  edge: EdgeSighting.optional(),
  /**
   * Scene ids (sha256) the node holds in its scene cache, most recently used first, at most MAX_REPORTED_SCENES.
   * A claim: the API uses it only as a hint that the node can skip the scene download (routing's scene-load
   * term), never to trust or to skip a check. Absent: unchanged since the last report (older nodes never send it).
   */
  scenes: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'a scene id is 64 lowercase hex digits')).max(MAX_REPORTED_SCENES).optional(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

export const HeartbeatAck = z.object({
  serverTime: z.number(),
  /** Leases the node should stop working on (job cancelled, or lease lost). */
  revoked: z.array(z.string()),
  /** The node's network coordinate as the API now has it, after this heartbeat's measurements. */
  coordinate: Coordinate.optional(),
  /** The node ↔ API RTT (ms) as the API has filtered it. */
  rttToApiMs: z.number().optional(),
  /** Peers worth pinging now and then (report the RTTs in `peers` of a later heartbeat). */
  probePeers: z.array(ProbeCandidate).max(MAX_RTT_MEASUREMENTS).default([]),
  /** Sessions the node must end (deleted, expired, or not its own). */
  revokedSessions: z.array(z.string()).default([]),
});
export type HeartbeatAck = z.infer<typeof HeartbeatAck>;

/** `POST /v1/nodes/:id/lease`: wait up to `waitSeconds` (long-poll) for a task; 204 when none came. */
export const LeaseRequest = z.object({
  waitSeconds: z.number().min(0).max(25).default(20),
  /** What to wait for: render/stitch tasks, sessions, or both. */
  kinds: z.array(z.enum(['task', 'session'])).min(1).max(2).default(['task']),
  /**
   * Lease up to this many tasks in one call (never more than the node's free slots); the answer is then a
   * LeaseBatch. Absent: one task, answered as a bare LeasedTask (what older nodes expect).
   */
  max: z.number().int().min(1).max(MAX_TASKS_PER_LEASE).optional(),
  /**
   * Lease-ahead: also take a task beyond the free slots (at most LEASE_AHEAD_LIMIT per node, held or not), so
   * the next render starts while the previous one uploads and reports. Its first lease is short: it returns to
   * the queue soon unless the node starts it (lists it in a heartbeat) or completes it first.
   */
  ahead: z.number().int().min(0).max(LEASE_AHEAD_LIMIT).default(0),
  /**
   * The node protocol the node speaks (NODE_PROTOCOL_VERSION). Absent: 1 (nodes from before report-then-upload),
   * which is refused task leases with NODE_OUTDATED.
   */
  protocol: z.number().int().min(1).max(1000).default(1),
});
export type LeaseRequest = z.infer<typeof LeaseRequest>;

/** The answer to a lease call with `max`: the tasks leased, in the order to run them. */
export const LeaseBatch = z.object({ tasks: z.array(LeasedTask).min(1).max(MAX_TASKS_PER_LEASE + LEASE_AHEAD_LIMIT) });
export type LeaseBatch = z.infer<typeof LeaseBatch>;
