/**
 * A frame offered to its job's event stream ahead of its store and record (recent-frames.ts offer): the client gets
 * it while the API is still writing it to storage, and the frame is not done until it is stored and recorded. Killed
 * (SIGKILL) in that window, the API loses nothing: after a restart on the same data dir the task is still the node's
 * lease, nothing was stored or recorded, and once the lease runs out the task is rendered again, stored and recorded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalS3, type LocalS3 } from '../../api/node/local-s3.ts';
import { createS3BlobStore } from '../../api/node/s3-blob-store.ts';
import type { JobEvent } from '../../api/protocol/job-status.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import { call, fakePng, ROOT, sha256, TEST_API_KEY, TEST_AUTH, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const S3_500 = '<Error><Code>InternalError</Code><Message>injected</Message></Error>';

/** A proxy in front of s3rver that holds (never forwards) PUTs of job outputs while `holding`, and fails them (500) while `failing`. */
async function startHoldingProxy(target: string): Promise<{ url: string; holding: boolean; failing: boolean; held: { req: IncomingMessage; res: ServerResponse }[]; close(): Promise<void> }> {
  const state = { holding: true, failing: false, held: [] as { req: IncomingMessage; res: ServerResponse }[] };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const output = req.method === 'PUT' && req.url?.includes('/jobs/');
    if (state.failing && output) {
      res.writeHead(500, { 'content-type': 'application/xml' }).end(S3_500);
      return;
    }
    if (state.holding && output) {
      state.held.push({ req, res });
      return;
    }
    const up = httpRequest(new URL(req.url!, target), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  });
}

/** `api/node/main.ts` as a process on `port` (0: any), its storage behind `s3Endpoint`; resolves with its URL once it listens. */
async function startApiProcess(dataDir: string, s3: LocalS3, s3Endpoint: string, port: number, leaseMs: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'api', 'node', 'main.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      TESSERA_API_KEY: TEST_API_KEY,
      TESSERA_PORT: String(port),
      TESSERA_DATA_DIR: dataDir,
      TESSERA_S3_ENDPOINT: s3Endpoint,
      TESSERA_S3_REGION: s3.region,
      TESSERA_S3_BUCKET: s3.bucket,
      TESSERA_S3_ACCESS_KEY_ID: s3.accessKeyId,
      TESSERA_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      TESSERA_LEASE_MS: String(leaseMs),
      // No verification draw: the frame is finished by its one completion (so it is offered).
      TESSERA_VERIFY_SAMPLE_RATE: '0',
      TESSERA_LOG_LEVEL: 'info',
    },
  });
  cleanups.push(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await waitFor('the API to listen', async () => /"url":"(http:[^"]+)"[^\n]*API listening/.exec(err)?.[1], 60_000);
  return { url, child };
}

/** The first `frame` event of the job's stream with `?inline=1` (read as it comes; the stream is then closed). */
async function firstFrameEvent(url: string, jobId: string): Promise<Extract<JobEvent, { type: 'frame' }>> {
  const stop = new AbortController();
  const res = await fetch(`${url}/v1/jobs/${jobId}/events?inline=1`, { headers: { accept: 'text/event-stream', ...TEST_AUTH }, signal: stop.signal });
  expect(res.status).toBe(200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended without a frame event: ${text}`);
      text += value;
      // Every piece but the last is a whole event.
      const block = text.split('\n\n').slice(0, -1).find((b) => /^event: frame$/m.test(b));
      if (block) return JSON.parse(/^data: (.*)$/m.exec(block)![1]);
    }
  } finally {
    stop.abort();
  }
}

/**
 * A fresh data dir, s3rver behind a holding proxy, an API process with `leaseMs` leases, a registered scripted node
 * and a one-frame job whose task that node has leased.
 */
async function startOneFrameLeased(nodeName: string, leaseMs: number) {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-early-frame-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const s3 = await startLocalS3({ dir: join(dir, 's3') });
  cleanups.push(() => s3.close());
  const proxy = await startHoldingProxy(s3.endpoint);
  cleanups.push(() => proxy.close());
  const store = await createS3BlobStore(s3);
  cleanups.push(() => store.close());
  const api = await startApiProcess(join(dir, 'api'), s3, proxy.url, 0, leaseMs);
  const h = { url: api.url } as Harness;
  const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
  const node = await TestNode.register(h, nodeName);
  const job = await call(api.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0' } });
  expect(job.status).toBe(201);
  const jobId: string = job.body.jobId;
  const task = (await node.lease(0))!;
  expect(task.jobId).toBe(jobId);
  return { dir, s3, proxy, store, api, node, jobId, task };
}

describe('a frame sent to its client before it is stored and recorded', () => {
  it('is not lost when the API is killed in between: the task runs again and the frame is stored and recorded', async () => {
    // Short leases: the task taken back from the killed API's node comes round again soon.
    const { dir, s3, proxy, store, api: first, node, jobId, task } = await startOneFrameLeased('early-frame', 3000);

    // The completion carries the frame; its storage write is held, so the completion waits in the API.
    const png = fakePng('sent before stored');
    const completeInline = (t: LeasedTask, at: string) =>
      call(at, 'POST', `/v1/tasks/${t.taskId}/complete`, {
        json: { leaseId: t.leaseId, bytes: png.length, checksum: sha256(png), inline: Buffer.from(png).toString('base64'), timings: { render: 5 } },
        token: node.reg.nodeToken,
      });
    const event = firstFrameEvent(first.url, jobId);
    const pending = completeInline(task, first.url).catch((err: unknown) => err);
    const early = await event;
    // The client has the frame, exactly its bytes…
    expect(early).toMatchObject({ type: 'frame', jobId, frame: 0, bytes: png.length, checksum: sha256(png), storing: true });
    expect(new Uint8Array(Buffer.from(early.inline!, 'base64'))).toEqual(png);
    // …while storage holds nothing yet and the task is still the node's lease: nothing is done.
    await waitFor('the held storage write', async () => (proxy.held.length > 0 ? true : undefined), 10_000);
    expect(await store.list(`jobs/${jobId}/`)).toEqual([]);
    const during = await call(first.url, 'GET', `/v1/jobs/${jobId}`);
    expect(during.body).toMatchObject({ state: 'running', frames: { done: 0, total: 1 } });
    // (Leased still, or queued again if its short lease ran out on a slow machine: not done either way.)
    expect(during.body.tasks[0].taskId).toBe(task.taskId);
    expect(['leased', 'queued']).toContain(during.body.tasks[0].state);

    // Killed in the window: the write never lands, the completion is never recorded.
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    expect(await pending).toBeInstanceOf(Error);
    for (const { req } of proxy.held) req.socket.destroy();
    proxy.holding = false;
    expect(await store.list(`jobs/${jobId}/`)).toEqual([]);

    // Restarted on the same data dir and port: the task is not done, and comes round again once its lease runs out.
    const port = Number(new URL(first.url).port);
    const second = await startApiProcess(join(dir, 'api'), s3, proxy.url, port, 3000);
    expect(second.url).toBe(first.url);
    const after = await call(second.url, 'GET', `/v1/jobs/${jobId}`);
    expect(after.body.frames).toEqual({ done: 0, total: 1 });
    const again = await waitFor('the task to come round again', async () => (await node.lease(1)) ?? undefined, 60_000);
    expect(again.taskId).toBe(task.taskId);
    const done = await completeInline(again, second.url);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body).toMatchObject({ state: 'done', jobState: 'done' });
    // Stored and recorded: the frame list names it, storage holds exactly its bytes, its event carries them.
    const frames = await call(second.url, 'GET', `/v1/jobs/${jobId}/frames`);
    expect(frames.body.frames).toHaveLength(1);
    expect(frames.body.frames[0].checksum).toBe(sha256(png));
    expect(await store.get(frames.body.frames[0].key)).toEqual(png);
    const replayed = await firstFrameEvent(second.url, jobId);
    expect(replayed).toMatchObject({ frame: 0, checksum: sha256(png) });
    expect(replayed.storing).toBeUndefined();
    expect(new Uint8Array(await (await fetch(replayed.url!)).arrayBuffer())).toEqual(png);
  }, 180_000);

  it('is sent again with the bytes finally recorded when its first completion is not (the storage write failed)', async () => {
    const { proxy, api, node, jobId, task } = await startOneFrameLeased('early-frame-retry', 60_000);
    const complete = (png: Uint8Array) =>
      call(api.url, 'POST', `/v1/tasks/${task.taskId}/complete`, {
        json: { leaseId: task.leaseId, bytes: png.length, checksum: sha256(png), inline: Buffer.from(png).toString('base64'), timings: { render: 5 } },
        token: node.reg.nodeToken,
      });
    // One stream, read to its end.
    const events = fetch(`${api.url}/v1/jobs/${jobId}/events?inline=1`, { headers: { accept: 'text/event-stream', ...TEST_AUTH } }).then(async (res) =>
      (await res.text())
        .split('\n\n')
        .filter((b) => /^event: frame$/m.test(b))
        .map((b) => JSON.parse(/^data: (.*)$/m.exec(b)![1]) as Extract<JobEvent, { type: 'frame' }>),
    );
    const first = fakePng('offered, never stored');
    const failing = complete(first);
    await waitFor('the held storage write', async () => (proxy.held.length > 0 ? true : undefined), 10_000);
    // Storage refuses the write (and its retries): the completion is not recorded (the node still holds its lease).
    proxy.failing = true;
    for (const { res } of proxy.held) res.writeHead(500, { 'content-type': 'application/xml' }).end(S3_500);
    proxy.holding = false;
    expect((await failing).status).toBeGreaterThanOrEqual(500);
    proxy.failing = false;
    expect((await call(api.url, 'GET', `/v1/jobs/${jobId}`)).body.frames).toEqual({ done: 0, total: 1 });
    // The node's next completion, with other bytes, is the one recorded: the stream sends the frame again with them.
    const second = fakePng('stored and recorded');
    expect((await complete(second)).status).toBe(200);
    const frames = await events;
    expect(frames[0]).toMatchObject({ frame: 0, checksum: sha256(first) });
    expect(frames[frames.length - 1]).toMatchObject({ frame: 0, checksum: sha256(second) });
    expect(new Uint8Array(Buffer.from(frames[frames.length - 1].inline!, 'base64'))).toEqual(second);
    const [listed] = (await call(api.url, 'GET', `/v1/jobs/${jobId}/frames`)).body.frames;
    expect(listed.checksum).toBe(sha256(second));
  }, 180_000);
});
