/**
 * Scenes by the raw bytes they were uploaded as. Checking and normalizing a scene costs the API milliseconds for a
 * small one and seconds for a large one, and a client that renders the same file again sends the same bytes again:
 * the sha256 of those bytes (a GLB, .gltf or zip as sent; never a multipart form, whose boundary differs each time)
 * is kept beside the scene it made, so the same bytes are not checked twice, and a client may ask by that sha256
 * before it uploads at all (`GET /v1/scenes/uploaded/:sha256`, answered only for scenes the asking key may use:
 * a hash alone proves nothing, the bytes do).
 */
import { z } from 'zod';
import type { SceneUploaded } from '../protocol/job-status.ts';
import type { ApiContext } from './api-context.ts';
import { ingestScene, sceneUploadedOf } from './ingest-scene.ts';
import type { SceneRecord } from './job-store.ts';
import { sceneKey, uploadedSceneKey } from './object-keys.ts';
import type { SceneInput } from '../../scene-check/scene-inspector.ts';

const UploadRecord = z.object({ sceneId: z.string().regex(/^[0-9a-f]{64}$/) });

/** The stored scene that bytes with this sha256 made when they were uploaded, or null (never, or since removed). */
export async function findUploadedScene(ctx: ApiContext, rawSha256: string): Promise<SceneRecord | null> {
  const stored = await ctx.blobs.get(uploadedSceneKey(rawSha256));
  if (!stored) return null;
  let parsed;
  try {
    parsed = UploadRecord.safeParse(JSON.parse(new TextDecoder().decode(stored)));
  } catch {
    return null;
  }
  if (!parsed.success) return null;
  const record = await ctx.jobs.getScene(parsed.data.sceneId);
  // The record is written after the object, but an object removed since must not be handed out.
  return record && (await ctx.blobs.head(sceneKey(record.sceneId))) ? record : null;
}

/**
 * Store an uploaded scene for `owner`: when the same raw bytes (`rawSha256`, computed here from what arrived, never
 * taken from the client) made a stored scene before, grant that one without reading the upload again; otherwise
 * read it (`read`), check, normalize and store it (ingestScene, in one of ctx.inspections' slots: 503 UNAVAILABLE when
 * they and their queue are full) and remember which scene these bytes made.
 */
export async function ingestUpload(ctx: ApiContext, rawSha256: string | undefined, read: () => Promise<SceneInput>, owner: string): Promise<SceneUploaded> {
  if (rawSha256) {
    // A failed look-up only costs the check it would have saved.
    const known = await findUploadedScene(ctx, rawSha256).catch((err: unknown) => {
      ctx.logger.warn({ err: (err as Error)?.message, rawSha256 }, 'could not look up an earlier upload of these bytes; checking the scene');
      return null;
    });
    if (known) {
      // Sending the bytes proves the uploader has the scene, as for a first upload.
      await ctx.jobs.grantScene(known.sceneId, owner, ctx.clock.now());
      ctx.logger.info({ sceneId: known.sceneId, rawSha256 }, 'scene upload matched an earlier one');
      return sceneUploadedOf(known);
    }
  }
  // Unpacking and inspecting are what cost seconds and memory: both wait for a slot (503 when none is near).
  const uploaded = await ctx.inspections.run(async () => ingestScene(ctx, await read(), owner));
  if (rawSha256) {
    await ctx.blobs
      .put(uploadedSceneKey(rawSha256), new TextEncoder().encode(JSON.stringify({ sceneId: uploaded.sceneId })), { contentType: 'application/json' })
      .catch((err: unknown) => ctx.logger.warn({ err: (err as Error)?.message, rawSha256 }, 'could not remember which scene these bytes made'));
  }
  return uploaded;
}
