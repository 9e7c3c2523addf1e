/**
 * Who may do what: client API keys (hashed, client/admin roles) versus node tokens, per-key scoping of
 * scenes and jobs, rate limits and quotas (429 + Retry-After). Real API and s3rver, plain HTTP.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tessera } from '../support/tessera-cli.ts';
import { call, ROOT, startHarness, TestNode, TEST_API_KEY, type Harness } from '../support/api-harness.ts';
import { expectError } from '../support/expect-error.ts';

let h: Harness;
const GLB = 'scenes/animated-trs.glb';

beforeAll(async () => {
  h = await startHarness({ api: { keyLimits: { client: { maxActiveJobs: 2 } } } });
});
afterAll(async () => {
  await h?.close();
});

/** Create a key with the test admin key; returns the new key. */
async function createKey(name: string, body: object = {}): Promise<{ key: string; keyId: string }> {
  const res = await call(h.url, 'POST', '/v1/keys', { json: { name, ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body).toMatchObject({ name, role: 'client', revokedAt: null });
  return res.body;
}

async function upload(token: string): Promise<string> {
  const bytes = await readFile(path.join(ROOT, GLB));
  const res = await call(h.url, 'POST', '/v1/scenes', { body: bytes, type: 'model/gltf-binary', token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.sceneId;
}

const submit = (token: string, sceneId: string) => call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', frames: '0' }, token });

describe('client API keys', () => {
  it('client routes need a key; health, the OpenAPI document and node registration do not', async () => {
    for (const [method, route] of [
      ['POST', '/v1/scenes'],
      ['POST', '/v1/jobs'],
      ['GET', '/v1/jobs/job_x'],
      ['GET', '/v1/jobs/job_x/frames'],
      ['GET', '/v1/nodes'],
      ['GET', '/v1/nodes/nearby'],
      ['GET', '/v1/keys'],
    ]) {
      expectError(await call(h.url, method, route, { token: null }), 'UNAUTHORIZED', /Authorization: Bearer/);
      expectError(await call(h.url, method, route, { token: 'tsk_' + '0'.repeat(64) }), 'UNAUTHORIZED', /not valid/);
    }
    expect((await call(h.url, 'GET', '/v1/health', { token: null })).status).toBe(200);
    const doc = await call(h.url, 'GET', '/v1/openapi.json', { token: null });
    expect(doc.status).toBe(200);
    expect(doc.body.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.body.paths['/v1/jobs'].post.security).toEqual([{ apiKey: [] }]);
    expect(doc.body.paths['/v1/nodes/{id}/lease'].post.security).toEqual([{ nodeToken: [] }]);
    const node = await TestNode.register(h, 'anyone');
    expect(node.id).toMatch(/^node_/);
  });

  it('node tokens and API keys are different roles: neither works in the other one\'s place', async () => {
    const node = await TestNode.register(h, 'roles');
    expectError(await call(h.url, 'GET', '/v1/nodes', { token: node.reg.nodeToken }), 'UNAUTHORIZED', /Node tokens are not API keys/);
    expectError(await call(h.url, 'POST', '/v1/jobs', { json: {}, token: node.reg.nodeToken }), 'UNAUTHORIZED');
    expectError(await call(h.url, 'POST', `/v1/nodes/${node.id}/lease`, { json: { waitSeconds: 0 }, token: TEST_API_KEY }), 'UNAUTHORIZED');
    expectError(await call(h.url, 'POST', `/v1/nodes/${node.id}/heartbeat`, { json: { leaseIds: [], load: 0 }, token: TEST_API_KEY }), 'UNAUTHORIZED');
  });

  it('a client sees only its own scenes and jobs; an admin sees all', async () => {
    const alice = await createKey('alice');
    const bob = await createKey('bob');
    const sceneId = await upload(alice.key);
    // Bob has not uploaded the scene: to him it does not exist.
    expectError(await submit(bob.key, sceneId), 'SCENE_UNKNOWN');
    const job = await submit(alice.key, sceneId);
    expect(job.status).toBe(201);
    const jobId = job.body.jobId;
    for (const route of [`/v1/jobs/${jobId}`, `/v1/jobs/${jobId}/frames`, `/v1/jobs/${jobId}/events`]) {
      expectError(await call(h.url, 'GET', route, { token: bob.key }), 'JOB_NOT_FOUND');
      expect((await call(h.url, 'GET', route === `/v1/jobs/${jobId}/events` ? `/v1/jobs/${jobId}` : route, { token: alice.key })).status).toBe(200);
    }
    expectError(await call(h.url, 'DELETE', `/v1/jobs/${jobId}`, { token: bob.key }), 'JOB_NOT_FOUND');
    expect((await call(h.url, 'GET', `/v1/jobs/${jobId}`)).status).toBe(200); // the test admin
    // Uploading the same bytes proves Bob has the scene: same id, and now he may use it.
    expect(await upload(bob.key)).toBe(sceneId);
    expect((await submit(bob.key, sceneId)).status).toBe(201);
    expect((await call(h.url, 'DELETE', `/v1/jobs/${jobId}`, { token: alice.key })).status).toBe(200);
  });

  it('only admins manage keys; keys are listed without secrets, stored hashed, and revoked keys stop working', async () => {
    const carol = await createKey('carol');
    expectError(await call(h.url, 'POST', '/v1/keys', { json: { name: 'x' }, token: carol.key }), 'FORBIDDEN', /admin/);
    expectError(await call(h.url, 'GET', '/v1/keys', { token: carol.key }), 'FORBIDDEN');
    expect((await call(h.url, 'GET', '/v1/keys/me', { token: carol.key })).body).toMatchObject({ keyId: carol.keyId, name: 'carol', role: 'client' });
    expectError(await call(h.url, 'POST', '/v1/keys', { json: { name: '', role: 'root' } }), 'BAD_REQUEST');

    const list = await call(h.url, 'GET', '/v1/keys');
    expect(list.body.keys.map((k: { name: string }) => k.name)).toContain('carol');
    expect(JSON.stringify(list.body)).not.toContain(carol.key);
    // Nothing the API keeps on disk holds a key: only hashes.
    for (const file of await readdir(path.join(h.dir, 'api'))) {
      const bytes = await readFile(path.join(h.dir, 'api', file));
      expect(bytes.includes(Buffer.from(carol.key)), file).toBe(false);
      expect(bytes.includes(Buffer.from(TEST_API_KEY)), file).toBe(false);
    }

    const revoked = await call(h.url, 'DELETE', `/v1/keys/${carol.keyId}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(Number));
    expectError(await call(h.url, 'GET', '/v1/keys/me', { token: carol.key }), 'UNAUTHORIZED', /revoked/);
    expectError(await call(h.url, 'DELETE', `/v1/keys/key_${'0'.repeat(24)}`), 'NOT_FOUND');
    expectError(await call(h.url, 'DELETE', '/v1/keys/../jobs'), 'NOT_FOUND');
  });

  it('limits each key\'s request rate: 429 RATE_LIMITED with Retry-After, other keys unaffected', async () => {
    const slow = await createKey('slow', { limits: { requestsPerMinute: 6, burst: 3 } });
    for (let i = 0; i < 3; i++) expect((await call(h.url, 'GET', '/v1/keys/me', { token: slow.key })).status).toBe(200);
    const refused = await call(h.url, 'GET', '/v1/keys/me', { token: slow.key });
    expectError(refused, 'RATE_LIMITED', /6 requests a minute/);
    // One token comes back every 10 s.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(9);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(10);
    expect((await call(h.url, 'GET', '/v1/keys/me')).status).toBe(200);
  });

  it('limits each key\'s active jobs: 429 QUOTA_EXCEEDED with Retry-After until one finishes', async () => {
    const dave = await createKey('dave');
    const sceneId = await upload(dave.key);
    const first = await submit(dave.key, sceneId);
    expect((await submit(dave.key, sceneId)).status).toBe(201);
    const third = await submit(dave.key, sceneId);
    expectError(third, 'QUOTA_EXCEEDED', /2 jobs queued or running/);
    expect(third.headers.get('retry-after')).toBe('30');
    expect((await call(h.url, 'DELETE', `/v1/jobs/${first.body.jobId}`, { token: dave.key })).status).toBe(200);
    expect((await submit(dave.key, sceneId)).status).toBe(201);
  });
});

describe('tessera keys', () => {
  it('creates, lists and revokes keys with the admin key from TESSERA_API_KEY', async () => {
    const created = await tessera('keys', 'create', '--api', h.url, '--name', 'cli user', '--max-active-jobs', '3');
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^tsk_[0-9a-f]{64}$/);
    const me = await call(h.url, 'GET', '/v1/keys/me', { token: key });
    expect(me.body).toMatchObject({ name: 'cli user', role: 'client', limits: { maxActiveJobs: 3 } });
    const listed = await tessera('keys', 'list', '--api', h.url);
    expect(listed.stdout).toMatch(new RegExp(`${me.body.keyId}\\s+client\\s+active\\s+cli user`));
    const revoked = await tessera('keys', 'revoke', me.body.keyId, '--api', h.url);
    expect(revoked.code, revoked.stderr).toBe(0);
    expectError(await call(h.url, 'GET', '/v1/keys/me', { token: key }), 'UNAUTHORIZED', /revoked/);
    // A client key may not create keys: the CLI says so and exits 2.
    const refused = await tessera('keys', 'create', '--api', h.url, '--name', 'x', '--api-key', (await createKey('plain')).key);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/FORBIDDEN/);
  });
});

describe('uploads', () => {
  it('a scene upload without a key is refused before its body is read', async () => {
    const res = await call(h.url, 'POST', '/v1/scenes', { body: new Uint8Array(8 * 1024 * 1024), type: 'model/gltf-binary', token: null });
    expectError(res, 'UNAUTHORIZED');
  });
});
