/**
 * `npm run bench:edge-load`: a load test of the edge API under `wrangler dev` (workerd: the Worker and its
 * coordinator Durable Object on local SQLite storage, s3rver for blobs). Simulated nodes (no rendering) lease
 * tasks up to their slots and complete each with `next` after uploading placeholder bytes to its presigned URL;
 * then a node reports failed attempts (what one report costs, counted apart); then idle nodes long-poll the empty
 * farm, and heartbeat with nothing new (what one costs, counted apart); then forged node tokens are sent to every
 * node route. The coordinator counts the requests it serves (calls, waits,
 * notifies), read through GET /v1/admin/coordinator-requests with the operator key (job status reads that check
 * the busy phase is over are counted apart and left out). Reports Durable Object requests per task, per idle
 * node per second (long-polls alone, and with heartbeats every interval as nodes sent them before, or idle
 * nodes' rarer ones: render-node/agent/heartbeat-schedule.ts), per heartbeat and per forged call, and from them
 * the tasks/s and idle nodes one object sustains at Cloudflare's ~1,000 requests/s per object; also the tasks/s
 * this machine reached through wrangler dev (a lower bound: one machine plays the nodes, workerd and S3).
 * Writes bench/results/edge-load-<timestamp>.json and edge-load-latest.json (--out-name NAME: NAME-… instead).
 * Options: --nodes 4 --jobs 6 --fail-rounds 5 --idle-nodes 20 --idle-seconds 50 --port 8797 --label after
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startEdgeDev } from '../infra/farm/start-edge-dev.ts';
import { LeaseBatch } from '../api/protocol/node-messages.ts';
import { NODE_PROTOCOL_VERSION, type LeasedTask } from '../api/protocol/task.ts';
import { nodeCard } from '../test/support/api-harness.ts';
import { IDLE_HEARTBEAT_EVERY } from '../render-node/agent/heartbeat-schedule.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '4' },
    jobs: { type: 'string', default: '6' },
    'idle-nodes': { type: 'string', default: '20' },
    'idle-seconds': { type: 'string', default: '50' },
    port: { type: 'string', default: '8797' },
    label: { type: 'string', default: '' },
    'out-name': { type: 'string', default: 'edge-load' },
    'fail-rounds': { type: 'string', default: '5' },
  },
});
/** Cloudflare's guidance for one Durable Object: about 1,000 requests a second. */
const OBJECT_REQUESTS_PER_SECOND = 1000;
const round = (v: number, d = 0) => Math.round(v * 10 ** d) / 10 ** d;
/** An answer for an error message: status and the start of the body (a lease answer can be long). */
const brief = (r: { status: number; json: unknown }) => `${r.status} ${JSON.stringify(r.json).slice(0, 300)}`;

const dir = await mkdtemp(join(tmpdir(), 'tessera-edge-load-'));
const edge = await startEdgeDev({ port: Number(args.port), dataDir: dir, apiKey: 'tsk_edge_load_operator_key', log: (line) => (/error/i.test(line) ? process.stderr.write(`${line}\n`) : undefined) });
try {
  const key = edge.apiKey.key;
  const api = async (method: string, path: string, body?: unknown, token = key) => {
    const res = await fetch(`${edge.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: res.status === 204 ? null : ((await res.json()) as any) };
  };
  const requests = async () => {
    const r = await api('GET', '/v1/admin/coordinator-requests');
    if (r.status !== 200) throw new Error(`coordinator-requests: ${brief(r)}`);
    return r.json.requests as number;
  };
  const register = async (name: string, concurrency: number) => {
    const r = await api('POST', '/v1/nodes', { ...nodeCard(name), concurrency });
    if (r.status !== 201) throw new Error(`register: ${brief(r)}`);
    return r.json as { nodeId: string; nodeToken: string; heartbeatIntervalMs: number };
  };

  // Work: jobs of one 512×512 frame in 64 px tiles (64 renders + 1 stitch each).
  const scene = await fetch(`${edge.url}/v1/scenes`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'model/gltf-binary' }, body: new Uint8Array(await readFile(join(ROOT, 'scenes/animated-trs.glb'))) });
  const { sceneId } = (await scene.json()) as { sceneId: string };
  const busy = [];
  for (let i = 0; i < Number(args.nodes); i++) busy.push(await register(`load-${i}`, 4));
  const jobIds: string[] = [];
  for (let j = 0; j < Number(args.jobs); j++) {
    const r = await api('POST', '/v1/jobs', { sceneId, frames: `${j}`, size: '512x512', tile: 64 });
    if (r.status !== 201 && r.status !== 202 && r.status !== 200) throw new Error(`job: ${brief(r)}`);
    jobIds.push(r.json.jobId);
  }
  /** Requests spent checking the jobs' states (not the nodes' work): left out of the per-task count. */
  let statusRequests = 0;
  let checking: Promise<boolean> | undefined;
  /** Whether every job is done; its own requests are counted apart. */
  const allDone = () =>
    (checking ??= (async () => {
      const before = await requests();
      const states = await Promise.all(jobIds.map(async (id) => (await api('GET', `/v1/jobs/${id}?tasksLimit=1`)).json.state as string));
      statusRequests += (await requests()) - before;
      const failed = states.find((st) => st === 'failed' || st === 'cancelled');
      if (failed) throw new Error(`a job ${failed}`);
      return states.every((st) => st === 'done');
    })().finally(() => (checking = undefined)));
  const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
  const checksum = createHash('sha256').update(bytes).digest('hex');
  let tasks = 0;
  const startCount = await requests();
  const started = performance.now();
  await Promise.all(
    busy.map(async ({ nodeId, nodeToken }) => {
      let idling = false;
      for (;;) {
        const leased = await api('POST', `/v1/nodes/${nodeId}/lease`, { waitSeconds: idling ? 2 : 0, max: 4, protocol: NODE_PROTOCOL_VERSION }, nodeToken);
        // Nothing now: done when every job is (a retry after a lease lost under load may be waiting out its backoff);
        // else long-poll (one request per poll, woken by the work other nodes finish) rather than ask again and again.
        idling = leased.status === 204;
        if (leased.status === 204) {
          if (await allDone()) return;
          continue;
        }
        if (leased.status !== 200) throw new Error(`lease: ${brief(leased)}`);
        const queue: LeasedTask[] = LeaseBatch.parse(leased.json).tasks;
        // Its slots kept full: each report brings the next task.
        await Promise.all(
          queue.map(async (first) => {
            for (let task: LeasedTask | undefined = first; task; ) {
              // Report, then PUT through the URL signed for exactly these bytes (node protocol 2).
              const ticket = await api('POST', `/v1/tasks/${task.taskId}/upload`, { token: task.output.token, bytes: bytes.length, checksum }, nodeToken);
              if (ticket.status !== 200) throw new Error(`upload ticket: ${ticket.status} ${JSON.stringify(ticket.json)}`);
              const put = await fetch(ticket.json.url, { method: 'PUT', body: bytes, headers: ticket.json.headers });
              if (!put.ok) throw new Error(`PUT: ${put.status} ${await put.text()}`);
              const done = await api('POST', `/v1/tasks/${task.taskId}/complete`, { leaseId: task.leaseId, checksum, bytes: bytes.length, timings: { render: 1 }, next: { max: 1 } }, nodeToken);
              if (done.status !== 200) throw new Error(`complete: ${brief(done)}`);
              tasks++;
              task = (done.json.next as LeasedTask[])[0];
            }
          }),
        );
      }
    }),
  );
  const wallS = (performance.now() - started) / 1000;
  const taskRequests = (await requests()) - startCount - statusRequests;
  const perTask = round(taskRequests / tasks, 2);
  process.stdout.write(`${args.label} busy: ${tasks} tasks, ${taskRequests} Durable Object requests (${perTask} per task; ${statusRequests} status reads left out), ${round(tasks / wallS, 1)} tasks/s here\n`);

  // Failed attempts: a node leases tasks up to its slots and reports each failed (a GL context lost, say); what one
  // report costs, counted around the reports alone. Then the job is cancelled, so the farm is empty for the idle phase.
  const failer = await register('failer', 4);
  const failJob = await api('POST', '/v1/jobs', { sceneId, frames: '0', size: '512x512', tile: 64 });
  if (failJob.status !== 201 && failJob.status !== 202 && failJob.status !== 200) throw new Error(`job: ${brief(failJob)}`);
  let fails = 0;
  let failRequests = 0;
  for (let r = 0; r < Number(args['fail-rounds']); r++) {
    const leased = await api('POST', `/v1/nodes/${failer.nodeId}/lease`, { waitSeconds: 0, max: 4, protocol: NODE_PROTOCOL_VERSION }, failer.nodeToken);
    if (leased.status !== 200) throw new Error(`fail-phase lease: ${brief(leased)}`);
    const held: LeasedTask[] = LeaseBatch.parse(leased.json).tasks;
    const before = await requests();
    await Promise.all(
      held.map(async (task) => {
        const r = await api('POST', `/v1/tasks/${task.taskId}/fail`, { leaseId: task.leaseId, reason: 'edge-load: simulated failure', sceneFault: false }, failer.nodeToken);
        if (r.status !== 200) throw new Error(`fail: ${brief(r)}`);
        fails++;
      }),
    );
    failRequests += (await requests()) - before;
  }
  const perFail = round(failRequests / Math.max(1, fails), 2);
  const cancelled = await api('DELETE', `/v1/jobs/${failJob.json.jobId}`);
  if (cancelled.status !== 200) throw new Error(`cancel: ${brief(cancelled)}`);
  process.stdout.write(`${args.label} fail: ${fails} failed attempts reported, ${failRequests} Durable Object requests (${perFail} per report)\n`);

  // Idle: nodes long-polling the empty farm.
  const idle = [];
  for (let i = 0; i < Number(args['idle-nodes']); i++) idle.push(await register(`idle-${i}`, 2));
  await Promise.all(idle.map((n) => api('POST', `/v1/nodes/${n.nodeId}/lease`, { waitSeconds: 0, max: 2, protocol: NODE_PROTOCOL_VERSION }, n.nodeToken)));
  const idleStartCount = await requests();
  const idleStarted = performance.now();
  const end = idleStarted + Number(args['idle-seconds']) * 1000;
  let polls = 0;
  await Promise.all(
    idle.map(async (n) => {
      while (performance.now() < end - 50) {
        const left = Math.max(0, Math.min(25, (end - performance.now()) / 1000));
        const r = await api('POST', `/v1/nodes/${n.nodeId}/lease`, { waitSeconds: left, max: 2, protocol: NODE_PROTOCOL_VERSION }, n.nodeToken);
        if (r.status !== 204) throw new Error(`idle lease: ${brief(r)}`);
        polls++;
      }
    }),
  );
  const nodeSeconds = (idle.length * (performance.now() - idleStarted)) / 1000;
  const idleRequests = (await requests()) - idleStartCount;
  const perPoll = round(idleRequests / nodeSeconds, 4);

  // Heartbeats with nothing new (no leases, no measurements), three per idle node: what one costs.
  await Promise.all(idle.map((n) => api('POST', `/v1/nodes/${n.nodeId}/heartbeat`, { leaseIds: [], load: 0 }, n.nodeToken)));
  const beatStart = await requests();
  let beats = 0;
  for (let beat = 0; beat < 3; beat++) {
    await Promise.all(
      idle.map(async (n) => {
        const r = await api('POST', `/v1/nodes/${n.nodeId}/heartbeat`, { leaseIds: [], load: 0 }, n.nodeToken);
        if (r.status !== 200) throw new Error(`heartbeat: ${brief(r)}`);
        beats++;
      }),
    );
  }
  const perBeat = round(((await requests()) - beatStart) / beats, 3);
  const intervalS = idle[0].heartbeatIntervalMs / 1000;
  const withBeats = (everyIntervals: number) => round(perPoll + perBeat / (intervalS * everyIntervals), 4);

  // Forged node tokens on every node route: refused before the coordinator (signed tokens) or by it.
  const victim = idle[0];
  const [prefix, , exp, nonce, mac] = victim.nodeToken.split('.');
  const forgedTokens = [
    'e'.repeat(64),
    ...(mac ? [`${prefix}.${victim.nodeId}.${exp}.${nonce}.${mac.slice(0, -2)}${mac.at(-2) === 'A' ? 'B' : 'A'}${mac.at(-1)}`] : []),
  ];
  const forgedStart = await requests();
  let forged = 0;
  for (const token of forgedTokens) {
    for (let i = 0; i < 10; i++) {
      for (const [method, path, body] of [
        ['POST', `/v1/nodes/${victim.nodeId}/lease`, { waitSeconds: 0 }],
        ['POST', `/v1/nodes/${victim.nodeId}/heartbeat`, { leaseIds: [], load: 0 }],
        ['POST', '/v1/tasks/task_forged/complete', { leaseId: 'lease_forged', checksum: '0'.repeat(64), bytes: 1 }],
        ['POST', '/v1/tasks/task_forged/fail', { leaseId: 'lease_forged', reason: 'forged', sceneFault: false }],
      ] as const) {
        const r = await api(method, path, body, token);
        if (r.status !== 401) throw new Error(`forged ${path}: ${brief(r)}`);
        forged++;
      }
    }
  }
  const perForged = round(((await requests()) - forgedStart) / forged, 3);

  const perIdle = withBeats(IDLE_HEARTBEAT_EVERY);
  const result = {
    at: new Date().toISOString(),
    label: args.label || undefined,
    node: process.version,
    runtime: 'wrangler dev (workerd), coordinator Durable Object on local SQLite storage, s3rver',
    busy: { nodes: busy.length, slotsPerNode: 4, jobs: Number(args.jobs), tasks, wallSeconds: round(wallS, 1), tasksPerSecondHere: round(tasks / wallS, 1), objectRequests: taskRequests, objectRequestsPerTask: perTask, statusReadRequestsLeftOut: statusRequests },
    idle: {
      nodes: idle.length,
      seconds: Number(args['idle-seconds']),
      longPolls: polls,
      objectRequests: idleRequests,
      objectRequestsPerIdleNodePerSecondLongPollsOnly: perPoll,
      heartbeats: beats,
      objectRequestsPerHeartbeat: perBeat,
      heartbeatIntervalSeconds: intervalS,
      // Long-polls plus an idle heartbeat every interval (render nodes before) or every IDLE_HEARTBEAT_EVERY intervals (now).
      objectRequestsPerIdleNodePerSecondHeartbeatingEveryInterval: withBeats(1),
      objectRequestsPerIdleNodePerSecond: perIdle,
      idleHeartbeatEveryIntervals: IDLE_HEARTBEAT_EVERY,
    },
    fail: { reports: fails, objectRequests: failRequests, objectRequestsPerReport: perFail },
    forged: { calls: forged, objectRequestsPerCall: perForged },
    perObject: {
      assumedRequestsPerSecond: OBJECT_REQUESTS_PER_SECOND,
      tasksPerSecond: Math.round(OBJECT_REQUESTS_PER_SECOND / perTask),
      idleNodes: Math.round(OBJECT_REQUESTS_PER_SECOND / Math.max(perIdle, 1e-6)),
      idleNodesHeartbeatingEveryInterval: Math.round(OBJECT_REQUESTS_PER_SECOND / Math.max(withBeats(1), 1e-6)),
      goals: { requestsPerTask: 2, requestsPerIdleNodePerSecond: 0.05, tasksPerSecond: 500, idleNodes: 10_000 },
    },
  };
  const outDir = join(ROOT, 'bench/results');
  await mkdir(outDir, { recursive: true });
  const json = JSON.stringify(result, null, 2) + '\n';
  const name = args['out-name'];
  await writeFile(join(outDir, `${name}-${result.at.replace(/[:.]/g, '-')}.json`), json);
  await writeFile(join(outDir, `${name}-latest.json`), json);
  process.stdout.write(json);
  process.stdout.write(
    `\nwrangler dev${args.label ? ` (${args.label})` : ''}: ${perTask} Durable Object requests per task (goal ≤ 2), ${perIdle} per idle node per second with its heartbeats (goal ≤ 0.05;` +
      ` ${perPoll} long-polls alone, ${withBeats(1)} heartbeating every interval), ${perBeat} per heartbeat, ${perFail} per failed-attempt report, ${perForged} per forged node call` +
      ` → one object sustains ~${result.perObject.tasksPerSecond} tasks/s and ~${result.perObject.idleNodes} idle nodes at ${OBJECT_REQUESTS_PER_SECOND} requests/s` +
      ` (this machine pushed ${result.busy.tasksPerSecondHere} tasks/s through wrangler dev)\n`,
  );
} finally {
  await edge.close();
  await rm(dir, { recursive: true, force: true });
}
