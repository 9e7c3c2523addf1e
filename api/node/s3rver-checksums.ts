/**
 * What S3, R2 and MinIO do with `x-amz-checksum-sha256` and s3rver does not: a Koa middleware put in front of
 * s3rver's own (local-s3.ts), so the local store refuses an upload the way real storage does and the farm's
 * report-then-upload path is proven on it.
 * - PUT with `x-amz-checksum-sha256`: the body must be exactly `content-length` bytes (a request without one is
 *   `411 MissingContentLength`, as S3 answers) and hash to that SHA-256, else `400 BadDigest` with S3's XML and
 *   nothing is stored (an older object under the key stays). A body over MAX_CHECKED_BYTES is `400
 *   EntityTooLarge` before it is read.
 * - The checksum is kept with the object, and HEAD/GET with `x-amz-checksum-mode: ENABLED` answer it in
 *   `x-amz-checksum-sha256`, as S3 does for a single-part object; a later PUT without one clears it. A copy
 *   keeps it (s3rver copies metadata).
 * Signatures are not checked here (s3rver does not check presigned ones; test/support/sigv4-gate.ts does).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';

/** The largest body this local store checks (and so accepts) with a checksum; S3's own single-PUT limit is 5 GiB. */
export const MAX_CHECKED_BYTES = 1024 * 1024 * 1024;

/** Where the checked checksum is kept with the object (s3rver keeps `x-amz-meta-*` headers); never answered as is. */
const META = 'x-amz-meta-tessera-checksum-sha256';

interface KoaContext {
  method: string;
  path: string;
  req: IncomingMessage;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
  get(name: string): string;
  set(name: string, value: string): void;
  remove(name: string): void;
  response: { get(name: string): string };
}

function s3Error(ctx: KoaContext, status: number, code: string, message: string): void {
  ctx.status = status;
  // The local bucket allows any origin (local-s3.ts): a browser node reads the refusal rather than a network error.
  if (ctx.get('origin')) ctx.set('Access-Control-Allow-Origin', '*');
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

/** Read the request body, at most `limit` bytes (more is an error). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.destroy();
        reject(new Error(`body over ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The middleware; `unshift` it onto s3rver's Koa stack before the server starts. */
export function s3rverChecksums() {
  return async function checksums(ctx: KoaContext, next: () => Promise<void>): Promise<void> {
    const claimed = ctx.get('x-amz-checksum-sha256');
    if (ctx.method === 'PUT' && !ctx.get('x-amz-copy-source')) {
      // Only the store writes this header; an uploader sending it would forge a checked checksum.
      delete ctx.req.headers[META];
      if (claimed) {
        const declared = ctx.get('content-length');
        if (!declared) return s3Error(ctx, 411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
        const length = Number(declared);
        if (!Number.isSafeInteger(length) || length > MAX_CHECKED_BYTES) {
          ctx.req.resume();
          return s3Error(ctx, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.');
        }
        let body: Buffer;
        try {
          body = await readBody(ctx.req, length);
        } catch {
          return s3Error(ctx, 400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.');
        }
        if (body.length !== length) return s3Error(ctx, 400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.');
        if (createHash('sha256').update(body).digest('base64') !== claimed) {
          return s3Error(ctx, 400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');
        }
        ctx.req.headers[META] = claimed;
        // s3rver reads the object from ctx.req: hand it the checked bytes.
        const checked = Readable.from([body]) as unknown as IncomingMessage;
        checked.headers = ctx.req.headers;
        ctx.req = checked;
      }
      return next();
    }
    await next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return;
    const kept = ctx.response.get(META);
    if (!kept) return;
    ctx.remove(META);
    if (ctx.get('x-amz-checksum-mode').toUpperCase() === 'ENABLED') ctx.set('x-amz-checksum-sha256', kept);
  };
}
