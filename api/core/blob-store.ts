import { TesseraError } from '../protocol/errors.ts';

/**
 * The object storage port (S3, R2, MinIO, s3rver). Keys are plain relative paths like `scenes/<sha>.glb`.
 * Implementations turn their failures into TesseraError STORAGE_FAILED with the cause kept.
 */
export interface BlobStore {
  /** Store `body` under `key`, replacing what was there. */
  put(key: string, body: Uint8Array, options?: { contentType?: string }): Promise<void>;
  /**
   * The object's bytes, or null when there is no such object. With `maxBytes`, the read itself is bounded: an object
   * whose GET answers a larger length, or whose body runs past `maxBytes`, throws PAYLOAD_TOO_LARGE (see
   * {@link tooLargeToRead}) with no more than that held, whatever an earlier HEAD said, since anyone holding an unsized
   * presigned PUT URL may replace the object in between. (Not a ranged GET: s3rver resets a range of an empty object.)
   */
  get(key: string, options?: GetOptions): Promise<Uint8Array | null>;
  /**
   * The object's size (and the SHA-256 storage verified when it was PUT with `x-amz-checksum-sha256`, where the
   * store reports it), or null when there is no such object.
   */
  head(key: string): Promise<BlobHead | null>;
  /** Copy an object inside the bucket, in storage (no bytes pass through the caller); false when `from` is missing. */
  copy(from: string, to: string): Promise<boolean>;
  /** Keys under `prefix` (every page), for cleaning up. */
  list(prefix: string): Promise<string[]>;
  /** Remove the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** A URL anyone may GET the object from for `expiresInSeconds`. */
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
  /**
   * A URL anyone may PUT the object to for `expiresInSeconds`. With `expect`, the URL is signed for exactly
   * those bytes: their SHA-256 as `x-amz-checksum-sha256` (S3, R2 and MinIO refuse a body that does not match,
   * which also pins its length) and the `content-length`, both signed headers. The uploader must then send
   * the headers `presignedPutHeaders(expect)` names (and the body's own length).
   */
  presignPut(key: string, expiresInSeconds: number, expect?: ExpectedUpload): Promise<string>;
}

export interface GetOptions {
  /** Refuse (PAYLOAD_TOO_LARGE) an object larger than this, holding no more than this of it. */
  maxBytes?: number;
}

/** The error for an object larger than a bounded read allows. */
export function tooLargeToRead(key: string, maxBytes: number): TesseraError {
  return new TesseraError('PAYLOAD_TOO_LARGE', `The object ${key} is larger than the ${maxBytes} bytes allowed here.`);
}

/** What a presigned PUT must carry: its exact length and SHA-256 (hex), and the content type it is stored with. */
export interface ExpectedUpload {
  bytes: number;
  sha256: string;
  contentType?: string;
}

/** The checksum header value S3 expects: the SHA-256 in base64. */
export function sha256Base64(hex: string): string {
  let binary = '';
  for (let i = 0; i < hex.length; i += 2) binary += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return btoa(binary);
}

/** The headers an uploader must send with a PUT presigned for `expect`. */
export function presignedPutHeaders(expect: ExpectedUpload): Record<string, string> {
  return { 'x-amz-checksum-sha256': sha256Base64(expect.sha256), ...(expect.contentType ? { 'content-type': expect.contentType } : {}) };
}

export interface BlobHead {
  size: number;
  contentType?: string;
  /** SHA-256 (hex) of the object as storage checked it on upload; absent when the store does not report one. */
  sha256?: string;
}

/** The hex form of a base64 SHA-256 (`x-amz-checksum-sha256`), or undefined when it is not one. */
export function sha256HexFromBase64(b64: string | null | undefined): string | undefined {
  if (!b64) return undefined;
  let binary: string;
  try {
    binary = atob(b64);
  } catch {
    return undefined;
  }
  if (binary.length !== 32) return undefined;
  let hex = '';
  for (let i = 0; i < binary.length; i++) hex += binary.charCodeAt(i).toString(16).padStart(2, '0');
  return hex;
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
