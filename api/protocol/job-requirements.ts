/** What a job may demand of the node that renders it; the check of a card against it lives in `api/core/routing/requirements.ts`. */
import { z } from 'zod';

/** A job's requirements; every field is optional (absent = no constraint). Region labels match exactly. */
export const JobRequirements = z
  .object({
    minRamBytes: z.number().int().min(0).optional(),
    /** The node's GL maximum texture size must be at least this (pixels per side). */
    minTextureSize: z.number().int().min(0).max(65_536).optional(),
    /**
     * Only nodes whose card lists a WebGL 2 backend. The API sets it for every job of a scene that needs WebGL 2
     * (KHR_materials_transmission, KHR_materials_volume); a client may ask for it too. `false` is the same as absent.
     */
    webgl2: z.boolean().optional(),
    /** When non-empty, only nodes whose region label is listed. */
    allowedRegions: z.array(z.string().max(64)).max(256).optional(),
    deniedRegions: z.array(z.string().max(64)).max(256).optional(),
    /** The node's RTT to the client (measured, or else estimated) must not exceed this. */
    maxRttMs: z.number().positive().max(60_000).optional(),
  })
  .strict();
export type JobRequirements = z.infer<typeof JobRequirements>;

/**
 * A job's requirements as the API stores and checks them: what a client may ask (JobRequirements) and what only the
 * API sets. `viewPose`: only nodes whose card lists the `view-pose` render feature (they draw ViewSpec `pose`; an older
 * node would strip it and draw the start view), set on session frames' reference renders. A client cannot ask for it
 * (JobRequirements is strict), nor needs to: no client job carries a pose.
 */
export const TaskRequirements = JobRequirements.extend({ viewPose: z.boolean().optional() });
export type TaskRequirements = z.infer<typeof TaskRequirements>;
