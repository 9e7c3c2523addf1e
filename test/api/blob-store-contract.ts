/**
 * The BlobStore contract against a real s3rver: one suite every S3 blob store must pass (the Node SDK
 * store and the Workers fetch store). It stores exactly the bytes put (no aws-chunked framing), and its
 * presigned URLs work with plain HTTP as render nodes and clients use them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presignedPutHeaders, type BlobStore } from '../../api/core/blob-store.ts';
import { isTesseraError } from '../../api/protocol/errors.ts';
import { startLocalS3, type LocalS3 } from '../../api/node/local-s3.ts';
import { checkPresigned } from '../support/sigv4-gate.ts';
import { sha256 } from '../support/api-harness.ts';

/** A store on `s3` (or on the unreachable endpoint it names), and how to release it. */
export type BlobStoreFactory = (s3: LocalS3) => Promise<{ store: BlobStore; close(): void }>;

/** Register the contract suite; returns the running s3rver for store-specific tests. */
export function describeBlobStoreContract(name: string, open: BlobStoreFactory): { s3(): LocalS3 } {
  let dir: string;
  let s3: LocalS3;
  let opened: { store: BlobStore; close(): void };
  let store: BlobStore;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-s3-test-'));
    s3 = await startLocalS3({ dir });
    opened = await open(s3);
    store = opened.store;
  });
  afterAll(async () => {
    opened?.close();
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe(`BlobStore contract: ${name}`, () => {
    it('reads back exactly the bytes of a 1 MB random object, directly and via a presigned GET', async () => {
      const bytes = new Uint8Array(randomBytes(1024 * 1024));
      await store.put('test/random.bin', bytes, { contentType: 'application/octet-stream' });
      expect(await store.head('test/random.bin')).toMatchObject({ size: bytes.length, contentType: 'application/octet-stream' });

      const direct = await store.get('test/random.bin');
      expect(direct!.length).toBe(bytes.length);
      expect(sha256(direct!)).toBe(sha256(bytes));

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

    it('signs presigned URLs as strict SigV4 storage checks them: one object, one method', async () => {
      for (const [method, url] of [
        ['GET', await store.presignGet('test/a dir/ü.bin', 60)],
        ['PUT', await store.presignPut('test/put.bin', 60)],
      ] as const) {
        const { host, pathname, search } = new URL(url);
        expect(checkPresigned({ method, url: pathname + search, host }, s3)).toBeNull();
        expect(checkPresigned({ method: method === 'GET' ? 'PUT' : 'GET', url: pathname + search, host }, s3)).not.toBeNull();
        expect(checkPresigned({ method, url: pathname.replace(/\.bin$/, '.other') + search, host }, s3)).not.toBeNull();
      }
    });

    it('signs a PUT for announced bytes with their checksum header: other headers fail the signature', async () => {
      const bytes = new Uint8Array(randomBytes(1000));
      const expect_ = { bytes: bytes.length, sha256: sha256(bytes) };
      const url = await store.presignPut('test/exact.bin', 60, expect_);
      const { host, pathname, search } = new URL(url);
      const headers = { ...presignedPutHeaders(expect_), 'content-length': String(bytes.length) };
      expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toContain('x-amz-checksum-sha256');
      expect(checkPresigned({ method: 'PUT', url: pathname + search, host, headers }, s3)).toBeNull();
      expect(checkPresigned({ method: 'PUT', url: pathname + search, host, headers: { ...headers, 'x-amz-checksum-sha256': 'AAAA' } }, s3)).not.toBeNull();
      expect(checkPresigned({ method: 'PUT', url: pathname + search, host, headers: {} }, s3)).not.toBeNull();
      const put = await fetch(url, { method: 'PUT', body: bytes, headers: presignedPutHeaders(expect_) });
      expect(put.status).toBe(200);
      expect(sha256((await store.get('test/exact.bin'))!)).toBe(sha256(bytes));
    });

    it('a PUT signed for announced bytes stores only them: storage refuses other bytes (BadDigest), HEAD answers the checksum it checked', async () => {
      const bytes = new Uint8Array(randomBytes(4096));
      const expect_ = { bytes: bytes.length, sha256: sha256(bytes), contentType: 'image/png' };
      const url = await store.presignPut('test/checked.png', 60, expect_);
      // Both the length and the checksum are signed headers (the gate and S3 refuse a request that changes either).
      expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')!.split(';')).toEqual(expect.arrayContaining(['content-length', 'x-amz-checksum-sha256', 'content-type']));
      const other = new Uint8Array(bytes);
      other[100] ^= 1;
      for (const [what, body] of [['same size, one bit flipped', other], ['longer', new Uint8Array(8192)], ['shorter', bytes.subarray(0, 100)]] as const) {
        const res = await fetch(url, { method: 'PUT', body, headers: presignedPutHeaders(expect_) });
        expect(res.status, what).toBe(400);
        expect(await res.text(), what).toMatch(/<Code>BadDigest<\/Code>/);
        expect(await store.head('test/checked.png'), what).toBeNull();
      }
      const ok = await fetch(url, { method: 'PUT', body: bytes, headers: presignedPutHeaders(expect_) });
      expect(ok.status).toBe(200);
      expect(await store.head('test/checked.png')).toEqual({ size: bytes.length, contentType: 'image/png', sha256: sha256(bytes) });
      // A later refused PUT leaves the stored object as it was.
      expect((await fetch(url, { method: 'PUT', body: other, headers: presignedPutHeaders(expect_) })).status).toBe(400);
      expect(sha256((await store.get('test/checked.png'))!)).toBe(sha256(bytes));
      // An object stored without a checksum reports none (the API then reads it back to check it).
      await store.put('test/unchecked.png', bytes);
      expect((await store.head('test/unchecked.png'))!.sha256).toBeUndefined();
    });

    it('copies an object in storage (keeping its checksum), false when the source is missing', async () => {
      const bytes = new Uint8Array(randomBytes(2048));
      const expect_ = { bytes: bytes.length, sha256: sha256(bytes), contentType: 'image/png' };
      expect((await fetch(await store.presignPut('test/copy a.png', 60, expect_), { method: 'PUT', body: bytes, headers: presignedPutHeaders(expect_) })).status).toBe(200);
      expect(await store.copy('test/copy a.png', 'test/copied/ü b.png')).toBe(true);
      expect(await store.head('test/copied/ü b.png')).toMatchObject({ size: bytes.length, contentType: 'image/png' });
      expect(sha256((await store.get('test/copied/ü b.png'))!)).toBe(sha256(bytes));
      expect(await store.copy('test/no such object', 'test/copied/none')).toBe(false);
      expect(await store.head('test/copied/none')).toBeNull();
    });

    it('lists the keys under a prefix', async () => {
      for (const k of ['list/a/1.png', 'list/a/ü 2.png', 'list/b/3.png']) await store.put(k, new Uint8Array([1]));
      expect((await store.list('list/a/')).sort()).toEqual(['list/a/1.png', 'list/a/ü 2.png']);
      expect(await store.list('list/none/')).toEqual([]);
    });

    it('refuses a presigned URL after it expires', async () => {
      await store.put('test/short.bin', new Uint8Array([1]));
      const url = await store.presignGet('test/short.bin', 1);
      await new Promise((r) => setTimeout(r, 2100));
      expect((await fetch(url)).status).toBe(403);
    });

    it('keeps keys with spaces and unicode', async () => {
      const key = 'test/a dir/ünï cödé+1.bin';
      await store.put(key, new Uint8Array([4, 5]));
      expect(await store.get(key)).toEqual(new Uint8Array([4, 5]));
      const res = await fetch(await store.presignGet(key, 60));
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([4, 5]));
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

    it('bounds a read by maxBytes: no more than one byte past it is read, a larger object is PAYLOAD_TOO_LARGE', async () => {
      const bytes = new Uint8Array(randomBytes(64 * 1024));
      await store.put('test/bounded.bin', bytes);
      expect(sha256((await store.get('test/bounded.bin', { maxBytes: bytes.length }))!)).toBe(sha256(bytes));
      const err = await store.get('test/bounded.bin', { maxBytes: bytes.length - 1 }).catch((e: unknown) => e);
      expect(isTesseraError(err, 'PAYLOAD_TOO_LARGE'), String(err)).toBe(true);
      await store.put('test/bounded-empty', new Uint8Array(0));
      expect((await store.get('test/bounded-empty', { maxBytes: 10 }))!.length).toBe(0);
      expect(await store.get('test/bounded-missing', { maxBytes: 10 })).toBeNull();
    });

    it('reports an unreachable service as STORAGE_FAILED with the cause kept', async () => {
      const dead = await open({ ...s3, endpoint: 'http://127.0.0.1:9' });
      try {
        const err = await dead.store.head('x').catch((e: unknown) => e);
        expect(isTesseraError(err, 'STORAGE_FAILED')).toBe(true);
        expect((err as Error).message).toMatch(/checking x/);
        expect((err as Error).cause).toBeDefined();
      } finally {
        dead.close();
      }
    });
  });
  return { s3: () => s3 };
}
