/**
 * A storage gate for tests: an HTTP proxy in front of s3rver that lets through only requests carrying a
 * valid SigV4 presigned query signature (right key, method, host, not expired), as S3, R2 and MinIO do.
 * s3rver itself does not check presigned signatures, so this is what lets a test prove that a node's URL
 * opens one object for one method, and nothing else; a PUT signed for announced bytes (content-length and
 * x-amz-checksum-sha256 as signed headers) passes only with exactly those bytes. Nodes only ever see presigned URLs, so the gate stands
 * where they reach storage (the store's public endpoint); the API's own calls go to s3rver directly.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SigV4Gate {
  url: string;
  /** Requests let through and refused, with the reason for each refusal. */
  passed: { method: string; path: string }[];
  refused: { method: string; path: string; reason: string }[];
  close(): Promise<void>;
}

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const hmac = (key: string | Buffer, s: string) => createHmac('sha256', key).update(s).digest();

/** Why the request's presigned signature is not valid, or null when it is. Signed headers are checked by value. */
export function checkPresigned(
  req: { method: string; url: string; host: string; headers?: Record<string, string | string[] | undefined> },
  credentials: { accessKeyId: string; secretAccessKey: string },
  now = Date.now(),
): string | null {
  const url = new URL(req.url, `http://${req.host}`);
  const q = url.searchParams;
  const signature = q.get('X-Amz-Signature');
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' || !signature) return 'not presigned';
  const credential = q.get('X-Amz-Credential') ?? '';
  const [accessKeyId, day, region, service, term] = credential.split('/');
  if (accessKeyId !== credentials.accessKeyId || term !== 'aws4_request') return 'unknown credential';
  const amzDate = q.get('X-Amz-Date') ?? '';
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m || !amzDate.startsWith(day)) return 'bad date';
  const signedAt = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  const expires = Number(q.get('X-Amz-Expires'));
  if (!(expires > 0) || now > signedAt + expires * 1000) return 'expired';
  const signedHeaders = (q.get('X-Amz-SignedHeaders') ?? '').split(';');
  const headerValue = (name: string) => {
    if (name === 'host') return req.host;
    const v = req.headers?.[name];
    return Array.isArray(v) ? v.join(',') : (v ?? '');
  };
  const query = [...q.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonical = [
    req.method,
    url.pathname,
    query,
    signedHeaders.map((h) => `${h}:${headerValue(h).trim()}\n`).join(''),
    signedHeaders.join(';'),
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), region), service), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex') === signature ? null : 'signature does not match';
}

/** Start the gate in front of `target` (an s3rver endpoint). */
export async function startSigV4Gate(target: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<SigV4Gate> {
  const to = new URL(target);
  const passed: SigV4Gate['passed'] = [];
  const refused: SigV4Gate['refused'] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0];
    const reason = checkPresigned({ method, url: req.url ?? '/', host: req.headers.host ?? '', headers: req.headers }, credentials);
    if (reason) {
      refused.push({ method, path, reason });
      req.resume();
      res.writeHead(403, { 'content-type': 'application/xml' }).end(`<Error><Code>AccessDenied</Code><Message>${reason}</Message></Error>`);
      return;
    }
    const forward = (body?: Buffer) => {
      passed.push({ method, path });
      const upstream = request({ host: to.hostname, port: to.port, method, path: req.url, headers: { ...req.headers, host: to.host } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      if (body) upstream.end(body);
      else req.pipe(upstream);
    };
    const checksum = req.headers['x-amz-checksum-sha256'];
    if (typeof checksum !== 'string') return forward();
    // As S3, R2 and MinIO do: a checked PUT names its length (signed, when the URL signs content-length), and a
    // body whose SHA-256 is not the one sent (and signed) is refused.
    const declared = req.headers['content-length'];
    if (declared === undefined) {
      refused.push({ method, path, reason: 'no content-length' });
      req.resume();
      res.writeHead(411, { 'content-type': 'application/xml' }).end('<Error><Code>MissingContentLength</Code><Message>You must provide the Content-Length HTTP header.</Message></Error>');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.length !== Number(declared)) {
        refused.push({ method, path, reason: 'incomplete body' });
        res.writeHead(400, { 'content-type': 'application/xml' }).end('<Error><Code>IncompleteBody</Code><Message>You did not provide the number of bytes specified by the Content-Length HTTP header.</Message></Error>');
        return;
      }
      const actual = createHash('sha256').update(body).digest('base64');
      if (actual !== checksum) {
        refused.push({ method, path, reason: 'checksum mismatch' });
        res.writeHead(400, { 'content-type': 'application/xml' }).end('<Error><Code>BadDigest</Code><Message>The SHA256 you specified did not match the calculated checksum.</Message></Error>');
        return;
      }
      forward(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    passed,
    refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
