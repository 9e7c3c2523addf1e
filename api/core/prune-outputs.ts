/**
 * Once a job has ended, every attempt's own object is garbage: accepted results were copied to their accepted
 * keys (object-keys.ts `acceptedKey`) when they were checked, and the rest (a node killed after its upload, a
 * corrupt or outvoted result, a lease that expired mid-upload, an upload reported under another sha256, an
 * attempt of a cancelled or failed job) were never accepted. Attempt objects are named by the sha256 their node
 * reported, so they are found by listing the job's prefix, not by name. Delete them all, and storage holds exactly
 * the job's accepted tiles and frames. Best effort: a failed list or delete is logged and reported (`complete`
 * false, so the clean-up sweep tries again later), never an error for the call whose change ended the job. Verify
 * tasks' accepted copies go too (they sit beside the outputs they checked, under the same prefixes, and only served
 * the vote).
 */
import type { ApiContext } from './api-context.ts';
import { acceptedKey, jobPrefix } from './object-keys.ts';

/** What a prune did: the keys it deleted, and whether it listed and deleted everything it meant to. */
export interface PruneResult {
  deleted: string[];
  complete: boolean;
}

/** Delete the superseded attempts' outputs of an ended job. */
export async function pruneSupersededOutputs(ctx: Pick<ApiContext, 'jobs' | 'blobs' | 'logger'>, jobId: string): Promise<PruneResult> {
  const keep = new Set<string>();
  // A verifying render's accepted copy only served the vote: no frame or stitch reads it once the job is done.
  for (const task of await ctx.jobs.listTasks(jobId)) if (task.verifies === null) keep.add(acceptedKey(task));
  let stored: string[];
  try {
    stored = await ctx.blobs.list(jobPrefix(jobId));
  } catch (err) {
    ctx.logger.warn({ err, jobId }, "could not list an ended job's outputs");
    return { deleted: [], complete: false };
  }
  const keys = stored.filter((key) => !keep.has(key));
  const results = await Promise.all(
    keys.map((key) =>
      ctx.blobs.delete(key).then(
        () => true,
        (err: unknown) => {
          ctx.logger.warn({ err, key, jobId }, 'could not delete a superseded output');
          return false;
        },
      ),
    ),
  );
  const deleted = keys.filter((_, i) => results[i]);
  if (deleted.length) ctx.logger.debug({ jobId, keys: deleted.length }, 'superseded outputs deleted');
  return { deleted, complete: deleted.length === keys.length };
}
