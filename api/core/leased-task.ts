/**
 * Builds what a node receives for a lease: the task plus exactly the presigned URLs it needs and nothing
 * else (nodes never hold storage credentials). Render: GET of the scene, PUT of its tile (or of the frame,
 * when the frame is one tile). Stitch: GET of the scene, GETs of the frame's tiles with the sha256 each was
 * verified to have when it was completed, PUT of the frame. Each attempt writes to its own key (attemptKey);
 * readers get the accepted copy (acceptedKey), which only the API writes.
 */
import type { LeasedTask } from '../protocol/task.ts';
import type { BlobStore } from './blob-store.ts';
import type { JobRecord, TaskRecord } from './job-store.ts';
import { acceptedKey, attemptKey, sceneKey } from './object-keys.ts';

/** Whether the task stitches a frame: a stitch, or a verify task re-doing one (it has no tile of its own). */
export function stitchesFrame(task: Pick<TaskRecord, 'kind' | 'tile'>): boolean {
  return task.kind === 'stitch' || (task.kind === 'verify' && task.tile === null);
}

/** Presign the URLs of a freshly leased task; `frameTiles` are the render tasks of its frame (for stitch). */
export async function presignLeasedTask(
  task: TaskRecord,
  job: JobRecord,
  frameTiles: TaskRecord[],
  blobs: BlobStore,
  urlSeconds: number,
): Promise<LeasedTask> {
  const scene = sceneKey(job.sceneId);
  const [sceneUrl, outputUrl] = await Promise.all([blobs.presignGet(scene, urlSeconds), blobs.presignPut(attemptKey(task), urlSeconds)]);
  const leased: LeasedTask = {
    taskId: task.taskId,
    leaseId: task.leaseId!,
    leaseExpiresAt: task.leaseExpiresAt!,
    jobId: job.jobId,
    // A verifying render looks like any render, a verifying stitch like any stitch: a node cannot tell which
    // of its results are being checked.
    kind: stitchesFrame(task) ? 'stitch' : 'render',
    frame: task.frame,
    attempt: task.attempts,
    scene: { id: job.sceneId, url: sceneUrl },
    view: job.view,
    encode: job.encode,
    final: task.final,
    output: { key: attemptKey(task), url: outputUrl },
  };
  if (!stitchesFrame(task)) {
    leased.tile = task.tile!;
  } else {
    leased.tiles = await Promise.all(
      frameTiles
        .filter((t) => t.kind === 'render')
        .map(async (t) => {
          if (!t.result) throw new Error(`stitch task ${task.taskId} leased before tile task ${t.taskId} recorded its output`);
          return { ...t.tile!, url: await blobs.presignGet(acceptedKey(t), urlSeconds), checksum: t.result.checksum };
        }),
    );
  }
  return leased;
}
