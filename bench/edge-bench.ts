/**
 * `npm run bench:edge`: the numbers behind the Workers design choices (README, "Run the API on Cloudflare
 * Workers").
 *   1. Presigning in a Worker: bundle size (esbuild, minified, workerd conditions; raw and gzip) and CPU per
 *      presigned URL of @aws-sdk/s3-request-presigner (with the S3 client it needs) and of aws4fetch.
 *   2. The coordinator's load per task: the real API (createApi) in process on the shared SqlJobStore, a
 *      node driven over its routes (lease, upload to the presigned URL on s3rver, complete): JobStore calls
 *      per task (= Durable Object requests on Workers), SQL statements and rows changed per task, and the
 *      store's time per task (synchronous SQLite: CPU in the object), hence tasks/s one coordinator can take.
 * Writes bench/results/edge-<timestamp>.json and edge-latest.json. Options: --presigns 3000 --jobs 4
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AwsClient } from 'aws4fetch';
import { build } from 'esbuild';
import { createApi } from '../api/core/create-api.ts';
import type { JobStore } from '../api/core/job-store.ts';
import type { SqlDriver } from '../api/core/sql-driver.ts';
import { SqlJobStore } from '../api/core/sql-job-store.ts';
import { FetchS3BlobStore } from '../api/edge/fetch-s3-blob-store.ts';
import { startLocalS3 } from '../api/node/local-s3.ts';
import { createNodeSceneInspector } from '../api/node/node-scene-inspector.ts';
import { openSqliteDriver } from '../api/node/sqlite-job-store.ts';
import { LeasedTask } from '../api/protocol/task.ts';
import { nodeCard } from '../test/support/api-harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({ options: { presigns: { type: 'string', default: '3000' }, jobs: { type: 'string', default: '4' } } });

/** Minified bundle of `source` as a Worker would carry it. */
async function bundleSize(source: string): Promise<{ bytes: number; gzipBytes: number }> {
  const out = await build({
    stdin: { contents: source, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    write: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].contents;
  return { bytes: code.length, gzipBytes: gzipSync(code).length };
}

/** CPU microseconds per call of `fn` over `n` calls, after a warm-up; and the first call's. */
async function cpuPerCall(n: number, fn: (i: number) => Promise<unknown>): Promise<{ firstMs: number; usPerCall: number }> {
  const t0 = performance.now();
  await fn(-1);
  const firstMs = performance.now() - t0;
  for (let i = 0; i < 200; i++) await fn(i);
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const used = process.cpuUsage(before);
  return { firstMs: round(firstMs, 2), usPerCall: round((used.user + used.system) / n, 1) };
}

const round = (v: number, d = 0) => Math.round(v * 10 ** d) / 10 ** d;

async function presignBench(n: number) {
  const cfg = { endpoint: 'https://account.r2.cloudflarestorage.com', region: 'auto', bucket: 'tessera', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
  const sdk = new S3Client({ endpoint: cfg.endpoint, region: cfg.region, forcePathStyle: true, credentials: cfg, requestChecksumCalculation: 'WHEN_REQUIRED' });
  const aws = new AwsClient({ ...cfg, service: 's3' });
  const key = (i: number) => `jobs/job_x/tiles/${i}/0_0.png`;
  const sdkCpu = await cpuPerCall(n, (i) => getSignedUrl(sdk, new GetObjectCommand({ Bucket: cfg.bucket, Key: key(i) }), { expiresIn: 3600 }));
  const fetchStore = new FetchS3BlobStore(cfg);
  const aws4Cpu = await cpuPerCall(n, (i) => fetchStore.presignGet(key(i), 3600));
  void aws;
  return {
    calls: n,
    awsSdk: {
      package: '@aws-sdk/client-s3 + @aws-sdk/s3-request-presigner',
      ...(await bundleSize(`export { S3Client, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'; export { getSignedUrl } from '@aws-sdk/s3-request-presigner';`)),
      ...sdkCpu,
    },
    aws4fetch: { package: 'aws4fetch', ...(await bundleSize(`export { AwsClient } from 'aws4fetch';`)), ...aws4Cpu },
  };
}

/** A SqlDriver that counts statements and rows changed, and times them. */
function countingDriver(inner: SqlDriver) {
  const stats = { statements: 0, rowsChanged: 0, ms: 0 };
  const timed = <T>(fn: () => T): T => {
    const t = performance.now();
    try {
      return fn();
    } finally {
      stats.ms += performance.now() - t;
    }
  };
  const driver: SqlDriver = {
    exec: (sql) => timed(() => inner.exec(sql)),
    all: (sql, params) => (stats.statements++, timed(() => inner.all(sql, params))),
    run: (sql, params) => {
      stats.statements++;
      const n = timed(() => inner.run(sql, params));
      stats.rowsChanged += n;
      return n;
    },
    transaction: (fn) => inner.transaction(fn),
    close: () => inner.close(),
  };
  return { driver, stats };
}

/** A JobStore that counts calls by operation (each one a Durable Object request on Workers). */
function countingStore(inner: JobStore) {
  const calls = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || prop === 'close') return typeof v === 'function' ? v.bind(target) : v;
      return (...a: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...x: unknown[]) => unknown).apply(target, a);
      };
    },
  });
  return { store, calls };
}

async function coordinatorBench(jobs: number) {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-edge-bench-'));
  const s3 = await startLocalS3({ dir: join(dir, 's3') });
  const { driver, stats } = countingDriver(openSqliteDriver(join(dir, 'jobs.sqlite')));
  const { store, calls } = countingStore(new SqlJobStore(driver));
  const key = 'tsk_bench_operator_key';
  const app = createApi({ jobs: store, blobs: new FetchS3BlobStore(s3), inspector: createNodeSceneInspector() }, { apiKeys: [{ key, name: 'bench', role: 'admin' }] });
  const call = async (method: string, path: string, body?: unknown, token = key) => {
    const res = await app.request(path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: res.status === 204 ? null : ((await res.json()) as any) };
  };
  try {
    const scene = await app.request('/v1/scenes', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'model/gltf-binary' },
      body: new Uint8Array(await (await import('node:fs/promises')).readFile(join(ROOT, 'scenes/animated-trs.glb'))),
    });
    const { sceneId } = (await scene.json()) as { sceneId: string };
    const reg = await call('POST', '/v1/nodes', nodeCard('bench-node'));
    const { nodeId, nodeToken } = reg.json as { nodeId: string; nodeToken: string };
    for (let j = 0; j < jobs; j++) await call('POST', '/v1/jobs', { sceneId, frames: `${j}`, size: '512x512', tile: 64 });
    // Count only the work per task from here.
    calls.clear();
    Object.assign(stats, { statements: 0, rowsChanged: 0, ms: 0 });
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
    // The API checks each output against the reported sha256, so report the real one.
    const checksum = createHash('sha256').update(bytes).digest('hex');
    let tasks = 0;
    let leases = 0;
    const started = performance.now();
    for (;;) {
      const leased = await call('POST', `/v1/nodes/${nodeId}/lease`, { waitSeconds: 0 }, nodeToken);
      leases++;
      if (leased.status === 204) break;
      const task = LeasedTask.parse(leased.json);
      await fetch(task.output.url, { method: 'PUT', body: bytes });
      const done = await call('POST', `/v1/tasks/${task.taskId}/complete`, { leaseId: task.leaseId, checksum, bytes: bytes.length, timings: { render: 1 } }, nodeToken);
      if (done.status !== 200) throw new Error(`complete: ${done.status} ${JSON.stringify(done.json)}`);
      tasks++;
    }
    const wallMs = performance.now() - started;
    const totalCalls = [...calls.values()].reduce((a, b) => a + b, 0);
    return {
      jobs,
      tasks,
      shape: '1 frame 512x512 in 64 px tiles per job: 64 render tasks + 1 stitch',
      note: 'the node stitches nothing here (completes with placeholder bytes); the API work per task is the real one',
      storeCallsPerTask: round(totalCalls / tasks, 2),
      storeCallsByOperation: Object.fromEntries([...calls].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / tasks, 2)])),
      sqlStatementsPerTask: round(stats.statements / tasks, 1),
      rowsChangedPerTask: round(stats.rowsChanged / tasks, 1),
      storeMsPerTask: round(stats.ms / tasks, 3),
      apiWallMsPerTask: round(wallMs / tasks, 2),
      finalEmptyLeases: leases - tasks,
    };
  } finally {
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const presign = await presignBench(Number(args.presigns));
const coordinator = await coordinatorBench(Number(args.jobs));
const result = { at: new Date().toISOString(), node: process.version, presign, coordinator };
const outDir = join(ROOT, 'bench/results');
await mkdir(outDir, { recursive: true });
const json = JSON.stringify(result, null, 2) + '\n';
await writeFile(join(outDir, `edge-${result.at.replace(/[:.]/g, '-')}.json`), json);
await writeFile(join(outDir, 'edge-latest.json'), json);
process.stdout.write(json);
