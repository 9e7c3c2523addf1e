/**
 * The BlobStore on any S3-compatible service (AWS S3, Cloudflare R2, MinIO, s3rver) with the AWS SDK v3; its
 * presigned URLs are signed as aws4fetch signs them (SigV4 query signing, as the Workers store does: several times
 * cheaper), with node:crypto's synchronous hashes (sync-query-signer.ts).
 *
 * Checksums are computed and validated only when an operation requires them: otherwise the SDK sends
 * bodies `aws-chunked` with trailing checksums, which s3rver stores inside the object (verified here),
 * and presigned URLs would carry checksum parameters a plain PUT cannot satisfy. Path-style addressing
 * works with every server, including loopback ones without DNS for bucket subdomains.
 *
 * Every call is retried here (bounded, backoff with full jitter) on 5xx, 429 and network failures, the
 * response body read included: the SDK's own retries stop at the response headers, and its retry quota
 * runs dry when storage fails often for a while, so the SDK makes one attempt per try.
 */
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { isTesseraError, TesseraError } from '../protocol/errors.ts';
import { RetriesExhaustedError, withRetries, type RetryOptions } from '../protocol/with-retries.ts';
import { SyncQuerySigner } from './sync-query-signer.ts';
import { presignedPutHeaders, sha256HexFromBase64, tooLargeToRead, type BlobHead, type BlobStore, type ExpectedUpload, type GetOptions, type S3Endpoint } from '../core/blob-store.ts';

export interface S3Config extends S3Endpoint {
  /** Tries per storage call (default {@link RETRY_DEFAULTS}.attempts). */
  attempts?: number;
}

function client(config: S3Config, endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: config.region,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    forcePathStyle: true,
    // One try per send: retries happen around the whole call, body read included (see the file comment).
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A failure that may go away: 5xx, 429 or no answer at all (reset, refused, timeout, cut body). */
function isTransient(err: unknown): boolean {
  if (isTesseraError(err)) return false; // our own verdict on what storage sent (a bounded read's PAYLOAD_TOO_LARGE)
  if (err instanceof S3ServiceException) {
    const status = err.$metadata.httpStatusCode ?? 0;
    return status >= 500 || status === 429 || status === 0;
  }
  return true;
}

function isNotFound(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  return err.$metadata.httpStatusCode === 404 || err.name === 'NoSuchKey' || err.name === 'NotFound' || err.name === 'NoSuchBucket';
}

/** The BlobStore over one S3 bucket. */
export class S3BlobStore implements BlobStore {
  readonly #s3: S3Client;
  /**
   * Presigning is SigV4 query signing, a few HMACs: aws4fetch's canonical request (as the Workers store uses) with
   * node:crypto's synchronous hashes costs a few hundredths of a millisecond a URL and never yields to the event loop,
   * where the SDK's presigner costs 1–3 ms on a busy machine and WebCrypto's hashes each take a thread-pool trip.
   */
  readonly #credentials: { accessKeyId: string; secretAccessKey: string; region: string };
  /** `<public endpoint>/<bucket>/`: where presigned URLs point (path-style, as the SDK's requests). */
  readonly #publicBase: string;
  readonly #bucket: string;
  readonly #retry: RetryOptions;

  constructor(config: S3Config) {
    this.#s3 = client(config, config.endpoint);
    this.#credentials = { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, region: config.region };
    this.#publicBase = `${(config.publicEndpoint || config.endpoint).replace(/\/+$/, '')}/${encodeURIComponent(config.bucket)}/`;
    this.#bucket = config.bucket;
    this.#retry = { attempts: config.attempts, retryable: isTransient };
  }

  /** One storage call, retried while it fails transiently. */
  #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetries(what, fn, this.#retry);
  }

  /** Create the bucket unless it exists. */
  async ensureBucket(): Promise<void> {
    try {
      await this.#call(`checking bucket ${this.#bucket}`, () => this.#s3.send(new HeadBucketCommand({ Bucket: this.#bucket })));
    } catch (err) {
      if (!isNotFound(err)) throw this.#failed(`checking bucket ${this.#bucket}`, err);
      try {
        await this.#call(`creating bucket ${this.#bucket}`, () => this.#s3.send(new CreateBucketCommand({ Bucket: this.#bucket })));
      } catch (createErr) {
        const name = (createErr as Error).name;
        // Another API instance may have created it in between.
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw this.#failed(`creating bucket ${this.#bucket}`, createErr);
      }
    }
  }

  async put(key: string, body: Uint8Array, options?: { contentType?: string }): Promise<void> {
    try {
      await this.#call(`storing ${key}`, () =>
        this.#s3.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: body, ContentLength: body.length, ContentType: options?.contentType })),
      );
    } catch (err) {
      throw this.#failed(`storing ${key}`, err);
    }
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array | null> {
    const max = options?.maxBytes;
    try {
      return await this.#call(`reading ${key}`, async () => {
        const out = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
        // The length of what this GET sends (checked against the body below): refused before a byte of it is read.
        // S3 always names it; a bounded read of a body without one is refused rather than read blind.
        if (max !== undefined && (out.ContentLength === undefined || out.ContentLength > max)) {
          await out.Body?.transformToWebStream().cancel().catch(() => {});
          throw tooLargeToRead(key, max);
        }
        const bytes = out.Body ? await out.Body.transformToByteArray() : new Uint8Array(0);
        // A connection cut mid-body can end the stream early without an error: that is a failed read too.
        if (out.ContentLength !== undefined && bytes.length !== out.ContentLength) {
          throw new Error(`the body of ${key} ended after ${bytes.length} of ${out.ContentLength} bytes`);
        }
        return bytes;
      });
    } catch (err) {
      if (isNotFound(err)) return null;
      if (isTesseraError(err, 'PAYLOAD_TOO_LARGE')) throw err;
      throw this.#failed(`reading ${key}`, err);
    }
  }

  async head(key: string): Promise<BlobHead | null> {
    try {
      // ChecksumMode: the SHA-256 storage checked when the object was PUT with one (S3, MinIO, the local s3rver).
      const out = await this.#call(`checking ${key}`, () => this.#s3.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key, ChecksumMode: 'ENABLED' })));
      const sha256 = sha256HexFromBase64(out.ChecksumSHA256);
      return { size: out.ContentLength ?? 0, contentType: out.ContentType, ...(sha256 ? { sha256 } : {}) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.#failed(`checking ${key}`, err);
    }
  }

  async copy(from: string, to: string): Promise<boolean> {
    try {
      const source = `${this.#bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
      await this.#call(`copying ${from} to ${to}`, () => this.#s3.send(new CopyObjectCommand({ Bucket: this.#bucket, Key: to, CopySource: source })));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.#failed(`copying ${from} to ${to}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.#call(`listing ${prefix}`, () =>
          this.#s3.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken: token })),
        );
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.#failed(`listing ${prefix}`, err);
    }
    return keys;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#call(`deleting ${key}`, () => this.#s3.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key })));
    } catch (err) {
      if (!isNotFound(err)) throw this.#failed(`deleting ${key}`, err);
    }
  }

  presignGet(key: string, expiresInSeconds: number): Promise<string> {
    return this.#presign('GET', key, expiresInSeconds);
  }

  presignPut(key: string, expiresInSeconds: number, expect?: ExpectedUpload): Promise<string> {
    // The length, the SHA-256 and the type stay headers (signed), not query parameters: storage checks the body against them.
    return this.#presign('PUT', key, expiresInSeconds, expect ? { ...presignedPutHeaders(expect), 'content-length': String(expect.bytes) } : undefined);
  }

  /** Release the SDK's sockets. */
  close(): void {
    this.#s3.destroy();
  }

  async #presign(method: 'GET' | 'PUT', key: string, expiresInSeconds: number, headers?: Record<string, string>): Promise<string> {
    const url = new URL(this.#publicBase + key.split('/').map(encodeURIComponent).join('/'));
    url.searchParams.set('X-Amz-Expires', String(Math.max(1, Math.min(604_800, Math.round(expiresInSeconds)))));
    try {
      const signer = new SyncQuerySigner({ url: url.toString(), method, headers, ...this.#credentials, service: 's3', allHeaders: headers !== undefined });
      return (await signer.sign()).url.toString();
    } catch (err) {
      throw this.#failed(`presigning ${key}`, err);
    }
  }

  #failed(what: string, err: unknown): TesseraError {
    if (err instanceof RetriesExhaustedError) return new TesseraError('STORAGE_FAILED', `Storage failed: ${err.message}`, { cause: err });
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return new TesseraError('STORAGE_FAILED', `Storage failed ${what}: ${detail}`, { cause: err });
  }
}

/** An S3BlobStore whose bucket exists. */
export async function createS3BlobStore(config: S3Config): Promise<S3BlobStore> {
  const store = new S3BlobStore(config);
  await store.ensureBucket();
  return store;
}
