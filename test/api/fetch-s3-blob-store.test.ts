/** The BlobStore contract against the Workers store (fetch + aws4fetch), here on Node against s3rver. */
import { FetchS3BlobStore } from '../../api/edge/fetch-s3-blob-store.ts';
import { describeBlobStoreContract } from './blob-store-contract.ts';

describeBlobStoreContract('S3 (fetch + aws4fetch)', async (s3) => ({ store: new FetchS3BlobStore(s3), close() {} }));
