/**
 * An S3-compatible server in this process (s3rver) on loopback, for tests and a one-machine farm.
 * Its credentials are s3rver's fixed ones; it accepts path-style requests and presigned URLs. Uploads with
 * `x-amz-checksum-sha256` are checked as S3 checks them (s3rver-checksums.ts), so the farm's storage-verified
 * outputs are verified here too.
 */
import { mkdir } from 'node:fs/promises';
import S3rver from 's3rver';
import { s3rverChecksums } from './s3rver-checksums.ts';

export interface LocalS3Options {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Where objects are kept. */
  dir: string;
  /** Bucket created at start. */
  bucket?: string;
}

export interface LocalS3 {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  close(): Promise<void>;
}

/**
 * Browsers (the web dashboard) fetch frames and PUT large scenes straight to storage through presigned URLs, from
 * the API's origin: the bucket must allow that cross-origin. Loopback only, so any origin; on R2/S3 allow your
 * dashboard's origin (README, "Web dashboard").
 */
const BROWSER_CORS = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>600</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`;

/** Start s3rver on 127.0.0.1 with one bucket. */
export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const bucket = options.bucket ?? 'tessera';
  await mkdir(options.dir, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory: options.dir,
    configureBuckets: [{ name: bucket, configs: [BROWSER_CORS] }],
  });
  // First in s3rver's Koa stack (composed when it starts listening): the body is checked before s3rver stores it.
  server.middleware.unshift(s3rverChecksums());
  const address = await server.run();
  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    region: 'us-east-1',
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    close() {
      if (!closed) {
        closed = server.close();
        // Keep-alive sockets from SDK clients would hold close() open; drop them.
        server.httpServer?.closeAllConnections();
      }
      return closed;
    },
  };
}
