/**
 * The BlobStore contract against the Node store (AWS SDK v3), its bucket creation, and its retries: through
 * a proxy that fails requests (500, 503, resets) every call still succeeds, and one that always fails is a
 * named STORAGE_FAILED after a bounded number of attempts.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../api/protocol/errors.ts';
import { createS3BlobStore, S3BlobStore } from '../../api/node/s3-blob-store.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { describeBlobStoreContract } from './blob-store-contract.ts';
import { sha256 } from '../support/api-harness.ts';

const running = describeBlobStoreContract('S3 (AWS SDK v3)', async (s3) => {
  // The unreachable endpoint has no bucket to check: construct without ensureBucket there.
  const store = s3.endpoint.endsWith(':9') ? new S3BlobStore(s3) : await createS3BlobStore(s3);
  return { store, close: () => store.close() };
});

describe('S3 blob store (AWS SDK v3)', () => {
  it('creates its bucket when missing', async () => {
    const s3 = running.s3();
    const fresh = await createS3BlobStore({ ...s3, bucket: 'fresh-bucket' });
    try {
      await fresh.put('a', new Uint8Array([7]));
      expect(await fresh.get('a')).toEqual(new Uint8Array([7]));
      await createS3BlobStore({ ...s3, bucket: 'fresh-bucket' }).then((again) => again.close());
    } finally {
      fresh.close();
    }
  });

  it('retries 500, 503 and resets (before and after the store acted) on put, head, get and delete', async () => {
    const s3 = running.s3();
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
    const s3 = running.s3();
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
