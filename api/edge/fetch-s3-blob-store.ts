/**
 * The BlobStore on any S3 API (R2's S3 API, AWS S3, MinIO, s3rver) with fetch and aws4fetch's SigV4
 * signer: no SDK, so the Worker bundle stays small and presigning costs a few HMACs (README: "Presigning
 * in the Worker" has the measurements against @aws-sdk/s3-request-presigner). Runtime-free: Workers and
 * Node 20 both have fetch and WebCrypto. Path-style URLs, as the Node store uses, so loopback servers work.
 */
import { AwsClient } from 'aws4fetch';
import { presignedPutHeaders, type BlobHead, type BlobStore, type ExpectedUpload, type S3Endpoint } from '../core/blob-store.ts';
import { TesseraError } from '../protocol/errors.ts';

export type FetchS3Config = S3Endpoint;

/** `a/b c.png` → `a/b%20c.png`: each segment encoded, the slashes kept. */
const encodeKey = (key: string): string => key.split('/').map(encodeURIComponent).join('/');

/** The BlobStore over one S3 bucket, spoken to with signed fetches. */
export class FetchS3BlobStore implements BlobStore {
  readonly #aws: AwsClient;
  readonly #base: string;
  readonly #publicBase: string;

  constructor(config: FetchS3Config) {
    // Retries stay with the caller (nodes and clients retry); aws4fetch's own would multiply subrequests.
    this.#aws = new AwsClient({ accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, service: 's3', region: config.region, retries: 0 });
    const base = (endpoint: string) => `${endpoint.replace(/\/+$/, '')}/${encodeURIComponent(config.bucket)}/`;
    this.#base = base(config.endpoint);
    this.#publicBase = base(config.publicEndpoint || config.endpoint);
  }

  async put(key: string, body: Uint8Array, options?: { contentType?: string }): Promise<void> {
    const headers: Record<string, string> = { 'content-length': String(body.length) };
    if (options?.contentType) headers['content-type'] = options.contentType;
    const res = await this.#send('storing', key, { method: 'PUT', body: body as Uint8Array<ArrayBuffer>, headers });
    await this.#expectOk('storing', key, res);
  }

  async get(key: string): Promise<Uint8Array | null> {
    const res = await this.#send('reading', key, { method: 'GET' });
    if (res.status === 404) return drained(res, null);
    await this.#expectOk('reading', key, res, false);
    return new Uint8Array(await res.arrayBuffer());
  }

  async head(key: string): Promise<BlobHead | null> {
    const res = await this.#send('checking', key, { method: 'HEAD' });
    if (res.status === 404) return drained(res, null);
    await this.#expectOk('checking', key, res);
    return { size: Number(res.headers.get('content-length') ?? 0), contentType: res.headers.get('content-type') ?? undefined };
  }

  async delete(key: string): Promise<void> {
    const res = await this.#send('deleting', key, { method: 'DELETE' });
    if (res.status === 404) return drained(res, undefined);
    await this.#expectOk('deleting', key, res);
  }

  presignGet(key: string, expiresInSeconds: number): Promise<string> {
    return this.#presign('GET', key, expiresInSeconds);
  }

  presignPut(key: string, expiresInSeconds: number, expect?: ExpectedUpload): Promise<string> {
    // aws4fetch never signs content-length; the signed checksum pins the body (and so its length) instead.
    return this.#presign('PUT', key, expiresInSeconds, expect ? presignedPutHeaders(expect) : undefined);
  }

  async #presign(method: 'GET' | 'PUT', key: string, expiresInSeconds: number, headers?: Record<string, string>): Promise<string> {
    const url = new URL(this.#publicBase + encodeKey(key));
    url.searchParams.set('X-Amz-Expires', String(Math.max(1, Math.min(604_800, Math.round(expiresInSeconds)))));
    try {
      return (await this.#aws.sign(url.toString(), { method, headers, aws: { signQuery: true } })).url;
    } catch (err) {
      throw failed(`presigning ${key}`, err);
    }
  }

  async #send(what: string, key: string, init: RequestInit): Promise<Response> {
    try {
      return await this.#aws.fetch(this.#base + encodeKey(key), init);
    } catch (err) {
      throw failed(`${what} ${key}`, err);
    }
  }

  async #expectOk(what: string, key: string, res: Response, drain = true): Promise<void> {
    if (res.ok) {
      if (drain) await res.body?.cancel();
      return;
    }
    const text = await res.text().catch(() => '');
    const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
    throw failed(`${what} ${key}`, new Error(`HTTP ${res.status}${code ? ` ${code}` : ''}`));
  }
}

async function drained<T>(res: Response, value: T): Promise<T> {
  await res.body?.cancel();
  return value;
}

function failed(what: string, err: unknown): TesseraError {
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new TesseraError('STORAGE_FAILED', `Storage failed ${what}: ${detail}`, { cause: err });
}
