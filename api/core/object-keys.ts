/** Where everything lives in the blob store; the only place that spells out object keys. */
import type { ImageFormat, TileRect } from '../protocol/render-spec.ts';

/** A stored, normalized scene: content-addressed, so the same scene is stored once. */
export function sceneKey(sceneId: string): string {
  return `scenes/${sceneId}.glb`;
}

/** A large scene a client PUT through a presigned URL, before it is checked. */
export function uploadKey(uploadId: string): string {
  return `uploads/${uploadId}`;
}

/** One rendered tile: always PNG, since the stitch task decodes it again. */
export function tileKey(jobId: string, frame: number, tile: TileRect): string {
  return `jobs/${jobId}/tiles/${frame}/${tile.x}_${tile.y}.png`;
}

/** A finished frame; zero-padded so frames list in order. */
export function frameKey(jobId: string, frame: number, format: ImageFormat): string {
  return `jobs/${jobId}/frames/${String(frame).padStart(6, '0')}.${format === 'jpeg' ? 'jpg' : format}`;
}

/**
 * A verifying render of a task's output (round `round`, verifier `n`): beside the tiles, never over them, so
 * a verification can never replace the output it checks. Same extension as the output it verifies.
 */
export function verifyKey(jobId: string, frame: number, tile: TileRect, round: number, n: number, ext: string): string {
  return `jobs/${jobId}/verify/${frame}/${tile.x}_${tile.y}.r${round}.${n}.${ext}`;
}

/**
 * Where attempt `attempts` of a task writes its output: the task's key for the first attempt, a key of its own
 * for each later one. A node whose lease was revoked still holds its presigned PUT URL, so a late upload
 * must never land where the accepted attempt's output is read from (the stitch, the frame list).
 */
export function attemptKey(task: { outputKey: string; attempts: number }): string {
  if (task.attempts <= 1) return task.outputKey;
  const dot = task.outputKey.lastIndexOf('.');
  return `${task.outputKey.slice(0, dot)}.a${task.attempts}${task.outputKey.slice(dot)}`;
}
