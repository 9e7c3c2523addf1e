/**
 * Once a job is done, the outputs of attempts that were not accepted (a node killed after its upload, a
 * corrupt or outvoted result, a lease that expired mid-upload) are garbage: each attempt wrote its own key
 * (object-keys.ts `attemptKey`), so delete those, and storage holds exactly the job's accepted tiles and its
 * frames. Best effort: a failed delete is logged, never an error for the node whose completion ended the job.
 */
import type { ApiContext } from './api-context.ts';
import { attemptKey } from './object-keys.ts';

/** Delete the superseded attempts' outputs of a finished job; returns the keys it tried. */
export async function pruneSupersededOutputs(ctx: Pick<ApiContext, 'jobs' | 'blobs' | 'logger'>, jobId: string): Promise<string[]> {
  const keys: string[] = [];
  for (const task of await ctx.jobs.listTasks(jobId)) {
    if (task.state !== 'done' || task.attempts <= 1) continue;
    const accepted = attemptKey(task);
    for (let attempt = 1; attempt < task.attempts; attempt++) {
      const key = attemptKey({ outputKey: task.outputKey, attempts: attempt });
      if (key !== accepted) keys.push(key);
    }
  }
  await Promise.all(keys.map((key) => ctx.blobs.delete(key).catch((err: unknown) => ctx.logger.warn({ err, key, jobId }, 'could not delete a superseded output'))));
  if (keys.length) ctx.logger.debug({ jobId, keys: keys.length }, 'superseded outputs deleted');
  return keys;
}
