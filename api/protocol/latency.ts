/**
 * The wire shapes of latency routing: what a client measured, where it is, what its job demands, what a
 * node reports about its peers, and what the API says about its nodes. Requirements, coordinates and
 * locations have their own protocol files (the routing core imports them from there); they are re-exported
 * here so one import gives the whole latency contract.
 */
import { z } from 'zod';
import { JobRequirements } from './job-requirements.ts';
import { CoordinateSchema } from './coordinate.ts';
import { GeoPointSchema } from './geo-point.ts';
import { NodeCard } from './node-card.ts';
import { ProbeNonce, ProbeProof } from './probe-proof.ts';
import { EdgeSighting, PopCode } from './edge.ts';

export { JobRequirements };

/** A network coordinate (Vivaldi with height): `vec` and `height` in ms, `error` relative (0 = certain). */
export const Coordinate = CoordinateSchema.extend({ vec: CoordinateSchema.shape.vec.readonly() });
export type Coordinate = z.infer<typeof Coordinate>;

/** A point on the Earth in degrees. */
export const GeoPoint = GeoPointSchema;
export type GeoPoint = z.infer<typeof GeoPoint>;

/** Most RTT measurements one message may carry. */
export const MAX_RTT_MEASUREMENTS = 16;

/**
 * One measured round-trip time (ms) to a node: the minimum of a few pings, or a filtered value. `nonce` and
 * `proof` are the challenge of the ping that gave the minimum and the node's answer to it
 * (HMAC-SHA256 with the node's probe key, see probe-proof.ts): the API credits an RTT to a known node only
 * when the proof checks out, so only the real node can earn it.
 */
export const RttMeasurement = z.object({
  nodeId: z.string().min(1).max(128),
  rttMs: z.number().positive().max(60_000),
  nonce: ProbeNonce.optional(),
  proof: ProbeProof.optional(),
});
export type RttMeasurement = z.infer<typeof RttMeasurement>;

/**
 * What a client knows about its own network position when it submits a job: RTTs it measured to nodes
 * (`client.probe()` in the SDK), and optionally its location and a coordinate from an earlier session.
 */
export const JobClient = z.object({
  rtts: z.array(RttMeasurement).max(MAX_RTT_MEASUREMENTS).default([]),
  location: GeoPoint.optional(),
  coordinate: Coordinate.optional(),
  /** The edge location the client's requests reach and its RTT to it (timed `GET /v1/edge/ping`). */
  edge: EdgeSighting.optional(),
});
export type JobClient = z.infer<typeof JobClient>;
export type JobClientInput = z.input<typeof JobClient>;

/** A node a client (or a peer) should ping: its GET /ping URL. */
export const ProbeCandidate = z.object({
  nodeId: z.string(),
  probeUrl: z.string().url(),
  region: z.string(),
});
export type ProbeCandidate = z.infer<typeof ProbeCandidate>;

/** `GET /v1/nodes/nearby` query. */
export const NearbyQuery = z.object({
  lat: z.coerce.number().min(-90).max(90).optional(),
  lon: z.coerce.number().min(-180).max(180).optional(),
  count: z.coerce.number().int().min(1).max(MAX_RTT_MEASUREMENTS).default(3),
  /** The client's PoP and its RTT to it (`GET /v1/edge/ping`), to start from nodes that share it. */
  pop: PopCode.optional(),
  popRttMs: z.coerce.number().positive().max(60_000).optional(),
  /**
   * What the client measured so far, `nodeId:ms` comma-separated (at most MAX_RTT_MEASUREMENTS): sequential
   * probing asks again after each ping, and the answer is chosen knowing those RTTs (measured nodes are not
   * suggested again). A client that lies here only misleads itself.
   */
  rtts: z
    .string()
    .max(MAX_RTT_MEASUREMENTS * 160)
    .optional()
    .transform((raw, ctx) => {
      const out: Record<string, number> = {};
      if (!raw) return out;
      const parts = raw.split(',');
      if (parts.length > MAX_RTT_MEASUREMENTS) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `at most ${MAX_RTT_MEASUREMENTS} RTTs` });
        return z.NEVER;
      }
      for (const part of parts) {
        const at = part.lastIndexOf(':');
        const id = part.slice(0, at);
        const ms = Number(part.slice(at + 1));
        if (at < 1 || id.length > 128 || !(ms > 0) || ms > 60_000) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'each RTT is nodeId:ms with 0 < ms ≤ 60000' });
          return z.NEVER;
        }
        out[id] = ms;
      }
      return out;
    }),
  /** Nodes not to suggest (comma-separated ids, at most MAX_RTT_MEASUREMENTS): those that did not answer. */
  exclude: z
    .string()
    .max(MAX_RTT_MEASUREMENTS * 130)
    .optional()
    .transform((raw, ctx) => {
      const ids = raw ? raw.split(',') : [];
      if (ids.length > MAX_RTT_MEASUREMENTS || ids.some((id) => id.length < 1 || id.length > 128)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `at most ${MAX_RTT_MEASUREMENTS} node ids` });
        return z.NEVER;
      }
      return ids;
    }),
});
export type NearbyQuery = z.infer<typeof NearbyQuery>;

/** `GET /v1/nodes/nearby`: nodes worth probing, best first, and the location the API used to choose them. */
export const NearbyNodes = z.object({
  candidates: z.array(ProbeCandidate),
  location: GeoPoint.extend({ source: z.enum(['cf', 'query']) }).nullable(),
});
export type NearbyNodes = z.infer<typeof NearbyNodes>;

/** What `GET /ping[?nonce=…]` on a render node answers: its id, and for a nonce, HMAC-SHA256(probe key, nonce). */
export const Pong = z.object({ nodeId: z.string().nullable(), nonce: z.string().optional(), proof: z.string().optional() });
export type Pong = z.infer<typeof Pong>;

const QueryBoolean = z.enum(['true', 'false']).transform((v) => v === 'true');

/** `GET /v1/nodes` query: search by card fields and health. */
export const NodeSearch = z.object({
  region: z.string().max(64).optional(),
  minRamBytes: z.coerce.number().int().min(0).optional(),
  minTextureSize: z.coerce.number().int().min(0).optional(),
  healthy: QueryBoolean.optional(),
});
export type NodeSearch = z.infer<typeof NodeSearch>;

/** One node as `GET /v1/nodes` shows it. */
/** A node's verification record: re-issued tiles that agreed or were outvoted, and whether it is blocklisted. */
export const NodeReputation = z.object({
  verified: z.number(),
  disproven: z.number(),
  blocklisted: z.object({ at: z.number(), reason: z.string() }).nullable(),
});
export type NodeReputation = z.infer<typeof NodeReputation>;

/** What the API believes of a node's card: the speed it routes on, measured or a prior, probation, location. */
export const NodeTrust = z.object({
  /** Reference tiles per second per slot that routing and quotes use. */
  tilesPerSecond: z.number(),
  /** Measured from its accepted results (lease to completion, as the API saw it); null with too few. */
  measuredTilesPerSecond: z.number().nullable(),
  acceptedResults: z.number(),
  /** Too few verified results yet: sampled for verification more often. */
  probation: z.boolean(),
  /** Why its claimed location is ignored; null while believed. */
  locationRefuted: z.string().nullable(),
});
export type NodeTrust = z.infer<typeof NodeTrust>;

export const NodeView = z.object({
  nodeId: z.string(),
  card: NodeCard,
  /** Heard from (heartbeat or lease call) within the last few heartbeat intervals. */
  healthy: z.boolean(),
  load: z.object({
    /** Tasks routed to it, not leased yet. */
    queued: z.number(),
    /** Tasks it holds leases on. */
    running: z.number(),
    concurrency: z.number(),
    /** running / concurrency, as the node last reported it. */
    reported: z.number(),
  }),
  /** Filtered node ↔ API round trip (ms), from heartbeats timed on both sides. */
  rttToApiMs: z.number().nullable(),
  coordinate: Coordinate.nullable(),
  /** Epoch ms of the last heartbeat or lease call. */
  lastSeen: z.number(),
  /** How its results fared when other nodes rendered the same tiles. Absent from older servers. */
  reputation: NodeReputation.optional(),
  /** What the API believes of its card (the card is the node's claim). Absent from older servers. */
  trust: NodeTrust.optional(),
});
export type NodeView = z.infer<typeof NodeView>;

/** `GET /v1/nodes`. */
export const NodeList = z.object({ nodes: z.array(NodeView) });
export type NodeList = z.infer<typeof NodeList>;

/** Why a task went where it went (`GET /v1/jobs/:id`, per task). */
export const TaskRouteView = z.object({
  /** The node the router chose (or, for a job without client RTTs, the node that took the task first). */
  nodeId: z.string(),
  /** The runner-up, which may take the task when the chosen node does not lease it in time. */
  fallbackId: z.string().nullable(),
  /** RTT between the job's client and the chosen node (ms); null when the job had no RTT information. */
  predictedRttMs: z.number().nullable(),
  rttSource: z.enum(['measured', 'estimated', 'unknown']),
  queueMs: z.number(),
  renderMs: z.number(),
  /** predictedRttMs + queueMs + renderMs: the expected finish (ms after routing). */
  score: z.number(),
  reason: z.string(),
  routedAt: z.number(),
  /** How the task was leased: by the chosen node, by its fallback after the grace period, by any capable node once open, or first-come (no RTT information). */
  leasedAs: z.enum(['chosen', 'fallback', 'open', 'first-free']).nullable(),
});
export type TaskRouteView = z.infer<typeof TaskRouteView>;
