/**
 * The S3 blob store against a real s3rver: it stores exactly the bytes put (no aws-chunked framing), and
 * its presigned URLs work with plain HTTP as render nodes and clients use them; through a proxy that fails
 * requests (500, 503, resets) every call still succeeds, and one that always fails is a named STORAGE_FAILED.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTesseraError } from '../../api/protocol/errors.ts';
import { startLocalS3, type LocalS3 } from '../../api/node/local-s3.ts';
import { createS3BlobStore, S3BlobStore } from '../../api/node/s3-blob-store.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { sha256 } from './support/api-harness.ts';

let dir: string;
let s3: LocalS3;
let store: S3BlobStore;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-s3-test-'));
  s3 = await startLocalS3({ dir });
  store = await createS3BlobStore(s3);
});
afterAll(async () => {
  store?.close();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('S3 blob store', () => {
  it('reads back exactly the bytes of a 1 MB random object, via the SDK and a presigned GET', async () => {
    const bytes = new Uint8Array(randomBytes(1024 * 1024));
    await store.put('test/random.bin', bytes, { contentType: 'application/octet-stream' });
    expect(await store.head('test/random.bin')).toMatchObject({ size: bytes.length });

    const viaSdk = await store.get('test/random.bin');
    expect(viaSdk!.length).toBe(bytes.length);
    expect(sha256(viaSdk!)).toBe(sha256(bytes));

    const res = await fetch(await store.presignGet('test/random.bin', 60));
    expect(res.status).toBe(200);
    expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(bytes));
  });

  it('accepts a presigned PUT and stores its bytes unchanged', async () => {
    const bytes = new Uint8Array(randomBytes(300 * 1024));
    const url = await store.presignPut('test/put.bin', 60);
    expect(url).toMatch(new RegExp(`^${s3.endpoint}/${s3.bucket}/test/put\\.bin\\?`));
    const put = await fetch(url, { method: 'PUT', body: bytes });
    expect(put.status).toBe(200);
    expect(await store.head('test/put.bin')).toMatchObject({ size: bytes.length });
    expect(sha256((await store.get('test/put.bin'))!)).toBe(sha256(bytes));
  });

  it('answers null for missing objects and deletes idempotently', async () => {
    expect(await store.get('test/missing')).toBeNull();
    expect(await store.head('test/missing')).toBeNull();
    await store.put('test/gone.bin', new Uint8Array([1, 2, 3]));
    await store.delete('test/gone.bin');
    await store.delete('test/gone.bin');
    expect(await store.head('test/gone.bin')).toBeNull();
  });

  it('stores empty objects', async () => {
    await store.put('test/empty', new Uint8Array(0));
    expect(await store.head('test/empty')).toMatchObject({ size: 0 });
    expect((await store.get('test/empty'))!.length).toBe(0);
  });

  it('creates its bucket when missing', async () => {
    const fresh = await createS3BlobStore({ ...s3, bucket: 'fresh-bucket' });
    try {
      await fresh.put('a', new Uint8Array([7]));
      expect(await fresh.get('a')).toEqual(new Uint8Array([7]));
      await createS3BlobStore({ ...s3, bucket: 'fresh-bucket' }).then((again) => again.close());
    } finally {
      fresh.close();
    }
  });

  it('reports an unreachable service as STORAGE_FAILED with the cause kept', async () => {
    const dead = new S3BlobStore({ ...s3, endpoint: 'http://127.0.0.1:9', attempts: 2 });
    try {
      const err = await dead.head('x').catch((e: unknown) => e);
      expect(isTesseraError(err, 'STORAGE_FAILED')).toBe(true);
      expect((err as Error).message).toMatch(/checking x/);
      expect((err as Error).cause).toBeDefined();
    } finally {
      dead.close();
    }
  });

  it('retries 500, 503 and resets (before and after the store acted) on put, head, get and delete', async () => {
    const proxy = await startFaultProxy({ target: s3.endpoint, failureRate: 0.4, seed: 11 });
    const flaky = new S3BlobStore({ ...s3, endpoint: proxy.url, attempts: 12 });
    try {
      for (let i = 0; i < 15; i++) {
        const bytes = new Uint8Array(randomBytes(4096 + i));
        await flaky.put(`flaky/${i}`, bytes);
        expect(await flaky.head(`flaky/${i}`)).toMatchObject({ size: bytes.length });
        expect(sha256((await flaky.get(`flaky/${i}`))!)).toBe(sha256(bytes));
        await flaky.delete(`flaky/${i}`);
        expect(await flaky.head(`flaky/${i}`)).toBeNull();
      }
      for (const n of Object.values(proxy.counts.injected)) expect(n).toBeGreaterThan(0);
    } finally {
      flaky.close();
      await proxy.close();
    }
  });

  it('gives up after its attempts with STORAGE_FAILED naming the call and the count', async () => {
    const proxy = await startFaultProxy({ target: s3.endpoint, failureRate: 1 });
    const broken = new S3BlobStore({ ...s3, endpoint: proxy.url, attempts: 3 });
    try {
      const err = await broken.get('x').catch((e: unknown) => e);
      expect(isTesseraError(err, 'STORAGE_FAILED')).toBe(true);
      expect((err as Error).message).toMatch(/reading x failed after 3 attempts/);
      expect(proxy.counts.requests).toBe(3);
    } finally {
      broken.close();
      await proxy.close();
    }
  });
});
