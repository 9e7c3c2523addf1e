import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncodeSpec, ViewSpec } from '../../api/protocol/render-spec.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import { processTree, treeResidentBytes } from '../../render-node/agent/process-tree-memory.ts';
import { TaskSandbox } from '../../render-node/agent/task-sandbox.ts';
import type { RenderBackendChoice } from '../../render-node/chromium/choose-backend.ts';
import { createLogger } from '../../render-node/logger.ts';
import { decodeRaw } from '../../render-node/output/stitch-tiles.ts';
import { waitFor } from '../support/farm-checks.ts';
import { anyAlive } from '../support/process-tree.ts';
import { ensureRenderHostBuilt } from '../support/render-host.ts';
import { scenePath } from '../support/renderer.ts';

// A real HTTP server standing in for storage: it serves the scene and keeps what tasks upload.
let server: Server;
let base = '';
let sceneId = '';
/** A scene that needs WebGL 2 (KHR_materials_dispersion): the `auto` backend draws it in Chromium. */
let webgl2SceneId = '';
const uploads = new Map<string, Buffer>();
const uploadHeaders = new Map<string, string | undefined>();
/** PUTs to a URL containing `/held/` wait for this before storage answers (a slow upload). */
let releaseHeld: () => void = () => {};
let held = new Promise<void>((r) => (releaseHeld = r));

beforeAll(async () => {
  const glb = await readFile(scenePath('textured-pbr'));
  sceneId = createHash('sha256').update(glb).digest('hex');
  const webgl2 = await readFile(scenePath('dispersion'));
  webgl2SceneId = createHash('sha256').update(webgl2).digest('hex');
  server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/scene') return void res.end(glb);
    if (req.method === 'GET' && req.url === '/scene-webgl2') return void res.end(webgl2);
    if (req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        if (req.url!.includes('/held/')) await held;
        uploads.set(req.url!, Buffer.concat(chunks));
        uploadHeaders.set(req.url!, req.headers['x-amz-checksum-sha256'] as string | undefined);
        res.end();
      });
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server?.close());

let n = 0;
const task = (view: object, dir = 'out', scene = { id: sceneId, url: `${base}/scene` }): LeasedTask => ({
  taskId: `t${++n}`,
  leaseId: `l${n}`,
  leaseExpiresAt: Date.now() + 60_000,
  jobId: 'job',
  kind: 'render',
  frame: 0,
  attempt: 1,
  scene,
  view: ViewSpec.parse(view),
  encode: EncodeSpec.parse({}),
  final: true,
  output: { key: `${dir}/${n}.png`, maxBytes: 64 * 1024 * 1024, token: `token-${n}` },
});

/**
 * What the agent does for its render process: answers the output's report with an upload ticket (here the
 * stand-in storage's URL), remembering each claim.
 */
const claims = new Map<string, { bytes: number; checksum: string; token: string }>();
const requestUpload = async (t: LeasedTask, claim: { bytes: number; checksum: string }) => {
  claims.set(t.taskId, { ...claim, token: t.output.token });
  const key = `${t.output.key.split('/')[0]}/${t.taskId}.png`;
  return { key, url: `${base}/${key}`, headers: { 'x-amz-checksum-sha256': Buffer.from(claim.checksum, 'hex').toString('base64') }, expiresAt: Date.now() + 60_000 };
};

const sandbox = (caps: { timeCapMs?: number; memoryCapBytes?: number }, backend?: RenderBackendChoice) =>
  new TaskSandbox({
    backend,
    cacheDir: join(tmpdir(), `tessera-sandbox-test-${process.pid}`),
    maxLoadedScenes: 2,
    maxTexturePixels: 64 * 1024 * 1024,
    timeCapMs: caps.timeCapMs ?? 60_000,
    memoryCapBytes: caps.memoryCapBytes ?? 8 * 1024 ** 3,
    log: createLogger('sandbox-test', 'silent'),
  });

describe('render tasks run in a separate process with caps', () => {
  it('renders a task in the render process and uploads the frame', async () => {
    const box = sandbox({});
    try {
      const t = task({ width: 96, height: 64 });
      const outcome = await box.run(t, new AbortController().signal, requestUpload);
      const uploaded = uploads.get(`/out/${t.taskId}.png`)!;
      expect(outcome.checksum).toBe(createHash('sha256').update(uploaded).digest('hex'));
      // The render process reported the output it then uploaded (the agent asked for the URL with the lease's token),
      // and sent the ticket's checksum header with it.
      expect(claims.get(t.taskId)).toEqual({ bytes: uploaded.length, checksum: outcome.checksum, token: t.output.token });
      expect(uploadHeaders.get(`/out/${t.taskId}.png`)).toBe(createHash('sha256').update(uploaded).digest('base64'));
      expect(outcome.timings.report).toBeGreaterThanOrEqual(0);
      expect((await decodeRaw(uploaded)).width).toBe(96);
    } finally {
      box.dispose();
    }
  });

  it('draws the next task while the previous one uploads (pipelined), and giving up a drawn task spares the next', async () => {
    const box = sandbox({});
    held = new Promise<void>((r) => (releaseHeld = r));
    try {
      await box.run(task({ width: 32, height: 32 }), new AbortController().signal, requestUpload); // process start, scene load
      // A's upload is held by storage; B starts when A is drawn, and finishes (drawn, encoded, uploaded) first.
      const a = task({ width: 96, height: 64 }, 'held');
      let b: Promise<Awaited<ReturnType<TaskSandbox['run']>>> | undefined;
      const startedB = new Promise<void>((resolve) => {
        void box.run(a, new AbortController().signal, requestUpload, () => {
          b = box.run(task({ width: 80, height: 48 }), new AbortController().signal, requestUpload);
          resolve();
        }).then((outcome) => (aOutcome = outcome));
      });
      let aOutcome: Awaited<ReturnType<TaskSandbox['run']>> | undefined;
      await startedB;
      const bOutcome = await b!;
      expect(aOutcome).toBeUndefined();
      const bBytes = uploads.get(`/out/t${n}.png`)!;
      expect(bOutcome.checksum).toBe(createHash('sha256').update(bBytes).digest('hex'));
      expect((await decodeRaw(bBytes)).width).toBe(80);
      // Abandoning a drawn task (its lease revoked) must not kill the process drawing the next one.
      const c = task({ width: 64, height: 64 }, 'held');
      const abortC = new AbortController();
      let d: Promise<Awaited<ReturnType<TaskSandbox['run']>>> | undefined;
      const cResult = await new Promise<unknown>((resolve) => {
        box.run(c, abortC.signal, requestUpload, () => {
          d = box.run(task({ width: 72, height: 40 }), new AbortController().signal, requestUpload);
          abortC.abort(new Error('lease revoked'));
        }).then(resolve, resolve);
      });
      expect(cResult).toMatchObject({ code: 'LEASE_LOST' });
      const dOutcome = await d!;
      expect((await decodeRaw(uploads.get(`/out/t${n}.png`)!)).width).toBe(72);
      expect(dOutcome.bytes).toBe(uploads.get(`/out/t${n}.png`)!.length);
      releaseHeld();
      await expect.poll(() => aOutcome).toBeDefined();
      const aBytes = uploads.get(`/held/${a.taskId}.png`)!;
      expect(aOutcome!.checksum).toBe(createHash('sha256').update(aBytes).digest('hex'));
      expect((await decodeRaw(aBytes)).width).toBe(96);
    } finally {
      releaseHeld();
      box.dispose();
    }
  });

  it('stops a task that runs past the time cap, and the next task gets a fresh process', async () => {
    const box = sandbox({ timeCapMs: 20_000 });
    try {
      // Warm up (process start, scene load), then a 4K frame with 4×4 supersampling under a tiny cap.
      await box.run(task({ width: 64, height: 64 }), new AbortController().signal, requestUpload);
      (box as unknown as { options: { timeCapMs: number } }).options.timeCapMs = 30;
      const err = await box.run(task({ width: 3840, height: 2160, ssaa: 4 }), new AbortController().signal, requestUpload).catch((e) => e);
      expect(err).toMatchObject({ code: 'SCENE_LIMIT_EXCEEDED', sceneFault: true });
      expect(err.message).toMatch(/time cap/);
      (box as unknown as { options: { timeCapMs: number } }).options.timeCapMs = 60_000;
      const outcome = await box.run(task({ width: 64, height: 48 }), new AbortController().signal, requestUpload);
      expect(outcome.bytes).toBeGreaterThan(0);
    } finally {
      box.dispose();
    }
  });

  it('stops a render process that passes the memory cap, and keeps serving', async () => {
    const box = sandbox({});
    try {
      await box.run(task({ width: 64, height: 64 }), new AbortController().signal, requestUpload);
      // A 4K frame at 4×4 supersampling needs a 15360×8640 framebuffer: well over 1 GiB more than idle.
      const idle = 1.2 * 1024 ** 3;
      (box as unknown as { options: { memoryCapBytes: number } }).options.memoryCapBytes = idle;
      const err = await box.run(task({ width: 3840, height: 2160, ssaa: 4 }), new AbortController().signal, requestUpload).catch((e) => e);
      expect(err).toMatchObject({ code: 'SCENE_LIMIT_EXCEEDED', sceneFault: true });
      expect(err.message).toMatch(/memory cap of 1229 MiB/);
      const outcome = await box.run(task({ width: 64, height: 48 }), new AbortController().signal, requestUpload);
      expect(outcome.bytes).toBeGreaterThan(0);
    } finally {
      box.dispose();
    }
  });

  // Linux /proc only (the cap reads the process tree's Pss there).
  it.runIf(process.platform === 'linux')("counts Chromium's processes under the cap: a WebGL 2 task blowing it in Chromium fails alone, its whole tree stopped, and the slot serves on", async () => {
    ensureRenderHostBuilt();
    const box = sandbox({ memoryCapBytes: 64 * 1024 ** 3 }, 'auto');
    const cap = (bytes: number) => ((box as unknown as { options: { memoryCapBytes: number } }).options.memoryCapBytes = bytes);
    const renderPid = () => (box as unknown as { child?: { pid?: number } }).child?.pid;
    const webgl2 = (size: number) => task({ width: size, height: size }, 'out', { id: webgl2SceneId, url: `${base}/scene-webgl2` });
    try {
      // Measure: the render process alone, and with the Chromium it drives (GPU, renderer and utility processes).
      expect((await box.run(webgl2(64), new AbortController().signal, requestUpload)).bytes).toBeGreaterThan(0);
      const pid = renderPid()!;
      const ownMatch = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
      const own = Number(ownMatch![1]) * 1024;
      const tree = await treeResidentBytes(pid);
      const pids = await processTree(pid);
      expect(pids.length, 'Chromium runs under the render process').toBeGreaterThan(2);
      // Chromium's processes hold much of the task's memory: a cap on the render process alone (all it counted before) misses them.
      expect(tree - own).toBeGreaterThan(100 * 2 ** 20);

      // A cap between the two: the render process alone stays under it, with Chromium it does not.
      cap(Math.round(own + (tree - own) / 2));
      // Tasks until the cap's poll (every 200 ms) finds one running: a warm task may end before the first poll.
      let err: { code?: string; sceneFault?: boolean; message: string } | undefined;
      for (let i = 0; i < 100 && !err; i++) err = await box.run(webgl2(256), new AbortController().signal, requestUpload).then(() => undefined, (e) => e);
      expect(err).toMatchObject({ code: 'SCENE_LIMIT_EXCEEDED', sceneFault: true });
      expect(err!.message).toMatch(/used \d+ MiB \(its render process and the processes it started, Chromium's included\), over the memory cap of \d+ MiB, and was stopped/);
      // The whole tree went with it: no Chromium process outlives its render process.
      await waitFor('the capped tree to go', async () => (anyAlive(pids) ? undefined : true), 20_000);

      // The slot serves on: a fresh render process (and a fresh Chromium) takes the next task.
      cap(64 * 1024 ** 3);
      const next = await box.run(webgl2(64), new AbortController().signal, requestUpload);
      expect(next.bytes).toBeGreaterThan(0);
      expect(renderPid()).not.toBe(pid);
    } finally {
      await box.dispose();
    }
  }, 300_000);
});
