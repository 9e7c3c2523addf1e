/**
 * Scene uploads. Small scenes come in the request body (GLB, a zip of a .gltf and its files, or a
 * multipart form of them). Large ones go straight to storage through a presigned PUT, then
 * `complete` checks them like a direct upload; the API never streams them twice.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { isTesseraError, TesseraError } from '../../protocol/errors.ts';
import { SceneUploaded, SceneUploadTicket } from '../../protocol/job-status.ts';
import type { ApiContext } from '../api-context.ts';
import { presignedPutHeaders } from '../blob-store.ts';
import { randomId, sha256Hex } from '../crypto-utils.ts';
import { sceneUploadedOf } from '../ingest-scene.ts';
import { uploadKey } from '../object-keys.ts';
import { readUploadedBody, sceneBytes, sceneInputOf, type SceneUploadLimits } from '../scene-upload.ts';
import { findUploadedScene, ingestUpload } from '../uploaded-scenes.ts';
import { CLIENT_AUTH_ERRORS, clientSecurity, principalOf } from './client-auth.ts';
import { errorResponses } from './error-responses.ts';
import { optionalJsonBody, jsonResponse } from './route-shapes.ts';

const Sha256Param = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 is 64 lowercase hex digits') });

const UploadParams = z.object({ id: z.string().regex(/^upl_[0-9a-f]{32}$/, 'an upload id looks like upl_ and 32 hex digits') });

const binary = { schema: z.string().meta({ format: 'binary' }) };

const SCENE_ERRORS = [
  'BAD_REQUEST',
  'SCENE_MALFORMED',
  'SCENE_UNSUPPORTED',
  'SCENE_EXTERNAL_URI',
  'SCENE_LIMIT_EXCEEDED',
  'SCENE_TEXTURE_FAILED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'STORAGE_FAILED',
  'UNAVAILABLE',
  ...CLIENT_AUTH_ERRORS,
] as const;

const uploadScene = createRoute({
  method: 'post',
  path: '/v1/scenes',
  tags: ['scenes'],
  security: clientSecurity,
  summary: 'Upload a scene',
  description:
    'The body is a GLB (model/gltf-binary or application/octet-stream), a .gltf with data: URIs (model/gltf+json), a zip ' +
    'holding one .gltf and its files (application/zip), or multipart/form-data with the .gltf and its files (each ' +
    "part's filename is its path). The scene is checked, normalized to one GLB and stored by its sha256. The same " +
    'bytes sent again (not as a form) are not checked again: the answer is the scene they made.',
  request: {
    body: {
      required: true,
      content: { 'model/gltf-binary': binary, 'application/octet-stream': binary, 'application/zip': binary },
    },
  },
  responses: {
    201: jsonResponse('Stored (or already stored).', SceneUploaded),
    ...errorResponses(...SCENE_ERRORS),
  },
});

/**
 * Optional: announcing the size lets the API refuse a too-large scene before it is uploaded; announcing the
 * size and SHA-256 too gets a URL signed for exactly those bytes (storage refuses any other body).
 */
const UploadRequest = z.object({
  bytes: z.number().int().min(0).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 is 64 lowercase hex digits').optional(),
  contentType: z.string().max(256).optional(),
});

const createUpload = createRoute({
  method: 'post',
  path: '/v1/scenes/uploads',
  tags: ['scenes'],
  security: clientSecurity,
  summary: 'Get a presigned URL to PUT a large scene to',
  request: { body: optionalJsonBody(UploadRequest) },
  responses: {
    201: jsonResponse('PUT the scene to `url`, then POST …/complete.', SceneUploadTicket),
    ...errorResponses('BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'STORAGE_FAILED', ...CLIENT_AUTH_ERRORS),
  },
});

const completeUpload = createRoute({
  method: 'post',
  path: '/v1/scenes/uploads/{id}/complete',
  tags: ['scenes'],
  security: clientSecurity,
  summary: 'Check and store a scene PUT to an upload URL',
  request: { params: UploadParams },
  responses: {
    201: jsonResponse('Stored (or already stored).', SceneUploaded),
    ...errorResponses(...SCENE_ERRORS, 'NOT_FOUND'),
  },
});

const uploadedScene = createRoute({
  method: 'get',
  path: '/v1/scenes/uploaded/{sha256}',
  tags: ['scenes'],
  security: clientSecurity,
  summary: 'The scene these bytes made, if you uploaded them before',
  description:
    'By the sha256 of a GLB, .gltf or zip exactly as it was uploaded (`POST /v1/scenes` or a presigned upload): the ' +
    'scene those bytes made, when this key may use it, so the client need not send them again. 404 otherwise ' +
    '(never uploaded, uploaded by another key only, or as a multipart form): upload the scene.',
  request: { params: Sha256Param },
  responses: {
    200: jsonResponse('Uploaded before: use this scene.', SceneUploaded),
    ...errorResponses('NOT_FOUND', 'STORAGE_FAILED', ...CLIENT_AUTH_ERRORS),
  },
});

/** Register the scene routes. */
export function registerSceneRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  const limits: SceneUploadLimits = { maxFiles: ctx.options.maxSceneFiles, maxUnpackedBytes: ctx.options.maxUnpackedBytes };

  app.openapi(uploadScene, async (c) => {
    // Refused before the body is read, when the upload could only be refused after (ingestUpload checks again).
    ctx.inspections.checkRoom();
    const body = await readUploadedBody(c.req.raw);
    const rawSha256 = 'raw' in body ? await sha256Hex(body.raw) : undefined;
    return c.json(await ingestUpload(ctx, rawSha256, () => sceneInputOf(body, limits), principalOf(c).keyId), 201);
  });

  app.openapi(uploadedScene, async (c) => {
    const { sha256 } = c.req.valid('param');
    const known = await findUploadedScene(ctx, sha256);
    // Another key's upload answers as if unknown: a hash is no proof of holding the bytes.
    if (!known || !(await ctx.jobs.isSceneGranted(known.sceneId, principalOf(c).keyId))) {
      throw new TesseraError('NOT_FOUND', `No scene of this key was uploaded as bytes with sha256 ${sha256}: upload the scene.`);
    }
    return c.json(sceneUploadedOf(known), 200);
  });

  app.openapi(createUpload, async (c) => {
    const body = c.req.valid('json') as z.infer<typeof UploadRequest> | undefined;
    const announced = body?.bytes;
    if (announced !== undefined && announced > ctx.options.maxSceneBytes) {
      throw new TesseraError('PAYLOAD_TOO_LARGE', `A scene of ${announced} bytes is more than the ${ctx.options.maxSceneBytes} allowed.`);
    }
    const uploadId = randomId('upl');
    const seconds = ctx.options.uploadUrlSeconds;
    const expect = announced !== undefined && body?.sha256 ? { bytes: announced, sha256: body.sha256 } : undefined;
    const url = await ctx.blobs.presignPut(uploadKey(uploadId), seconds, expect);
    return c.json({ uploadId, url, expiresAt: ctx.clock.now() + seconds * 1000, ...(expect ? { headers: presignedPutHeaders(expect) } : {}) }, 201);
  });

  app.openapi(completeUpload, async (c) => {
    const { id } = c.req.valid('param');
    const key = uploadKey(id);
    const head = await ctx.blobs.head(key);
    if (!head) throw new TesseraError('NOT_FOUND', `Nothing was uploaded for ${id}: PUT the scene to its URL first.`);
    if (head.size > ctx.options.maxSceneBytes) {
      await ctx.blobs.delete(key);
      throw new TesseraError('PAYLOAD_TOO_LARGE', `The upload is ${head.size} bytes, more than the ${ctx.options.maxSceneBytes} allowed.`);
    }
    let keep = false;
    try {
      // The URL is still open: the object may have been replaced since the HEAD, so the read is bounded too.
      const bytes = await ctx.blobs.get(key, { maxBytes: ctx.options.maxSceneBytes }).catch((err: unknown) => {
        if (!isTesseraError(err, 'PAYLOAD_TOO_LARGE')) throw err;
        throw new TesseraError('PAYLOAD_TOO_LARGE', `The upload is more than the ${ctx.options.maxSceneBytes} bytes allowed.`, { cause: err });
      });
      if (!bytes) throw new TesseraError('NOT_FOUND', `Nothing was uploaded for ${id}: PUT the scene to its URL first.`);
      return c.json(await ingestUpload(ctx, await sha256Hex(bytes), () => sceneBytes(bytes, limits), principalOf(c).keyId), 201);
    } catch (err) {
      // Busy (no inspection slot, storage unavailable): the client retries the complete, so the upload stays.
      keep = isTesseraError(err, 'UNAVAILABLE');
      throw err;
    } finally {
      // Checked or refused, the raw upload has served its purpose.
      if (!keep) await ctx.blobs.delete(key).catch((err: unknown) => ctx.logger.warn({ err, key }, 'could not delete an upload'));
    }
  });
}
