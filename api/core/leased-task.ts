/**
 * Builds what a node receives for a lease: the task plus exactly the presigned URLs it needs and nothing
 * else (nodes never hold storage credentials). Render: GET of the scene. Stitch: GET of the scene, GETs of the
 * frame's tiles with the sha256 each was verified to have when it was completed. No PUT URL: the node reports
 * its encoded output's size and sha256 first (`POST /v1/tasks/:id/upload`, upload-ticket.ts) and gets a PUT
 * signed for exactly those bytes, to a key of the attempt's own (claimedAttemptKey), or (protocol 3) sends an
 * output of at most `output.inlineMaxBytes` inside its completion; readers get the accepted copy (acceptedKey),
 * which only the API writes.
 */
import type { LeasedTask } from '../protocol/task.ts';
import type { BlobStore } from './blob-store.ts';
import type { JobRecord, TaskRecord } from './job-store.ts';
import { acceptedKey, attemptKey, sceneKey } from './object-keys.ts';
import { maxOutputBytes } from './accept-output.ts';
import { mintUploadToken } from './upload-capability.ts';

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
  uploadKey: Uint8Array,
  nodeId: string,
  now: number,
  /** The API's inline output cap (ApiOptions.inlineOutputBytes): the lease offers the smaller of it and the bound. */
  inlineOutputBytes = 0,
  /** HMAC-SHA256 at once for the upload token (ApiDeps.hmacSha256Sync); absent: WebCrypto. */
  hmacSync?: (key: Uint8Array, data: Uint8Array) => Uint8Array,
): Promise<LeasedTask> {
  const scene = sceneKey(job.sceneId);
  const sceneUrl = await blobs.presignGet(scene, urlSeconds);
  // A render's output is its tile's size (or the frame's, when the frame is one tile); a stitch's the frame's.
  const size = stitchesFrame(task) ? job.view : task.tile!;
  const maxBytes = maxOutputBytes(size.width, size.height);
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
    output: { key: attemptKey(task), maxBytes, inlineMaxBytes: Math.min(maxBytes, inlineOutputBytes), token: await mintUploadToken(uploadKey, { taskId: task.taskId, leaseId: task.leaseId!, nodeId, key: attemptKey(task), attempt: Math.max(1, task.attempts), outputKey: task.outputKey, maxBytes, expiresAt: now + urlSeconds * 1000 }, hmacSync) },
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
