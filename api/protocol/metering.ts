/**
 * Metering: the ledger of accepted render work (per node and per job) and the price quote a client gets
 * before submitting a job. Render-seconds are the nodes' reported compute time, clamped by the API;
 * megapixels count rendered pixels (supersampling included); tiles count render results.
 */
import { z } from 'zod';

/** Totals of accepted work. */
export const Usage = z.object({
  renderSeconds: z.number(),
  megapixels: z.number(),
  tiles: z.number(),
});
export type Usage = z.infer<typeof Usage>;

/** One ledger line: one accepted result of one task by one node. */
export const LedgerEntry = z.object({
  taskId: z.string(),
  jobId: z.string(),
  nodeId: z.string(),
  /** `verify`: a re-issued render (or stitch: 0 tiles, 0 megapixels) that agreed with the accepted result, credited to the verifying node; `session`: an interactive session's render time (taskId and jobId are the session id). */
  kind: z.enum(['render', 'stitch', 'verify', 'session']),
  renderSeconds: z.number(),
  megapixels: z.number(),
  tiles: z.number(),
  /**
   * `pending`: awaiting verification (not counted yet); `credited`: counted; `voided`: disproven, or its node
   * was blocklisted while the job ran (the work was redone by others); `forfeited`: accepted, but its node was
   * proven a liar (blocklisted: outvoted, a forged probe answer, an inflated card), so none of its work is
   * credited, whenever it was done; `held` (in views only): accepted, but its node is not in good standing yet
   * (on probation, where the API holds new identities' credit): counted once it is.
   */
  state: z.enum(['pending', 'credited', 'voided', 'forfeited', 'held']),
  at: z.number(),
});
export type LedgerEntry = z.infer<typeof LedgerEntry>;

/** `GET /v1/jobs/:id/ledger`: the job's credited totals, per node, and every entry. */
export const JobLedger = z.object({
  jobId: z.string(),
  total: Usage,
  byNode: z.record(z.string(), Usage),
  /** Accepted work not credited: held (its node not in good standing yet) and forfeited (its node a proven liar). Absent from older servers. */
  held: Usage.optional(),
  forfeited: Usage.optional(),
  entries: z.array(LedgerEntry),
});
export type JobLedger = z.infer<typeof JobLedger>;

/** `GET /v1/ledger?node=`: credited totals per node (one node when `node` is given). */
export const LedgerQuery = z.object({ node: z.string().min(1).max(128).optional() });
/**
 * A node's standing for credit: `good` (its accepted work is credited), `probation` (a new identity whose
 * credit the API holds until it has a verified record), `forfeited` (a proven liar: blocklisted, everything it
 * earned forfeited).
 */
export const CreditStanding = z.enum(['good', 'probation', 'forfeited']);
export type CreditStanding = z.infer<typeof CreditStanding>;

export const NodeLedger = z.object({
  nodes: z.array(
    Usage.extend({
      nodeId: z.string(),
      jobs: z.number(),
      /** Absent from older servers. */
      standing: CreditStanding.optional(),
      held: Usage.optional(),
      forfeited: Usage.optional(),
    }),
  ),
});
export type NodeLedger = z.infer<typeof NodeLedger>;

/** `POST /v1/quote` (body: a JobRequest): what the job would cost, before it is submitted. */
export const Quote = z.object({
  frames: z.number(),
  /** Render results: tiles (a frame of one tile counts one). */
  tiles: z.number(),
  /** Pixels rendered, supersampling included, in millions. */
  megapixels: z.number(),
  /** Compute time at the measured speed of the registered nodes, verification re-renders included. */
  renderSeconds: z.number(),
  /** Expected wall time with every slot of every healthy node working on the job (transfers not included). */
  wallSeconds: z.number(),
  /** Share of render tasks re-issued to another node for verification (included above and in the price). */
  verificationRate: z.number(),
  price: z.object({ amount: z.number(), currency: z.string(), perRenderSecond: z.number(), perMegapixel: z.number() }),
  /** The node speed the estimate used: reference tiles (256×256) per second, summed over healthy nodes. */
  basis: z.object({ nodes: z.number(), tilesPerSecond: z.number() }),
});
export type Quote = z.infer<typeof Quote>;
