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

  it('tags GET answers so the page may read frame bytes (download, zip)', async () => {
    const res = await fetch(`${s3.endpoint}/${s3.bucket}/missing.png`, { headers: { origin: ORIGIN } });
    await res.arrayBuffer();
    expect(res.headers.get('access-control-allow-origin')).toMatch(/^(\*|http:\/\/127\.0\.0\.1:8080)$/);
  });
});
