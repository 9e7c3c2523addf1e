/**
 * Red team: a node that reports one output and uploads another. Outputs are reported first (size and sha256,
 * `POST /v1/tasks/:id/upload`) and go up through a PUT signed for exactly those bytes, so storage refuses any other
 * body, as S3, R2 and MinIO do: here storage is s3rver behind a gate that checks SigV4 signatures (signed
 * content-length and checksum included) and checksums, and s3rver itself checks checksums too. Each attack is
 * refused by storage or by the API before any URL exists; the task is never completed with it; the node is credited
 * nothing for it; and an honest node's output of the same task completes with the right bytes.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxOutputBytes } from '../../api/core/accept-output.ts';
import { createS3BlobStore, type S3BlobStore } from '../../api/node/s3-blob-store.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import { call, fakePng, startHarness, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';
import { startSigV4Gate, type SigV4Gate } from '../support/sigv4-gate.ts';

let h: Harness;
let gate: SigV4Gate;
let store: S3BlobStore;
let sceneId: string;
beforeAll(async () => {
  h = await startHarness({
    // Short leases and retries, so a task a liar holds comes back quickly.
    leaseMs: 1500,
    api: { policy: { retryBaseMs: 50, retryMaxMs: 200, maxAttempts: 20 } },
    storageFront: async (s3) => (gate = await startSigV4Gate(s3.endpoint, s3)),
  });
  store = await createS3BlobStore(h.s3);
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterAll(async () => {
  store?.close();
  await h?.close();
});

/** Submit a one-task job (16×16, one frame) and lease its task to `node`. */
async function oneTask(node: TestNode): Promise<{ jobId: string; task: LeasedTask }> {
  const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0' } });
  expect(job.status).toBe(201);
  const task = (await node.lease(0))!;
  expect(task.jobId).toBe(job.body.jobId);
  return { jobId: job.body.jobId, task };
}

/** After the liar's attack: the task is not done, it goes to an honest node, whose output completes the job. */
async function honestFinishes(jobId: string, liar: TestNode, honest: TestNode, taskId: string): Promise<void> {
  const before = await call(h.url, 'GET', `/v1/jobs/${jobId}`);
  expect(before.body.tasks.find((t: { taskId: string }) => t.taskId === taskId).state).not.toBe('done');
  let again: LeasedTask | null = null;
  for (const deadline = Date.now() + 15_000; !again && Date.now() < deadline; ) again = await honest.lease(1);
  expect(again?.taskId).toBe(taskId);
  const good = fakePng(`honest ${taskId}`);
  expect((await honest.finish(again!, good)).body).toMatchObject({ jobState: 'done' });
  const frames = await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`);
  expect(new Uint8Array(await (await fetch(frames.body.frames[0].url)).arrayBuffer())).toEqual(good);
  // Nothing was credited to the liar for this job.
  const ledger = await call(h.url, 'GET', `/v1/jobs/${jobId}/ledger`);
  expect(Object.keys(ledger.body.byNode)).toEqual([honest.id]);
  expect(ledger.body.entries.filter((e: { nodeId: string }) => e.nodeId === liar.id)).toEqual([]);
}

describe('a node that uploads other bytes than it reported', () => {
  it('a larger body than reported: refused by storage (the length is signed), nothing stored, the task goes to an honest node', async () => {
    const liar = await TestNode.register(h, 'grower');
    const honest = await TestNode.register(h, 'honest-1');
    const { jobId, task } = await oneTask(liar);
    const reported = fakePng('small');
    const ticket = await liar.uploadTicket(task, reported);
    expect(new URL(ticket.url).searchParams.get('X-Amz-SignedHeaders')!.split(';')).toEqual(expect.arrayContaining(['content-length', 'x-amz-checksum-sha256']));
    const bigger = new Uint8Array(4 * 1024 * 1024);
    bigger.set(reported);
    const refusedBefore = gate.refused.length;
    const put = await fetch(ticket.url, { method: 'PUT', body: bigger, headers: ticket.headers });
    expect(put.status).toBe(403);
    expect(await put.text()).toMatch(/<Code>AccessDenied<\/Code>.*signature does not match/);
    expect(gate.refused.slice(refusedBefore)).toEqual([expect.objectContaining({ method: 'PUT', reason: 'signature does not match' })]);
    // Past the gate (straight at storage) the same body is refused by its checksum.
    const direct = new URL(ticket.url);
    const atStore = await fetch(`${h.s3.endpoint}${direct.pathname}${direct.search}`, { method: 'PUT', body: bigger, headers: ticket.headers });
    expect(atStore.status).toBe(400);
    expect(await atStore.text()).toMatch(/<Code>BadDigest<\/Code>/);
    expect(await store.head(ticket.key)).toBeNull();
    // Reporting the task done with what it claimed: nothing is stored, so nothing is accepted.
    const done = await liar.complete(task, reported);
    expect(done.status).toBe(422);
    expect(done.body.code).toBe('OUTPUT_MISSING');
    expect((await liar.fail(task, 'gave up')).status).toBe(200);
    await honestFinishes(jobId, liar, honest, task.taskId);
  });

  it('a different body of the reported size: refused by storage (BadDigest), the task goes to an honest node', async () => {
    const liar = await TestNode.register(h, 'swapper');
    const honest = await TestNode.register(h, 'honest-2');
    const { jobId, task } = await oneTask(liar);
    const reported = fakePng('AAAA');
    const ticket = await liar.uploadTicket(task, reported);
    const refusedBefore = gate.refused.length;
    const put = await fetch(ticket.url, { method: 'PUT', body: fakePng('BBBB'), headers: ticket.headers });
    expect(put.status).toBe(400);
    expect(await put.text()).toMatch(/<Code>BadDigest<\/Code>/);
    expect(gate.refused.slice(refusedBefore)).toEqual([expect.objectContaining({ method: 'PUT', reason: 'checksum mismatch' })]);
    // Another checksum header than the signed one fails the signature; none at all too.
    const forged = { 'x-amz-checksum-sha256': createHash('sha256').update(fakePng('BBBB')).digest('base64') };
    expect((await fetch(ticket.url, { method: 'PUT', body: fakePng('BBBB'), headers: { ...ticket.headers, ...forged } })).status).toBe(403);
    expect((await fetch(ticket.url, { method: 'PUT', body: fakePng('BBBB') })).status).toBe(403);
    expect(await store.head(ticket.key)).toBeNull();
    // Claiming the swapped bytes at completion does not help: they were never reported for a URL, so never stored.
    expect((await liar.complete(task, fakePng('BBBB'))).body.code).toBe('OUTPUT_MISSING');
    expect((await liar.complete(task, reported)).body.code).toBe('OUTPUT_MISSING');
    // It lets the lease run out instead of failing: the task still comes back.
    await honestFinishes(jobId, liar, honest, task.taskId);
  });

  it('a huge reported size: no upload URL at all (PAYLOAD_TOO_LARGE), the honest size gets one', async () => {
    const liar = await TestNode.register(h, 'bloater');
    const honest = await TestNode.register(h, 'honest-3');
    const { jobId, task } = await oneTask(liar);
    const max = maxOutputBytes(16, 16);
    expect(task.output.maxBytes).toBe(max);
    for (const bytes of [max + 1, 5 * 1024 ** 3, Number.MAX_SAFE_INTEGER]) {
      const res = await liar.reportUpload(task, fakePng('x'), { bytes });
      expect(res.status, String(bytes)).toBe(413);
      expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
      expect(res.body.message).toMatch(/no upload URL was made/);
    }
    // Not a number a schema lets through either.
    expect((await liar.reportUpload(task, fakePng('x'), { bytes: 1e300 })).status).toBe(400);
    expect((await liar.reportUpload(task, fakePng('x'), { bytes: -1 })).status).toBe(400);
    // A completion claiming a huge output is refused as corrupt, without storage being read, and fails its attempt.
    const huge = await call(h.url, 'POST', `/v1/tasks/${task.taskId}/complete`, {
      json: { leaseId: task.leaseId, checksum: '0'.repeat(64), bytes: max + 1, timings: { render: 1 } },
      token: liar.reg.nodeToken,
    });
    expect(huge.body.code).toBe('OUTPUT_CORRUPT');
    expect(huge.body.message).toMatch(/more than a 16×16 image can take/);
    await honestFinishes(jobId, liar, honest, task.taskId);
  });

  it('an upload token that is forged, altered, or another task’s: refused (UNAUTHORIZED), no URL', async () => {
    const node = await TestNode.register(h, 'forger', { concurrency: 2 });
    const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x16', tile: 16, frames: '0' } });
    const [a, b] = await node.leaseBatch(2);
    const [body, mac] = a.output.token.split('.');
    const grant = JSON.parse(Buffer.from(body, 'base64url').toString());
    const raised = Buffer.from(JSON.stringify({ ...grant, maxBytes: 10 ** 12 })).toString('base64url');
    const tries: [string, string, string][] = [
      ['another task’s token', b.taskId, a.output.token],
      ['a raised bound', a.taskId, `${raised}.${mac}`],
      ['no signature', a.taskId, body],
      ['garbage', a.taskId, 'x.y'],
    ];
    for (const [what, taskId, token] of tries) {
      const res = await call(h.url, 'POST', `/v1/tasks/${taskId}/upload`, { json: { token, bytes: 10, checksum: '0'.repeat(64) }, token: null });
      expect(res.status, what).toBe(401);
      expect(res.body.code, what).toBe('UNAUTHORIZED');
    }
    // The real ones work, and the job completes.
    for (const t of [a, b]) expect((await node.finish(t, fakePng(t.taskId))).status).toBe(200);
    const stitch = (await node.lease(0))!;
    expect((await node.finish(stitch, fakePng('frame'))).body).toMatchObject({ jobState: 'done' });
    expect((await call(h.url, 'GET', `/v1/jobs/${job.body.jobId}`)).body.state).toBe('done');
  });

  it('honest uploads: storage keeps the checksum it checked (so the API accepts on a HEAD and copies in storage), the frame is served as PNG', async () => {
    const node = await TestNode.register(h, 'honest-4');
    const { jobId, task } = await oneTask(node);
    const bytes = fakePng('checked by storage');
    const ticket = await node.uploadTicket(task, bytes);
    expect(ticket.headers).toEqual({ 'x-amz-checksum-sha256': createHash('sha256').update(bytes).digest('base64'), 'content-type': 'image/png' });
    expect((await fetch(ticket.url, { method: 'PUT', body: bytes, headers: ticket.headers })).status).toBe(200);
    expect(await store.head(ticket.key)).toMatchObject({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    expect((await node.complete(task, bytes)).body).toMatchObject({ jobState: 'done' });
    const frames = await call(h.url, 'GET', `/v1/jobs/${jobId}/frames`);
    const served = await fetch(frames.body.frames[0].url);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(bytes);
  });
});
