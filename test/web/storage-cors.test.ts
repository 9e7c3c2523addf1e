/**
 * The local farm's storage lets the dashboard (another origin) read frames and PUT large scenes through presigned
 * URLs: s3rver answers CORS preflights and tags responses, as the README's bucket rule asks of R2/S3.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalS3, type LocalS3 } from '../../api/node/local-s3.ts';

const ORIGIN = 'http://127.0.0.1:8080';

describe('local S3 CORS for the dashboard', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3({ dir: mkdtempSync(join(tmpdir(), 'tessera-cors-')) });
  });
  afterAll(() => s3?.close());

  it('allows a cross-origin PUT with a content type (the SDK uploading a large scene)', async () => {
    const res = await fetch(`${s3.endpoint}/${s3.bucket}/scenes/x.glb`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toMatch(/^(\*|http:\/\/127\.0\.0\.1:8080)$/);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/PUT/);
  });

  it('allows a browser node\'s checked PUT (signed checksum and content type headers), and lets it read a refusal', async () => {
    const preflight = await fetch(`${s3.endpoint}/${s3.bucket}/jobs/j/tiles/0/0_0.t.a1.png`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type,x-amz-checksum-sha256' },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toMatch(/x-amz-checksum-sha256|\*/);
    const body = new Uint8Array([1, 2, 3]);
    const checksum = Buffer.from(await crypto.subtle.digest('SHA-256', body)).toString('base64');
    const put = await fetch(`${s3.endpoint}/${s3.bucket}/cors/ok.png`, { method: 'PUT', body, headers: { origin: ORIGIN, 'content-type': 'image/png', 'x-amz-checksum-sha256': checksum } });
    await put.arrayBuffer();
    expect(put.status).toBe(200);
    expect(put.headers.get('access-control-allow-origin')).toMatch(/^(\*|http:\/\/127\.0\.0\.1:8080)$/);
    const bad = await fetch(`${s3.endpoint}/${s3.bucket}/cors/bad.png`, { method: 'PUT', body: new Uint8Array([9, 9, 9]), headers: { origin: ORIGIN, 'content-type': 'image/png', 'x-amz-checksum-sha256': checksum } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('access-control-allow-origin')).toBe('*');
    expect(await bad.text()).toMatch(/<Code>BadDigest<\/Code>/);
  });

  it('tags GET answers so the page may read frame bytes (download, zip)', async () => {
    const res = await fetch(`${s3.endpoint}/${s3.bucket}/missing.png`, { headers: { origin: ORIGIN } });
    await res.arrayBuffer();
    expect(res.headers.get('access-control-allow-origin')).toMatch(/^(\*|http:\/\/127\.0\.0\.1:8080)$/);
  });
});
