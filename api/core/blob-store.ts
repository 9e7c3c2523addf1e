/**
 * The object storage port (S3, R2, MinIO, s3rver). Keys are plain relative paths like `scenes/<sha>.glb`.
 * Implementations turn their failures into TesseraError STORAGE_FAILED with the cause kept.
 */
export interface BlobStore {
  /** Store `body` under `key`, replacing what was there. */
  put(key: string, body: Uint8Array, options?: { contentType?: string }): Promise<void>;
  /** The object's bytes, or null when there is no such object. */
  get(key: string): Promise<Uint8Array | null>;
  /** The object's size, or null when there is no such object. */
  head(key: string): Promise<BlobHead | null>;
  /** Remove the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** A URL anyone may GET the object from for `expiresInSeconds`. */
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
  /** A URL anyone may PUT the object to for `expiresInSeconds`. */
  presignPut(key: string, expiresInSeconds: number): Promise<string>;
}

export interface BlobHead {
  size: number;
  contentType?: string;
}

/** Where an S3-compatible bucket is and how to sign for it; both S3 adapters (AWS SDK, aws4fetch) take it. */
export interface S3Endpoint {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The endpoint presigned URLs name, when nodes and clients reach storage by another address. */
  publicEndpoint?: string;
}
