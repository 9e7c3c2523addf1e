/**
 * `npm run bench:edge`: the numbers behind the Workers design choices (README, "Run the API on Cloudflare
 * Workers").
 *   1. Presigning in a Worker: bundle size (esbuild, minified, workerd conditions; raw and gzip) and CPU per
 *      presigned URL of @aws-sdk/s3-request-presigner (with the S3 client it needs) and of aws4fetch.
 *   2. The coordinator's load per task: the real API (createApi) in process on the shared SqlJobStore, with the
 *      Workers notifier (edge-notifier.ts) over a counting stand-in for the Durable Object, a node driven over its
 *      routes (lease, upload to the presigned URL on s3rver, complete), once per leasing mode: `per-slot` (one
 *      lease call and one report per task, the protocol before batching) and `batched` (leases up to the slots
 *      per call, the next tasks with each report). Per task: Durable Object requests (JobStore calls + notify and
 *      wait RPCs), SQL statements and rows changed, the store's time (synchronous SQLite: CPU in the object).
 *   3. Idle nodes: nodes long-polling an empty farm with the Workers settings; Durable Object requests per idle
 *      node per second. From 2 and 3: the tasks/s and idle nodes one object sustains at ~1,000 requests/s.
 * Writes bench/results/edge-<timestamp>.json and edge-latest.json. Options: --presigns 3000 --jobs 4 --idle-seconds 20
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
import { LeaseBatch } from '../api/protocol/node-messages.ts';
import { LeasedTask } from '../api/protocol/task.ts';
import { createNotifier } from '../api/core/notifier.ts';
import { createEdgeNotifier, type NotifyTarget } from '../api/edge/edge-notifier.ts';
import { EDGE_LEASE_RECHECK_MS, EDGE_RECHECK_MS } from '../api/edge/edge-limits.ts';
import { nodeCard } from '../test/support/api-harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: { presigns: { type: 'string', default: '3000' }, jobs: { type: 'string', default: '4' }, 'idle-seconds': { type: 'string', default: '20' }, 'idle-nodes': { type: 'string', default: '4' } },
});
/** Cloudflare's guidance for one Durable Object: about 1,000 requests a second. */
const OBJECT_REQUESTS_PER_SECOND = 1000;

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

/** The Workers notifier over a stand-in for the coordinator object that counts its RPCs (each a Durable Object request). */
function countingEdgeNotifier() {
  const remote = createNotifier();
  const rpcs = { wait: 0, notify: 0 };
  const target: NotifyTarget = {
    wait: async (topic, timeoutMs) => (rpcs.wait++, remote.wait(topic, timeoutMs)),
    notify: async (topics) => {
      rpcs.notify++;
      for (const t of topics) remote.notify(t);
    },
  };
  return { notifier: createEdgeNotifier(() => target), rpcs };
}

type Leasing = 'per-slot' | 'batched';

/** A farm API as the Worker builds it (edge notifier, edge re-check interval), on a counted store, with s3rver. */
async function edgeFarm() {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-edge-bench-'));
  const s3 = await startLocalS3({ dir: join(dir, 's3') });
  const { driver, stats } = countingDriver(openSqliteDriver(join(dir, 'jobs.sqlite')));
  const { store, calls } = countingStore(new SqlJobStore(driver));
  const { notifier, rpcs } = countingEdgeNotifier();
  const key = 'tsk_bench_operator_key';
  const app = createApi({ jobs: store, blobs: new FetchS3BlobStore(s3), inspector: createNodeSceneInspector(), notifier }, { apiKeys: [{ key, name: 'bench', role: 'admin' }], recheckMs: EDGE_RECHECK_MS, leaseRecheckMs: EDGE_LEASE_RECHECK_MS });
  const call = async (method: string, path: string, body?: unknown, token = key) => {
    const res = await app.request(path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    await notifier.flush();
    return { status: res.status, json: res.status === 204 ? null : ((await res.json()) as any) };
  };
  const uploadScene = async (file: string) => {
    const res = await app.request('/v1/scenes', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'model/gltf-binary' },
      body: new Uint8Array(await readFile(file)),
    });
    return ((await res.json()) as { sceneId: string }).sceneId;
  };
  const requests = () => [...calls.values()].reduce((a, b) => a + b, 0) + rpcs.wait + rpcs.notify;
  const reset = () => {
    calls.clear();
    Object.assign(stats, { statements: 0, rowsChanged: 0, ms: 0 });
    Object.assign(rpcs, { wait: 0, notify: 0 });
  };
  const close = async () => {
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  };
  return { call, uploadScene, calls, stats, rpcs, requests, reset, close };
}

async function coordinatorBench(jobs: number, leasing: Leasing) {
  const farm = await edgeFarm();
  const { call, calls, stats, rpcs } = farm;
  try {
    const sceneId = await farm.uploadScene(join(ROOT, 'scenes/animated-trs.glb'));
    const reg = await call('POST', '/v1/nodes', { ...nodeCard('bench-node'), concurrency: 4 });
    const { nodeId, nodeToken } = reg.json as { nodeId: string; nodeToken: string };
    for (let j = 0; j < jobs; j++) await call('POST', '/v1/jobs', { sceneId, frames: `${j}`, size: '512x512', tile: 64 });
    // Count only the work per task from here.
    farm.reset();
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
    // The API checks each output against the reported sha256, so report the real one.
    const checksum = createHash('sha256').update(bytes).digest('hex');
    let tasks = 0;
    let leaseCalls = 0;
    const started = performance.now();
    const complete = async (task: LeasedTask, next?: { max: number }) => {
      await fetch(task.output.url, { method: 'PUT', body: bytes });
      const done = await call('POST', `/v1/tasks/${task.taskId}/complete`, { leaseId: task.leaseId, checksum, bytes: bytes.length, timings: { render: 1 }, ...(next ? { next } : {}) }, nodeToken);
      if (done.status !== 200) throw new Error(`complete: ${done.status} ${JSON.stringify(done.json)}`);
      tasks++;
      return (done.json.next ?? []) as LeasedTask[];
    };
    if (leasing === 'per-slot') {
      for (;;) {
        const leased = await call('POST', `/v1/nodes/${nodeId}/lease`, { waitSeconds: 0 }, nodeToken);
        leaseCalls++;
        if (leased.status === 204) break;
        await complete(LeasedTask.parse(leased.json));
      }
    } else {
      // One slot's worth at a time, as a node with work keeps its slots full: each report leases the next task.
      for (;;) {
        const leased = await call('POST', `/v1/nodes/${nodeId}/lease`, { waitSeconds: 0, max: 4 }, nodeToken);
        leaseCalls++;
        if (leased.status === 204) break;
        const queue = LeaseBatch.parse(leased.json).tasks;
        while (queue.length) queue.push(...(await complete(queue.shift()!, { max: 1 })));
      }
    }
    const wallMs = performance.now() - started;
    const storeCalls = [...calls.values()].reduce((a, b) => a + b, 0);
    return {
      leasing,
      jobs,
      tasks,
      shape: '1 frame 512x512 in 64 px tiles per job: 64 render tasks + 1 stitch; a node with 4 slots',
      note: 'the node stitches nothing here (completes with placeholder bytes); the API work per task is the real one',
      objectRequestsPerTask: round(farm.requests() / tasks, 2),
      storeCallsPerTask: round(storeCalls / tasks, 2),
      notifierRpcsPerTask: { wait: round(rpcs.wait / tasks, 2), notify: round(rpcs.notify / tasks, 2) },
      storeCallsByOperation: Object.fromEntries([...calls].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / tasks, 2)])),
      leaseCallsPerTask: round(leaseCalls / tasks, 2),
      sqlStatementsPerTask: round(stats.statements / tasks, 1),
      rowsChangedPerTask: round(stats.rowsChanged / tasks, 1),
      storeMsPerTask: round(stats.ms / tasks, 3),
      apiWallMsPerTask: round(wallMs / tasks, 2),
    };
  } finally {
    await farm.close();
  }
}

/** Idle nodes long-polling an empty farm: Durable Object requests per idle node per second. */
async function idleBench(nodes: number, seconds: number) {
  const farm = await edgeFarm();
  try {
    const regs = [];
    for (let i = 0; i < nodes; i++) regs.push((await farm.call('POST', '/v1/nodes', nodeCard(`idle-${i}`))).json as { nodeId: string; nodeToken: string });
    // Every node has asked once (a node starting up), then the counting starts.
    await Promise.all(regs.map((r) => farm.call('POST', `/v1/nodes/${r.nodeId}/lease`, { waitSeconds: 0, max: 2 }, r.nodeToken)));
    farm.reset();
    const started = performance.now();
    const end = started + seconds * 1000;
    let polls = 0;
    await Promise.all(
      regs.map(async (r) => {
        while (performance.now() < end - 50) {
          const left = Math.max(0, Math.min(25, (end - performance.now()) / 1000));
          await farm.call('POST', `/v1/nodes/${r.nodeId}/lease`, { waitSeconds: left, max: 2 }, r.nodeToken);
          polls++;
        }
      }),
    );
    const nodeSeconds = (nodes * (performance.now() - started)) / 1000;
    return {
      nodes,
      seconds,
      leaseRecheckMs: EDGE_LEASE_RECHECK_MS,
      longPolls: polls,
      objectRequestsPerIdleNodePerSecond: round(farm.requests() / nodeSeconds, 3),
      storeCallsByOperation: Object.fromEntries([...farm.calls].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / nodeSeconds, 3)])),
      notifierRpcsPerIdleNodePerSecond: { wait: round(farm.rpcs.wait / nodeSeconds, 3), notify: round(farm.rpcs.notify / nodeSeconds, 3) },
    };
  } finally {
    await farm.close();
  }
}

const presign = await presignBench(Number(args.presigns));
const perSlot = await coordinatorBench(Number(args.jobs), 'per-slot');
const batched = await coordinatorBench(Number(args.jobs), 'batched');
const idle = await idleBench(Number(args['idle-nodes']), Number(args['idle-seconds']));
const capacity = (perTask: number) => ({
  tasksPerSecond: Math.round(OBJECT_REQUESTS_PER_SECOND / perTask),
  idleNodes: Math.round(OBJECT_REQUESTS_PER_SECOND / Math.max(idle.objectRequestsPerIdleNodePerSecond, 1e-6)),
});
const result = {
  at: new Date().toISOString(),
  node: process.version,
  presign,
  coordinator: { perSlot, batched },
  idle,
  perObject: {
    assumedRequestsPerSecond: OBJECT_REQUESTS_PER_SECOND,
    perSlot: capacity(perSlot.objectRequestsPerTask),
    batched: capacity(batched.objectRequestsPerTask),
    goals: { requestsPerTask: 2, requestsPerIdleNodePerSecond: 0.05, tasksPerSecond: 500, idleNodes: 10_000 },
  },
};
const outDir = join(ROOT, 'bench/results');
await mkdir(outDir, { recursive: true });
const json = JSON.stringify(result, null, 2) + '\n';
await writeFile(join(outDir, `edge-${result.at.replace(/[:.]/g, '-')}.json`), json);
await writeFile(join(outDir, 'edge-latest.json'), json);
process.stdout.write(json);
const row = (label: string, r: typeof perSlot) => `${label.padEnd(34)} ${String(r.objectRequestsPerTask).padStart(6)} ${String(r.storeCallsPerTask).padStart(8)} ${String(r.notifierRpcsPerTask.wait + r.notifierRpcsPerTask.notify).padStart(8)} ${String(capacity(r.objectRequestsPerTask).tasksPerSecond).padStart(8)}`;
process.stdout.write(
  [
    '',
    `${'Durable Object requests per task'.padEnd(34)} ${'total'.padStart(6)} ${'store'.padStart(8)} ${'notify'.padStart(8)} ${'tasks/s'.padStart(8)}`,
    row('per-slot (before batching)', perSlot),
    row('batched', batched),
    `idle long-polls: ${idle.objectRequestsPerIdleNodePerSecond} requests per idle node per second (timer re-check every ${EDGE_LEASE_RECHECK_MS} ms, else wake-ups and store deadlines only) → ${capacity(1).idleNodes} idle nodes per object`,
    '',
  ].join('\n'),
);
