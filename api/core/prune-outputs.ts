/**
 * Once a job is done, every attempt's own object is garbage: accepted results were copied to their accepted
 * keys (object-keys.ts `acceptedKey`) when they were checked, and the rest (a node killed after its upload, a
 * corrupt or outvoted result, a lease that expired mid-upload, an upload reported under another sha256) were
 * never accepted. Attempt objects are named by the sha256 their node reported, so they are found by listing the
 * job's prefix, not by name. Delete them all, and storage holds exactly the job's accepted tiles and frames. Best effort: a failed delete is logged, never an
 * error for the node whose completion ended the job. Verify tasks' accepted copies go too (they sit beside the
 * outputs they checked, under the same prefixes, and only served the vote).
 */
import type { ApiContext } from './api-context.ts';
import { acceptedKey, jobPrefix } from './object-keys.ts';

/** Delete the superseded attempts' outputs of a finished job; returns the keys it tried. */
export async function pruneSupersededOutputs(ctx: Pick<ApiContext, 'jobs' | 'blobs' | 'logger'>, jobId: string): Promise<string[]> {
  const keep = new Set<string>();
  // A verifying render's accepted copy only served the vote: no frame or stitch reads it once the job is done.
  for (const task of await ctx.jobs.listTasks(jobId)) if (task.verifies === null) keep.add(acceptedKey(task));
  const stored = await ctx.blobs.list(jobPrefix(jobId)).catch((err: unknown) => {
    ctx.logger.warn({ err, jobId }, 'could not list a finished job\'s outputs');
    return [] as string[];
  });
  const keys = stored.filter((key) => !keep.has(key));
  await Promise.all(keys.map((key) => ctx.blobs.delete(key).catch((err: unknown) => ctx.logger.warn({ err, key, jobId }, 'could not delete a superseded output'))));
  if (keys.length) ctx.logger.debug({ jobId, keys: keys.length }, 'superseded outputs deleted');
  return keys;
}
