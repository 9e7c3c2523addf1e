/** The farm's storage as the Worker and the coordinator object reach it: the S3 API its bindings name. */
import { FetchS3BlobStore } from './fetch-s3-blob-store.ts';

/** A FetchS3BlobStore on the bucket `env` names (S3_* vars and secrets). */
export function createEdgeBlobStore(env: Env): FetchS3BlobStore {
  return new FetchS3BlobStore({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    bucket: env.S3_BUCKET,
    accessKeyId: env.S3_ACCESS_KEY_ID,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    publicEndpoint: env.S3_PUBLIC_ENDPOINT || undefined,
  });
}
