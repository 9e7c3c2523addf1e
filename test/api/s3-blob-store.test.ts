/** The BlobStore contract against the Node store (AWS SDK v3), and its bucket creation. */
import { describe, expect, it } from 'vitest';
import { createS3BlobStore, S3BlobStore } from '../../api/node/s3-blob-store.ts';
import { describeBlobStoreContract } from './blob-store-contract.ts';

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
});
