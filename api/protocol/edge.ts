/**
 * The edge as a landmark: `GET /v1/edge/ping` answers where the request landed (a Cloudflare colo on
 * Workers, a configured location on Node) so clients and nodes can time it; they report the PoP and the
 * RTT (an `EdgeSighting`) with their jobs and heartbeats, and the API routes on it before any probe.
 */
import { z } from 'zod';

/** A PoP code: a colo's IATA code, or a configured name. */
export const PopCode = z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, 'a PoP code is 1–16 letters, digits, _ or -');

/** The PoP a client or node reaches and its RTT to it (the minimum of a few timed edge pings). */
export const EdgeSighting = z.object({
  pop: PopCode,
  rttMs: z.number().positive().max(60_000),
});
export type EdgeSighting = z.infer<typeof EdgeSighting>;

/** `GET /v1/edge/ping`. */
export const EdgePing = z.object({
  /** The edge location that answered (request.cf.colo, or the API's configured PoP); null when unknown. */
  pop: z.string().nullable(),
  /** Where that location is, from the bundled colo table or the configuration; null when unknown. */
  location: z.object({ lat: z.number(), lon: z.number() }).nullable(),
  source: z.enum(['cf', 'config', 'unknown']),
  serverTime: z.number(),
});
export type EdgePing = z.infer<typeof EdgePing>;

/** `GET /v1/edge/rtts` query: whose row (default: the PoP that takes the request). */
export const EdgeRttsQuery = z.object({ pop: PopCode.optional() });
export type EdgeRttsQuery = z.infer<typeof EdgeRttsQuery>;

/** `GET /v1/edge/rtts`: the RTTs a PoP measured itself to nodes (their challenge pings), nearest first. */
export const EdgeRtts = z.object({
  /** The PoP (null: this request's edge location is unknown and none was named). */
  pop: z.string().nullable(),
  nodes: z.array(z.object({ nodeId: z.string(), rttMs: z.number(), measuredAt: z.number() })),
});
export type EdgeRtts = z.infer<typeof EdgeRtts>;
