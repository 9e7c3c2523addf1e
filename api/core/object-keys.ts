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
 * Where attempt `attempts` of a task writes its output: always a key of its own (`….a<n>.<ext>`), never the
 * task's output key. Nodes get PUT URLs only for attempt keys; a node keeps its URL after its result is
 * accepted (it lives `nodeUrlSeconds`), so the key readers use must be one no node can write.
 */
export function attemptKey(task: { outputKey: string; attempts: number }): string {
  const dot = task.outputKey.lastIndexOf('.');
  return `${task.outputKey.slice(0, dot)}.a${Math.max(1, task.attempts)}${task.outputKey.slice(dot)}`;
}

/**
 * Where a task's accepted output lives: the API writes there the bytes it read back and checked from the
 * attempt key, and stitchers, verifiers and clients read only from there. No node is ever given a URL to it.
 */
export function acceptedKey(task: { outputKey: string }): string {
  return task.outputKey;
}

/** The content type of an output by its key's extension. */
export function outputContentType(key: string): string {
  const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
  return ext === 'jpg' || ext === 'jpeg' ? 'image/jpeg' : ext === 'webp' ? 'image/webp' : 'image/png';
}
