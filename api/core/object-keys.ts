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

/**
 * One rendered tile: always PNG, since the stitch task decodes it again. `token` is the task's opaque token:
 * every task's output key (and id) carries one, so a verifying render's key looks like any render's.
 */
export function tileKey(jobId: string, frame: number, tile: TileRect, token: string): string {
  return `jobs/${jobId}/tiles/${frame}/${tile.x}_${tile.y}.${token}.png`;
}

/** A finished frame; zero-padded so frames list in order; `token` as for tileKey. */
export function frameKey(jobId: string, frame: number, format: ImageFormat, token: string): string {
  return `jobs/${jobId}/frames/${String(frame).padStart(6, '0')}.${token}.${format === 'jpeg' ? 'jpg' : format}`;
}

/**
 * A verifying render's key: the output key it verifies with another task's token in place of its own, so
 * it is written beside that output, never over it, and a node cannot tell it from a render's key.
 */
export function verifyKey(outputKey: string, token: string): string {
  const m = /^(.*)\.([0-9a-f]+)(\.[a-z]+)$/.exec(outputKey);
  // Keys from before tokens (no token segment): the token goes before the extension.
  if (!m) return `${outputKey.slice(0, outputKey.lastIndexOf('.'))}.${token}${outputKey.slice(outputKey.lastIndexOf('.'))}`;
  return `${m[1]}.${token}${m[3]}`;
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
