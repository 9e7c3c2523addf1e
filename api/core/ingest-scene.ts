/**
 * Stores an uploaded scene: inspect (check + normalize), store the normalized GLB content-addressed at
 * `scenes/<sha256>.glb`, record what jobs may refer to. The same content always gets the same id, and
 * uploading it again stores nothing new.
 */
import type { SceneUploaded } from '../protocol/job-status.ts';
import type { ApiContext } from './api-context.ts';
import { sha256Hex } from './crypto-utils.ts';
import type { SceneRecord } from './job-store.ts';
import { sceneKey } from './object-keys.ts';
import type { SceneInput } from '../../scene-check/scene-inspector.ts';

/** What an upload answers for a stored scene. */
export function sceneUploadedOf(record: SceneRecord): SceneUploaded {
  return { sceneId: record.sceneId, bytes: record.bytes, stats: record.stats, webgl2: record.info.webgl2 ?? [] };
}

/** Inspect, store and record a scene for `owner` (an API key id); throws the inspector's SCENE_* errors. */
export async function ingestScene(ctx: ApiContext, input: SceneInput, owner: string): Promise<SceneUploaded> {
  const inspected = await ctx.inspector.inspect(input);
  const sceneId = await sha256Hex(inspected.glb);
  const key = sceneKey(sceneId);
  // The blob goes first, so a scene record never points at a missing object.
  if (!(await ctx.blobs.head(key))) await ctx.blobs.put(key, inspected.glb, { contentType: 'model/gltf-binary' });
  const record = await ctx.jobs.putScene({
    sceneId,
    bytes: inspected.glb.length,
    stats: inspected.stats,
    info: inspected.info,
    createdAt: ctx.clock.now(),
  });
  // Uploading the bytes proves the uploader has the scene, so a second key uploading it may use it too.
  await ctx.jobs.grantScene(sceneId, owner, ctx.clock.now());
  ctx.logger.info({ sceneId, bytes: record.bytes, ...(record.info.webgl2?.length ? { webgl2: record.info.webgl2 } : {}) }, 'scene stored');
  // The WebGL 2 flag is stored in the record's info: it routes the scene's jobs (plan-job.ts sceneRequirements).
  return sceneUploadedOf(record);
}
