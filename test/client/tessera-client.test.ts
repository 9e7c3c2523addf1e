import { zipSync } from 'fflate';
import { readFile } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient, isTesseraError, TesseraError, type JobEvent, type TesseraClient } from '../../api/client/index.ts';
import { scenePath, SCENES } from '../support/renderer.ts';
import { TEST_API_KEY } from '../api/support/api-harness.ts';
import { spawnNode, startTestFarm, type NodeProcess } from '../support/farm.ts';

// The SDK against the real API, S3 server and (for finished frames) a real render node, all on loopback.
let farm: Awaited<ReturnType<typeof startTestFarm>>;
let client: TesseraClient;
let animated: Uint8Array;
const servers: Server[] = [];

beforeAll(async () => {
  farm = await startTestFarm();
  client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY, retryDelayMs: 20 });
  animated = new Uint8Array(await readFile(scenePath('animated-trs')));
});

afterAll(async () => {
  for (const s of servers) s.close();
  await farm?.close();
});

/** A loopback HTTP server for behaviour the real API cannot be made to show on demand (503s, no SSE route). */
async function listen(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** What `fn` threw, as a TesseraError (fails the test if it did not throw one). */
async function thrown(fn: () => Promise<unknown>): Promise<TesseraError> {
  try {
    await fn();
  } catch (err) {
    if (isTesseraError(err)) return err;
    throw err;
  }
  throw new Error('expected a TesseraError');
}

describe('uploads', () => {
  it('uploads a GLB and gets the same content-addressed id for the same bytes', async () => {
    const a = await client.uploadScene(animated);
    expect(a.sceneId).toMatch(/^[0-9a-f]{64}$/);
    expect(a.bytes).toBeGreaterThan(0);
    const b = await client.uploadScene(new Blob([animated as Uint8Array<ArrayBuffer>]));
    expect(b.sceneId).toBe(a.sceneId);
  });

  it('sends large scenes through a presigned upload, with the same result', async () => {
    const direct = await client.uploadScene(animated);
    const viaStorage = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY, directUploadMaxBytes: 1024 });
    expect((await viaStorage.uploadScene(animated)).sceneId).toBe(direct.sceneId);
  });

  it('uploads a .gltf with its files as a zip', async () => {
    const dir = `${SCENES}textured-gltf/`;
    const zip = zipSync({
      'scene.gltf': new Uint8Array(await readFile(`${dir}scene.gltf`)),
      'scene.bin': new Uint8Array(await readFile(`${dir}scene.bin`)),
      'checker.png': new Uint8Array(await readFile(`${dir}checker.png`)),
    });
    const up = await client.uploadScene(zip);
    expect(up.sceneId).toMatch(/^[0-9a-f]{64}$/);
  });

  it("throws the API's {code, message} for a file that is no scene", async () => {
    const err = await thrown(() => client.uploadScene(new TextEncoder().encode('definitely not a glb file'), { contentType: 'model/gltf-binary' }));
    expect(err.code).toBe('SCENE_MALFORMED');
    expect(err.exitCode).toBe(2);
  });
});

describe('jobs', () => {
  it("refuses an unknown camera and frames outside the clip with the API's codes", async () => {
    const cameras = await client.uploadScene(new Uint8Array(await readFile(scenePath('cameras'))));
    const camera = await thrown(() => client.submitJob({ sceneId: cameras.sceneId, size: '64x64', frames: '0', camera: 'nope' }));
    expect(camera.code).toBe('CAMERA_NOT_FOUND');
    expect(camera.message).toMatch(/front/);
    const { sceneId } = await client.uploadScene(animated);
    const frames = await thrown(() => client.submitJob({ sceneId, size: '64x64', frames: '0-100' }));
    expect(frames.code).toBe('FRAME_OUT_OF_RANGE');
  });

  it('whoAmI names the key it sends, and a wrong key is UNAUTHORIZED (the dashboard signs in with it)', async () => {
    expect(await client.whoAmI()).toMatchObject({ role: 'admin', keyId: expect.any(String), name: expect.any(String) });
    const wrong = createTesseraClient({ baseUrl: farm.url, apiKey: 'tsk_wrong', retryDelayMs: 10 });
    expect((await thrown(() => wrong.whoAmI())).code).toBe('UNAUTHORIZED');
  });

  it('answers JOB_NOT_FOUND for an unknown job', async () => {
    expect((await thrown(() => client.getJob('no-such-job'))).code).toBe('JOB_NOT_FOUND');
  });

  it('streams progress, then end after a cancel; waitForJob returns the final status', async () => {
    const { sceneId } = await client.uploadScene(animated);
    const { jobId } = await client.submitJob({ sceneId, size: '64x48', frames: '0-3', tile: 32, priority: 0 });
    const status = await client.getJob(jobId);
    expect(status.jobId).toBe(jobId);
    expect(status.frames.total).toBe(4);
    expect(status.tiles.total).toBe(16); // 2×2 tiles of 32 px per frame
    expect((await client.frames(jobId)).frames).toEqual([]);

    const events: JobEvent[] = [];
    const progress: number[] = [];
    const waiting = client.waitForJob(jobId, { onEvent: (e) => events.push(e), onProgress: (p) => progress.push(p.tiles.total) });
    // Cancel once the stream is open (its first message is the current progress).
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await client.cancel(jobId);
    const final = await waiting;
    expect(final.state).toBe('cancelled');
    expect(events[0]).toMatchObject({ type: 'progress', jobId });
    expect(events.at(-1)).toMatchObject({ type: 'end', jobId, state: 'cancelled' });
    expect(progress[0]).toBe(16);
  });

  it('polls when the server has no event stream', async () => {
    // A pass-through proxy to the real API that answers 404 on the events route.
    const proxy = await listen(async (req, res) => {
      if (req.url?.endsWith('/events')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'NOT_FOUND', message: 'no events here' }));
        return;
      }
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const r = await fetch(farm.url + req.url, { method: req.method, headers: { 'content-type': req.headers['content-type'] ?? '', authorization: req.headers.authorization ?? '' }, body: chunks.length ? Buffer.concat(chunks) : undefined });
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? '' }).end(Buffer.from(await r.arrayBuffer()));
    });
    const polling = createTesseraClient({ baseUrl: proxy, apiKey: TEST_API_KEY, pollIntervalMs: 50, retryDelayMs: 10 });
    const { sceneId } = await polling.uploadScene(animated);
    const { jobId } = await polling.submitJob({ sceneId, size: '32x32', frames: '0', priority: 0 });
    const reports: string[] = [];
    const waiting = polling.waitForJob(jobId, { onProgress: (p) => reports.push(p.state) });
    await new Promise((r) => setTimeout(r, 300));
    await polling.cancel(jobId);
    expect((await waiting).state).toBe('cancelled');
    expect(reports.length).toBeGreaterThan(1);
    expect(reports.at(-1)).toBe('cancelled');
  });

  it('stops following a job when the signal aborts', async () => {
    const { sceneId } = await client.uploadScene(animated);
    const { jobId } = await client.submitJob({ sceneId, size: '32x32', frames: '0', priority: 0 });
    const abort = new AbortController();
    const waiting = client.waitForJob(jobId, { signal: abort.signal });
    setTimeout(() => abort.abort(new Error('enough')), 100);
    await expect(waiting).rejects.toThrow('enough');
    await client.cancel(jobId);
  });
});

describe('network failures and retries', () => {
  it('reports an unreachable API as UNAVAILABLE naming the URL, with the cause kept', async () => {
    const closed = await listen(() => {});
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 50));
    const err = await thrown(() => createTesseraClient({ baseUrl: closed, retries: 1, retryDelayMs: 10 }).health());
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toContain(`cannot reach the API at ${closed}`);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.cause).toBeDefined();
  });

  it('retries idempotent GETs on 503 (honouring Retry-After) but never resends a job', async () => {
    const hits: string[] = [];
    const flaky = await listen((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      const n = hits.filter((h) => h === `${req.method} ${req.url}`).length;
      if (n <= 2) res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' }).end(JSON.stringify({ code: 'UNAVAILABLE', message: 'busy' }));
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }));
    });
    const c = createTesseraClient({ baseUrl: flaky, retries: 3, retryDelayMs: 10 });
    expect(await c.health()).toEqual({ status: 'ok' });
    expect(hits.filter((h) => h === 'GET /v1/health')).toHaveLength(3);
    const err = await thrown(() => c.submitJob({ sceneId: '0'.repeat(64), size: '8x8' }));
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toBe('busy');
    expect(hits.filter((h) => h === 'POST /v1/jobs')).toHaveLength(1);
  });

  it('sends the API key to the API only, never to presigned storage URLs', async () => {
    const seen: (string | undefined)[] = [];
    const spy = await listen((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    const c = createTesseraClient({ baseUrl: spy, apiKey: 'k-123' });
    await c.health();
    await c.downloadFrame(`${spy}/bucket/jobs/j/frames/0.png?X-Amz-Signature=abc`);
    expect(seen).toEqual(['Bearer k-123', undefined]);
  });
});

describe('a job on a real render node', () => {
  let node: NodeProcess;
  beforeAll(() => {
    node = spawnNode(farm.url, 'client-test-1');
  });
  afterAll(async () => {
    node.child.kill('SIGTERM');
    await node.exited;
  });

  it('renders, reports progress and frames, and downloads checked bytes', async () => {
    const { sceneId } = await client.uploadScene(animated);
    const { jobId } = await client.submitJob({ sceneId, size: '64x48', frames: '0-1', tile: 32 });
    const events: JobEvent[] = [];
    const final = await client.waitForJob(jobId, { onEvent: (e) => events.push(e) });
    expect(final.state).toBe('done');
    expect(final.tiles).toEqual({ done: 8, total: 8 });
    expect(events.filter((e) => e.type === 'frame').map((e) => (e as { frame: number }).frame).sort()).toEqual([0, 1]);
    const { frames } = await client.frames(jobId);
    expect(frames.map((f) => f.frame)).toEqual([0, 1]);
    const png = await client.downloadFrame(frames[0].url, { sha256: frames[0].checksum });
    expect(Buffer.from(png.subarray(1, 4)).toString()).toBe('PNG');
    expect(png.byteLength).toBe(frames[0].bytes);
    const bad = await thrown(() => client.downloadFrame(frames[0].url, { sha256: '0'.repeat(64) }));
    expect(bad.code).toBe('OUTPUT_CORRUPT');
    expect(bad.message).toMatch(/sha256 .* attempts/);
  });
});
