/**
 * The Node store's presigner (sync-query-signer.ts) signs exactly as aws4fetch does (the Workers store's signer,
 * checked against S3, R2 and s3rver): the same URL, byte for byte, for GETs and for PUTs with signed headers.
 */
import { AwsClient } from 'aws4fetch';
import { describe, expect, it } from 'vitest';
import { SyncQuerySigner } from '../../api/node/sync-query-signer.ts';

const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', region: 'eu-west-3' };

describe('SyncQuerySigner', () => {
  it('presigns the same URLs as aws4fetch', async () => {
    const aws = new AwsClient({ ...creds, service: 's3', retries: 0 });
    const cases: { url: string; method: string; headers?: Record<string, string> }[] = [
      { url: 'http://127.0.0.1:9000/tessera/scenes/scene_1%2Bx/scene.glb?X-Amz-Expires=900', method: 'GET' },
      { url: "https://acct.r2.cloudflarestorage.com/tessera/jobs/j%20b/frame-0001(1)!'*.png?X-Amz-Expires=60", method: 'GET' },
      {
        url: 'http://127.0.0.1:9000/tessera/jobs/job_1/attempts/t.1.a1.abc.png?X-Amz-Expires=300',
        method: 'PUT',
        headers: { 'content-type': 'image/png', 'x-amz-checksum-sha256': 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=', 'x-amz-sdk-checksum-algorithm': 'SHA256', 'content-length': '1234' },
      },
    ];
    for (const datetime of ['20261206T220501Z', '20270101T000000Z']) {
      for (const c of cases) {
        const allHeaders = c.headers !== undefined;
        const theirs = (await aws.sign(c.url, { method: c.method, headers: c.headers, aws: { signQuery: true, allHeaders, datetime } })).url;
        const ours = (await new SyncQuerySigner({ url: c.url, method: c.method, headers: c.headers, ...creds, service: 's3', allHeaders, datetime }).sign()).url.toString();
        expect(ours).toBe(theirs);
        expect(ours).toMatch(/X-Amz-Signature=[0-9a-f]{64}/);
      }
    }
  });
});

describe('upload tokens signed with a synchronous HMAC', () => {
  it('are the tokens WebCrypto signs, and the upload route checks them alike', async () => {
    const { createHmac } = await import('node:crypto');
    const { checkUploadToken, mintUploadToken } = await import('../../api/core/upload-capability.ts');
    const key = new Uint8Array(32).map((_, i) => i * 7);
    const grant = { taskId: 'job_1.t', leaseId: 'lease_1', nodeId: 'node_1', key: 'jobs/job_1/attempts/t.1', attempt: 1, outputKey: 'jobs/job_1/frames/0.png', maxBytes: 1000, expiresAt: 2_000_000_000_000 };
    const sync = await mintUploadToken(key, grant, (k, d) => new Uint8Array(createHmac('sha256', k).update(d).digest()));
    expect(sync).toBe(await mintUploadToken(key, grant));
    expect(await checkUploadToken(key, sync, grant.taskId, 1_000)).toEqual(grant);
  });
});
