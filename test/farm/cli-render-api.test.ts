import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, tessera } from '../support/tessera-cli.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient } from '../../api/client/index.ts';
import { startLocalS3 } from '../../api/node/local-s3.ts';
import { startApi } from '../../api/node/start-api.ts';
import { decodeRaw } from '../../render-node/output/stitch-tiles.ts';
import { TEST_API_KEY, withTestKey } from '../support/api-harness.ts';
import { startTestFarm } from '../support/farm.ts';
import { call, nodeCard } from '../support/api-harness.ts';

const tmp = (what: string) => mkdtempSync(join(tmpdir(), `tessera-${what}-`));


async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Pixels of two PNG files are equal. */
async function samePixels(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([decodeRaw(readFileSync(a)), decodeRaw(readFileSync(b))]);
  return x.width === y.width && x.height === y.height && Buffer.compare(Buffer.from(x.data), Buffer.from(y.data)) === 0;
}

describe('tessera render --api: bad input', () => {
  let farm: Awaited<ReturnType<typeof startTestFarm>>;
  beforeAll(async () => {
    farm = await startTestFarm();
  });
  afterAll(async () => {
    await farm?.close();
  });

  it.each([
    [['scenes/cameras.glb', '--camera', 'nope', '--frames', '0'], /^tessera: CAMERA_NOT_FOUND: .*front/],
    [['scenes/animated-trs.glb', '--frames', '0-100'], /^tessera: FRAME_OUT_OF_RANGE: /],
    [['scenes/animated-trs.glb', '--clip', 'dance'], /^tessera: CLIP_NOT_FOUND: /],
    [['package.json'], /^tessera: SCENE_MALFORMED: /],
    [['scenes/missing.glb'], /^tessera: SCENE_NOT_FOUND: /],
    [['scenes/animated-trs.glb', '--size', '0x10'], /width must be at least 1/],
    [['scenes/animated-trs.glb', '--size', '64x64', '--tile', '100'], /larger than the 64x64 frame/],
  ])("%j exits 2 with the API's message on one line", async (args, message) => {
    const size = args.includes('--size') ? [] : ['--size', '64x64'];
    const r = await tessera('render', ...args, ...size, '--api', farm.url, '--out', tmp('bad'));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('--quote prints what the job would cost and submits nothing', async () => {
    const reg = await call(farm.url, 'POST', '/v1/nodes', { json: nodeCard('quote-node') });
    expect(reg.status).toBe(201);
    const r = await tessera('render', 'scenes/animated-trs.glb', '--frames', '0-3', '--size', '64x64', '--api', farm.url, '--quote', '--json', '--out', tmp('quote'));
    expect(r.code).toBe(0);
    const q = JSON.parse(r.stdout);
    expect(q).toMatchObject({ frames: 4, tiles: 4, megapixels: 0.016384, verificationRate: 0.03, basis: { nodes: 1, tilesPerSecond: 10 } });
    expect(q.price.amount).toBeGreaterThan(0);
    expect(q.renderSeconds).toBeCloseTo((4 * 64 * 64 * 1.03) / 65536 / 10, 3);
  });

  it('exits 2 when told both --local and --api', async () => {
    const r = await tessera('render', 'scenes/animated-trs.glb', '--local', '--api', farm.url, '--out', tmp('bad'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/one of --local .* and --api/);
  });

  it('exits 1 naming the URL when the API cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const r = await tessera('render', 'scenes/animated-trs.glb', '--api', `http://127.0.0.1:${port}`, '--frames', '0', '--size', '32x32', '--out', tmp('bad'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^tessera: UNAVAILABLE: cannot reach the API at http://127\\.0\\.0\\.1:${port} .*ECONNREFUSED`));
  });
});

describe('tessera render --api: Ctrl-C', () => {
  it('cancels the job on the farm and exits 130', async () => {
    // An API without nodes, so the job waits; its log says when the job is queued.
    const queued: string[] = [];
    const logger = { debug() {}, info: (obj: { jobId?: string }, msg?: string) => void (msg === 'job queued' && obj.jobId && queued.push(obj.jobId)), warn() {}, error() {} };
    const dir = tmp('ctrl-c');
    const s3 = await startLocalS3({ dir: join(dir, 's3') });
    const api = await startApi({ dataDir: join(dir, 'api'), s3, logger, api: withTestKey() });
    try {
      const child = spawn(process.execPath, [BIN, 'render', 'scenes/animated-trs.glb', '--api', api.url, '--frames', '0-3', '--size', '64x64', '--out', join(dir, 'out')], { cwd: ROOT, env: { ...process.env, TESSERA_API_KEY: TEST_API_KEY } });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const jobId = await until('the job to be queued', () => queued[0], 60_000);
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toContain(`job ${jobId} cancelled`);
      expect((await createTesseraClient({ baseUrl: api.url, apiKey: TEST_API_KEY }).getJob(jobId)).state).toBe('cancelled');
    } finally {
      await api.close();
      await s3.close();
    }
  });
});

describe('tessera farm up + tessera render --api (2 nodes, real processes)', () => {
  let farm: ChildProcess;
  let farmLog = '';
  let farmExit: Promise<number | null>;
  let url: string;
  /** The admin key farm up created (no TESSERA_API_KEY in its environment). */
  let key: string;
  const data = tmp('farm-data');
  const readyFile = join(data, 'ready');

  beforeAll(async () => {
    farm = spawn(process.execPath, [BIN, 'farm', 'up', '--nodes', '2', '--port', '0', '--data', data, '--ready-file', readyFile], {
      cwd: ROOT,
      env: { ...process.env, DISPLAY: '', TESSERA_API_KEY: '' },
    });
    farm.stdout!.on('data', (d) => (farmLog += d));
    farm.stderr!.on('data', (d) => (farmLog += d));
    farmExit = new Promise((r) => farm.on('exit', (code) => r(code)));
    url = await until('the farm to be ready', () => {
      if (farm.exitCode !== null) throw new Error(`farm up exited with ${farm.exitCode}:\n${farmLog}`);
      // The ready file is written after the ready lines; the pipe may still be delivering them.
      return existsSync(readyFile) && /export TESSERA_API_KEY=/.test(farmLog) ? readFileSync(readyFile, 'utf8').trim() : undefined;
    }, 150_000);
    key = readFileSync(join(data, 'api-key'), 'utf8').trim();
  }, 160_000);

  afterAll(() => {
    if (farm && farm.exitCode === null) farm.kill('SIGKILL');
  });

  it('renders tiled frames through the farm, equal to --local pixel for pixel, with the same file names', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(farmLog).toMatch(/\[farm\] ready: API at/);
    // farm up made an admin key, printed it and saved it; without it, clients are refused.
    expect(key).toMatch(/^tsk_[0-9a-f]{64}$/);
    expect(farmLog).toContain(`export TESSERA_API_KEY=${key}`);
    const anonymous = await tessera('render', 'scenes/animated-trs.glb', '--api', url, '--frames', '0', '--size', '16x16', '--out', tmp('anon'), '--api-key', 'tsk_wrong');
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toMatch(/UNAUTHORIZED/);
    const out = tmp('farm-out');
    const r = await tessera('render', 'scenes/animated-trs.glb', '--api', url, '--frames', '0-3', '--size', '160x90', '--tile', '64', '--out', out, '--json', '--api-key', key);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['frame-0000.png', 'frame-0001.png', 'frame-0002.png', 'frame-0003.png']);
    const summary = JSON.parse(r.stdout);
    expect(summary.tilesPerFrame).toBe(6);
    expect(summary.nodes.reduce((n: number, s: { tiles: number }) => n + s.tiles, 0)).toBe(24);
    expect(summary.nodes.length).toBeGreaterThanOrEqual(1);

    const local = tmp('local-out');
    const l = await tessera('render', 'scenes/animated-trs.glb', '--local', '--frames', '0-3', '--size', '160x90', '--out', local);
    expect(l.code, l.stderr).toBe(0);
    for (const f of readdirSync(local)) expect(await samePixels(join(out, f), join(local, f)), f).toBe(true);
  });

  it('uploads a .gltf with its files as a zip, and prints which node rendered what', async () => {
    const out = tmp('farm-gltf');
    const r = await tessera('render', 'scenes/textured-gltf/scene.gltf', '--api', url, '--frames', '0', '--size', '96x64', '--format', 'webp', '--out', out, '--api-key', key);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(['frame-0000.webp']);
    expect(r.stdout).toMatch(/Rendered 1 frame\(s\) of 96×64 on http/);
    expect(r.stdout).toMatch(/\n {2}\S+: 1 frame\(s\) of frames 0\n/);
  });

  it('stops every part on SIGTERM, nodes first, and exits 0', async () => {
    farm.kill('SIGTERM');
    expect(await farmExit).toBe(0);
    for (const source of ['s3', 'api', 'node-1', 'node-2']) expect(farmLog).toMatch(new RegExp(`^\\[${source}\\] `, 'm'));
    const stops = ['[node-1] stopped', '[node-2] stopped', '[api] stopped', '[s3] stopped'].map((line) => farmLog.indexOf(line));
    expect(stops.every((i) => i >= 0), farmLog.slice(-2000)).toBe(true);
    expect(Math.max(stops[0], stops[1])).toBeLessThan(stops[2]);
    expect(stops[2]).toBeLessThan(stops[3]);
    expect(existsSync(readyFile)).toBe(false);
  }, 120_000);
});
