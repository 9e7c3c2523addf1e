/**
 * Red team: a scene PUT to a presigned upload URL that announced no size is swapped for a larger body between
 * the API's HEAD (which checks maxSceneBytes) and its GET. The URL stays valid for minutes and storage takes
 * any body (up to 5 GB on S3), so a client may PUT again at any time; the API used to read whatever the GET
 * returned, whole, into memory: a HEAD-checked size is a claim about the object as it was. Now the read itself is
 * bounded (a ranged GET of at most maxSceneBytes + 1 bytes): a larger object is refused as PAYLOAD_TOO_LARGE
 * from what storage sent, and no more than that crosses the network. The race is made deterministic by a
 * storage wrapper that lets the attacker's second PUT land right after the API's HEAD.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../api/core/blob-store.ts';
import type { ApiMetrics } from '../../api/node/api-metrics.ts';
import { packGlb, triangleGltf, triangleGlb } from '../hostile/glb-builder.ts';
import { call, startHarness, type Harness } from '../support/api-harness.ts';

const MAX_SCENE = 256 * 1024;
let h: Harness;
/** Run once, right after the API's next HEAD of an upload (the attacker's second PUT). */
let afterHead: (() => Promise<void>) | undefined;
/** How many bytes each GET of an upload returned to the API. */
const uploadReads: number[] = [];

/** Only the storage hook of ApiMetrics: the API's blob store, with the race window opened. */
const racingStorage = {
  instrumentBlobs(blobs: BlobStore): BlobStore {
    return {
      put: (key, body, options) => blobs.put(key, body, options),
      async get(key, options) {
        const bytes = await blobs.get(key, options);
        if (key.startsWith('uploads/') && bytes) uploadReads.push(bytes.length);
        return bytes;
      },
      async head(key) {
        const head = await blobs.head(key);
        const hook = key.startsWith('uploads/') ? afterHead : undefined;
        afterHead = undefined;
        await hook?.();
        return head;
      },
      copy: (from, to) => blobs.copy(from, to),
      list: (prefix) => blobs.list(prefix),
      delete: (key) => blobs.delete(key),
      presignGet: (key, seconds) => blobs.presignGet(key, seconds),
      presignPut: (key, seconds, expect) => blobs.presignPut(key, seconds, expect),
    };
  },
  instrumentFetch: <F>(fetch: F): F => fetch,
  watchDatabase() {},
  close() {},
} as unknown as ApiMetrics;

beforeAll(async () => {
  h = await startHarness({ api: { maxSceneBytes: MAX_SCENE }, metrics: racingStorage });
});
afterAll(async () => {
  await h?.close();
});

/** A valid GLB of about `bytes` bytes: the triangle with an unused buffer view of zeros after it. */
function glbOfSize(bytes: number): Uint8Array {
  const { json, bin } = triangleGltf();
  const padded = new Uint8Array(bytes);
  padded.set(bin);
  json.buffers[0].byteLength = bytes;
  json.bufferViews.push({ buffer: 0, byteOffset: 36, byteLength: bytes - 36 });
  return packGlb(json, padded);
}

describe('a presigned scene upload swapped after the size check', () => {
  it('a body PUT again, larger than maxSceneBytes, between HEAD and GET → 413 PAYLOAD_TOO_LARGE from a bounded read; an honest upload completes', async () => {
    const ticket = await call(h.url, 'POST', '/v1/scenes/uploads', { json: {} });
    expect(ticket.status).toBe(201);
    const small = triangleGlb();
    expect((await fetch(ticket.body.url, { method: 'PUT', body: small as Uint8Array<ArrayBuffer> })).status).toBe(200);
    const big = glbOfSize(4 * MAX_SCENE);
    afterHead = async () => {
      const again = await fetch(ticket.body.url, { method: 'PUT', body: big as Uint8Array<ArrayBuffer> });
      expect(again.status).toBe(200);
    };
    uploadReads.length = 0;
    const res = await call(h.url, 'POST', `/v1/scenes/uploads/${ticket.body.uploadId}/complete`);
    expect(afterHead).toBeUndefined(); // the swap happened
    expect(res.status, JSON.stringify(res.body)).toBe(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
    // The API never held more than the cap and one byte of it.
    expect(Math.max(0, ...uploadReads)).toBeLessThanOrEqual(MAX_SCENE + 1);

    // An honest upload through the same route still completes.
    const honest = await call(h.url, 'POST', '/v1/scenes/uploads', { json: {} });
    const body = glbOfSize(MAX_SCENE - 1024);
    expect((await fetch(honest.body.url, { method: 'PUT', body: body as Uint8Array<ArrayBuffer> })).status).toBe(200);
    const done = await call(h.url, 'POST', `/v1/scenes/uploads/${honest.body.uploadId}/complete`);
    expect(done.status, JSON.stringify(done.body)).toBe(201);
  });
});
