/** Where everything lives in the blob store; the only place that spells out object keys. */
import type { ImageFormat, TileRect } from '../protocol/render-spec.ts';

/** A stored, normalized scene: content-addressed, so the same scene is stored once. */
export function sceneKey(sceneId: string): string {
  return `scenes/${sceneId}.glb`;
}

/**
 * Which scene an upload's raw bytes (a GLB, .gltf or zip as the client sent it, by their sha256) made: a small
 * JSON record, so the same bytes sent again are not checked and normalized again (uploaded-scenes.ts).
 */
export function uploadedSceneKey(rawSha256: string): string {
  return `scene-uploads/${rawSha256}.json`;
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

/** The prefix every object of a job is stored under (its tiles, frames and every attempt's uploads). */
export function jobPrefix(jobId: string): string {
  return `jobs/${jobId}/`;
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
 * Where attempt `attempts` of a task writes its output: always a key of its own (`….a<n>.<ext>`), never the
 * task's output key. Nodes get PUT URLs only for attempt keys; a node keeps its URL after its result is
 * accepted (it lives `nodeUrlSeconds`), so the key readers use must be one no node can write.
 */
export function attemptKey(task: { outputKey: string; attempts: number }): string {
  const dot = task.outputKey.lastIndexOf('.');
  return `${task.outputKey.slice(0, dot)}.a${Math.max(1, task.attempts)}${task.outputKey.slice(dot)}`;
}

/**
 * The object an attempt's reported output is uploaded to: its attempt key with the reported sha256 in it. Its
 * PUT URL is signed for exactly those bytes, so the object under this name, when there is one, holds them: a
 * node that reports twice gets two names, never two contents under one name (no claim has to be recorded).
 */
export function claimedAttemptKey(task: { outputKey: string; attempts: number }, sha256: string): string {
  const key = attemptKey(task);
  const dot = key.lastIndexOf('.');
  return `${key.slice(0, dot)}.${sha256}${key.slice(dot)}`;
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
