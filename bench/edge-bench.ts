/**
 * `npm run bench:edge`: the numbers behind the Workers design choices (docs/workers-edge.md; the README's
 * "Run the API on Cloudflare Workers" has the goals table).
 *   1. Presigning in a Worker: bundle size (esbuild, minified, workerd conditions; raw and gzip) and CPU per
 *      presigned URL of @aws-sdk/s3-request-presigner (with the S3 client it needs) and of aws4fetch.
 *   2. The coordinator's load per task: the real API (createApi) in process, built as the Worker builds it: the
 *      Durable Object job store and the Workers notifier (edge-notifier.ts) over the coordinator's own logic
 *      (CoordinatorCore, what the object runs, on the shared SqlJobStore) behind a stand-in stub that counts each
 *      call, wait and notify as one Durable Object request. A node driven over its routes (lease up to its slots,
 *      upload to the presigned URL on s3rver, complete with `next`), side by side: `per-operation` (before: each
 *      store operation its own request, the Worker's waits and wake-ups separate requests) and `one-call` (after:
 *      one composite store call per route, the object announcing its own changes and holding idle long-polls).
 *      Per task: Durable Object requests, SQL statements and rows changed, the store's time (CPU in the object).
 *   3. Idle nodes: nodes long-polling an empty farm with the Workers settings, both ways; Durable Object requests
 *      per idle node per second. From 2 and 3: the tasks/s and idle nodes one object sustains at ~1,000 requests/s.
 * The same figures against `wrangler dev` (real workerd, real RPCs): bench/edge-load.ts (`npm run bench:edge-load`).
 * Writes bench/results/edge-<timestamp>.json and edge-latest.json. Options: --presigns 3000 --jobs 4 --idle-seconds 50
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
import type { SqlDriver } from '../api/core/sql-driver.ts';
import { SqlJobStore } from '../api/core/sql-job-store.ts';
import { FetchS3BlobStore } from '../api/edge/fetch-s3-blob-store.ts';
import { startLocalS3 } from '../api/node/local-s3.ts';
import { createNodeSceneInspector } from '../api/node/node-scene-inspector.ts';
import { openSqliteDriver } from '../api/node/sqlite-job-store.ts';
import { LeaseBatch } from '../api/protocol/node-messages.ts';
import { LeasedTask, NODE_PROTOCOL_VERSION } from '../api/protocol/task.ts';
import { createEdgeNotifier, type NotifyTarget } from '../api/edge/edge-notifier.ts';
import { CoordinatorCore } from '../api/edge/coordinator-core.ts';
import { createDurableJobStore } from '../api/edge/durable-job-store.ts';
import { SqlSessionStore } from '../api/core/sql-session-store.ts';
import { perOperationJobStore } from './per-operation-job-store.ts';
import { EDGE_LEASE_RECHECK_MS, EDGE_RECHECK_MS } from '../api/edge/edge-limits.ts';
import { nodeCard } from '../test/support/api-harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: { presigns: { type: 'string', default: '3000' }, jobs: { type: 'string', default: '4' }, 'idle-seconds': { type: 'string', default: '50' }, 'idle-nodes': { type: 'string', default: '4' } },
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

type Mode = 'per-operation' | 'one-call';

/** Store operations made per second (sweeps, node directory refreshes), not per task. */
const BACKGROUND = new Set(['countNodeTasks', 'listNodes', 'skipStrandedVerifications']);

/**
 * A farm API as the Worker builds it (Durable Object job store, edge notifier, edge re-check interval) over the
 * coordinator's logic in process, each call, wait and notify counted as one Durable Object request; with s3rver.
 */
async function edgeFarm(mode: Mode) {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-edge-bench-'));
  const s3 = await startLocalS3({ dir: join(dir, 's3') });
  const { driver, stats } = countingDriver(openSqliteDriver(join(dir, 'jobs.sqlite')));
  const core = new CoordinatorCore(() => ({ jobs: new SqlJobStore(driver), sessions: new SqlSessionStore(driver) }));
  const calls = new Map<string, number>();
  const rpcs = { wait: 0, notify: 0 };
  const durable = createDurableJobStore({
    call: async (method, a) => {
      calls.set(method, (calls.get(method) ?? 0) + 1);
      // As across the RPC boundary: the object gets and answers copies; a function goes as a stub the object calls
      // back (the completion's decision), its arguments and answer copied too, and is no request to the object.
      const args = a.map((v) => (typeof v === 'function' ? async (...x: unknown[]) => structuredClone(await v(...structuredClone(x))) : structuredClone(v)));
      return structuredClone(await core.call(method, args));
    },
  });
  const store = mode === 'one-call' ? durable : perOperationJobStore(durable);
  const target: NotifyTarget = {
    wait: async (topic, timeoutMs) => (rpcs.wait++, core.wait(topic, timeoutMs)),
    notify: async (topics) => (rpcs.notify++, core.notify(topics)),
  };
  const notifier = createEdgeNotifier(() => target);
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

async function coordinatorBench(jobs: number, mode: Mode) {
  const farm = await edgeFarm(mode);
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
      // Report, then PUT through the URL signed for exactly these bytes (node protocol 2).
      const ticket = await call('POST', `/v1/tasks/${task.taskId}/upload`, { token: task.output.token, bytes: bytes.length, checksum }, nodeToken);
      if (ticket.status !== 200) throw new Error(`upload ticket: ${ticket.status} ${JSON.stringify(ticket.json)}`);
      const put = await fetch(ticket.json.url, { method: 'PUT', body: bytes, headers: ticket.json.headers });
      if (!put.ok) throw new Error(`PUT ${ticket.json.url}: ${put.status} ${await put.text()}`);
      const done = await call('POST', `/v1/tasks/${task.taskId}/complete`, { leaseId: task.leaseId, checksum, bytes: bytes.length, timings: { render: 1 }, ...(next ? { next } : {}) }, nodeToken);
      if (done.status !== 200) throw new Error(`complete: ${done.status} ${JSON.stringify(done.json)}`);
      tasks++;
      return (done.json.next ?? []) as LeasedTask[];
    };
    // One slot's worth at a time, as a node with work keeps its slots full: each report leases the next task.
    for (;;) {
      const leased = await call('POST', `/v1/nodes/${nodeId}/lease`, { waitSeconds: 0, max: 4, protocol: NODE_PROTOCOL_VERSION }, nodeToken);
      leaseCalls++;
      if (leased.status === 204) break;
      const queue = LeaseBatch.parse(leased.json).tasks;
      while (queue.length) queue.push(...(await complete(queue.shift()!, { max: 1 })));
    }
    const wallMs = performance.now() - started;
    const storeCalls = [...calls.values()].reduce((a, b) => a + b, 0);
    const requestsForTasks = farm.requests();
    const byOperation = [...calls];
    const notifierForTasks = { ...rpcs };
    // Heartbeats of a node with nothing leased (what an idle node sends between long-polls).
    const beforeBeats = farm.requests();
    const beats = 20;
    for (let i = 0; i < beats; i++) {
      const hb = await call('POST', `/v1/nodes/${nodeId}/heartbeat`, { leaseIds: [], load: 0 }, nodeToken);
      if (hb.status !== 200) throw new Error(`heartbeat: ${hb.status} ${JSON.stringify(hb.json)}`);
    }
    const requestsPerHeartbeat = round((farm.requests() - beforeBeats) / beats, 2);
    return {
      mode,
      jobs,
      tasks,
      shape: '1 frame 512x512 in 64 px tiles per job: 64 render tasks + 1 stitch; a node with 4 slots',
      note: 'the node stitches nothing here (completes with placeholder bytes); the API work per task is the real one',
      objectRequestsPerTask: round(requestsForTasks / tasks, 2),
      // The part that comes per second rather than per task (verification sweeps and the node lists they and sampling
      // read, each at most once a second per isolate): what it adds per task shrinks as the task rate grows.
      backgroundRequestsPerSecond: round(byOperation.filter(([k]) => BACKGROUND.has(k)).reduce((a, [, v]) => a + v, 0) / (wallMs / 1000), 2),
      routeRequestsPerTask: round((requestsForTasks - byOperation.filter(([k]) => BACKGROUND.has(k)).reduce((a, [, v]) => a + v, 0)) / tasks, 2),
      objectRequestsPerHeartbeat: requestsPerHeartbeat,
      storeCallsPerTask: round(storeCalls / tasks, 2),
      notifierRpcsPerTask: { wait: round(notifierForTasks.wait / tasks, 2), notify: round(notifierForTasks.notify / tasks, 2) },
      storeCallsByOperation: Object.fromEntries(byOperation.sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / tasks, 2)])),
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
async function idleBench(nodes: number, seconds: number, mode: Mode) {
  const farm = await edgeFarm(mode);
  try {
    const regs = [];
    for (let i = 0; i < nodes; i++) regs.push((await farm.call('POST', '/v1/nodes', nodeCard(`idle-${i}`))).json as { nodeId: string; nodeToken: string });
    // Every node has asked once (a node starting up), then the counting starts.
    await Promise.all(regs.map((r) => farm.call('POST', `/v1/nodes/${r.nodeId}/lease`, { waitSeconds: 0, max: 2, protocol: NODE_PROTOCOL_VERSION }, r.nodeToken)));
    farm.reset();
    const started = performance.now();
    const end = started + seconds * 1000;
    let polls = 0;
    await Promise.all(
      regs.map(async (r) => {
        while (performance.now() < end - 50) {
          const left = Math.max(0, Math.min(25, (end - performance.now()) / 1000));
          await farm.call('POST', `/v1/nodes/${r.nodeId}/lease`, { waitSeconds: left, max: 2, protocol: NODE_PROTOCOL_VERSION }, r.nodeToken);
          polls++;
        }
      }),
    );
    const nodeSeconds = (nodes * (performance.now() - started)) / 1000;
    return {
      mode,
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
const before = await coordinatorBench(Number(args.jobs), 'per-operation');
const after = await coordinatorBench(Number(args.jobs), 'one-call');
const [idleBefore, idleAfter] = await Promise.all([
  idleBench(Number(args['idle-nodes']), Number(args['idle-seconds']), 'per-operation'),
  idleBench(Number(args['idle-nodes']), Number(args['idle-seconds']), 'one-call'),
]);
const capacity = (perTask: number, perIdle: number) => ({
  tasksPerSecond: Math.round(OBJECT_REQUESTS_PER_SECOND / perTask),
  idleNodes: Math.round(OBJECT_REQUESTS_PER_SECOND / Math.max(perIdle, 1e-6)),
});
const result = {
  at: new Date().toISOString(),
  node: process.version,
  presign,
  coordinator: { before, after },
  idle: { before: idleBefore, after: idleAfter },
  perObject: {
    assumedRequestsPerSecond: OBJECT_REQUESTS_PER_SECOND,
    before: capacity(before.objectRequestsPerTask, idleBefore.objectRequestsPerIdleNodePerSecond),
    after: capacity(after.objectRequestsPerTask, idleAfter.objectRequestsPerIdleNodePerSecond),
    goals: { requestsPerTask: 2, requestsPerIdleNodePerSecond: 0.05, tasksPerSecond: 500, idleNodes: 10_000 },
  },
};
const outDir = join(ROOT, 'bench/results');
await mkdir(outDir, { recursive: true });
const json = JSON.stringify(result, null, 2) + '\n';
await writeFile(join(outDir, `edge-${result.at.replace(/[:.]/g, '-')}.json`), json);
await writeFile(join(outDir, 'edge-latest.json'), json);
process.stdout.write(json);
const cell = (v: unknown, w = 12) => String(v).padStart(w);
process.stdout.write(
  [
    '',
    `${'Durable Object requests'.padEnd(40)} ${cell('before')} ${cell('after')} ${cell('goal')}`,
    `${'per task (lease, upload, complete+next)'.padEnd(40)} ${cell(before.objectRequestsPerTask)} ${cell(after.objectRequestsPerTask)} ${cell('≤ 2')}`,
    `${'  of which per route'.padEnd(40)} ${cell(before.routeRequestsPerTask)} ${cell(after.routeRequestsPerTask)}`,
    `${'  + per second (sweeps, node lists)'.padEnd(40)} ${cell(before.backgroundRequestsPerSecond)} ${cell(after.backgroundRequestsPerSecond)}`,
    `${'per idle node per second'.padEnd(40)} ${cell(idleBefore.objectRequestsPerIdleNodePerSecond)} ${cell(idleAfter.objectRequestsPerIdleNodePerSecond)} ${cell('≤ 0.05')}`,
    `${'per heartbeat'.padEnd(40)} ${cell(before.objectRequestsPerHeartbeat)} ${cell(after.objectRequestsPerHeartbeat)} ${cell('1')}`,
    `${'tasks/s one object sustains'.padEnd(40)} ${cell(result.perObject.before.tasksPerSecond)} ${cell(result.perObject.after.tasksPerSecond)} ${cell('≥ 500')}`,
    `${'idle nodes one object sustains'.padEnd(40)} ${cell(result.perObject.before.idleNodes)} ${cell(result.perObject.after.idleNodes)} ${cell('≥ 10,000')}`,
    `(at ~${OBJECT_REQUESTS_PER_SECOND} requests/s per object; "before": each store operation, wait and wake-up its own request)`,
    '',
  ].join('\n'),
);
