/**
 * The BlobStore on any S3 API (R2's S3 API, AWS S3, MinIO, s3rver) with fetch and aws4fetch's SigV4
 * signer: no SDK, so the Worker bundle stays small and presigning costs a few HMACs (docs/workers-edge.md: "Presigning:
 * aws4fetch" has the measurements against @aws-sdk/s3-request-presigner). Runtime-free: Workers and
 * Node 20 both have fetch and WebCrypto. Path-style URLs, as the Node store uses, so loopback servers work.
 */
import { AwsClient } from 'aws4fetch';
import { presignedPutHeaders, sha256HexFromBase64, tooLargeToRead, type BlobHead, type BlobStore, type ExpectedUpload, type GetOptions, type S3Endpoint } from '../core/blob-store.ts';
import { TesseraError } from '../protocol/errors.ts';
import { readAtMost } from '../protocol/read-at-most.ts';

export type FetchS3Config = S3Endpoint;

/** `a/b c.png` → `a/b%20c.png`: each segment encoded, the slashes kept. */
const encodeKey = (key: string): string => key.split('/').map(encodeURIComponent).join('/');

/** The BlobStore over one S3 bucket, spoken to with signed fetches. */
export class FetchS3BlobStore implements BlobStore {
  readonly #aws: AwsClient;
  readonly #base: string;
  readonly #publicBase: string;
  readonly #bucket: string;

  constructor(config: FetchS3Config) {
    // Retries stay with the caller (nodes and clients retry); aws4fetch's own would multiply subrequests.
    this.#aws = new AwsClient({ accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, service: 's3', region: config.region, retries: 0 });
    const base = (endpoint: string) => `${endpoint.replace(/\/+$/, '')}/${encodeURIComponent(config.bucket)}/`;
    this.#base = base(config.endpoint);
    this.#publicBase = base(config.publicEndpoint || config.endpoint);
    this.#bucket = config.bucket;
  }

  async put(key: string, body: Uint8Array, options?: { contentType?: string }): Promise<void> {
    const headers: Record<string, string> = { 'content-length': String(body.length) };
    if (options?.contentType) headers['content-type'] = options.contentType;
    const res = await this.#send('storing', key, { method: 'PUT', body: body as Uint8Array<ArrayBuffer>, headers });
    await this.#expectOk('storing', key, res);
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array | null> {
    const max = options?.maxBytes;
    const res = await this.#send('reading', key, { method: 'GET' });
    if (res.status === 404) return drained(res, null);
    await this.#expectOk('reading', key, res, false);
    if (max === undefined) return new Uint8Array(await res.arrayBuffer());
    const body = await readAtMost(res, max);
    if (!body) throw tooLargeToRead(key, max);
    return body;
  }

  async head(key: string): Promise<BlobHead | null> {
    // checksum-mode: the SHA-256 storage checked when the object was PUT with one (where the store reports it).
    const res = await this.#send('checking', key, { method: 'HEAD', headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    if (res.status === 404) return drained(res, null);
    await this.#expectOk('checking', key, res);
    const sha256 = sha256HexFromBase64(res.headers.get('x-amz-checksum-sha256'));
    return { size: Number(res.headers.get('content-length') ?? 0), contentType: res.headers.get('content-type') ?? undefined, ...(sha256 ? { sha256 } : {}) };
  }

  async copy(from: string, to: string): Promise<boolean> {
    const source = `/${encodeURIComponent(this.#bucket)}/${encodeKey(from)}`;
    const res = await this.#send('copying', `${from} to ${to}`, { method: 'PUT', headers: { 'x-amz-copy-source': source } }, to);
    if (res.status === 404) return drained(res, false);
    await this.#expectOk('copying', `${from} to ${to}`, res);
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const url = new URL(this.#base);
      url.searchParams.set('list-type', '2');
      url.searchParams.set('prefix', prefix);
      if (token) url.searchParams.set('continuation-token', token);
      let res: Response;
      try {
        res = await this.#aws.fetch(url.toString(), { method: 'GET' });
      } catch (err) {
        throw failed(`listing ${prefix}`, err);
      }
      await this.#expectOk('listing', prefix, res, false);
      const xml = await res.text();
      for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(unescapeXml(m[1]));
      token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? unescapeXml(/<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1] ?? '') || undefined : undefined;
    } while (token);
    return keys;
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
    // Both signed headers: the checksum (storage refuses another body) and the length (aws4fetch leaves
    // content-length unsigned unless told to sign every header it is given).
    return this.#presign('PUT', key, expiresInSeconds, expect ? { ...presignedPutHeaders(expect), 'content-length': String(expect.bytes) } : undefined);
  }

  async #presign(method: 'GET' | 'PUT', key: string, expiresInSeconds: number, headers?: Record<string, string>): Promise<string> {
    const url = new URL(this.#publicBase + encodeKey(key));
    url.searchParams.set('X-Amz-Expires', String(Math.max(1, Math.min(604_800, Math.round(expiresInSeconds)))));
    try {
      return (await this.#aws.sign(url.toString(), { method, headers, aws: { signQuery: true, allHeaders: headers !== undefined } })).url;
    } catch (err) {
      throw failed(`presigning ${key}`, err);
    }
  }

  async #send(what: string, key: string, init: RequestInit, target = key): Promise<Response> {
    try {
      return await this.#aws.fetch(this.#base + encodeKey(target), init);
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

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
}

async function drained<T>(res: Response, value: T): Promise<T> {
  await res.body?.cancel();
  return value;
}

function failed(what: string, err: unknown): TesseraError {
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new TesseraError('STORAGE_FAILED', `Storage failed ${what}: ${detail}`, { cause: err });
}

