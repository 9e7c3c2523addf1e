import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiMetrics } from '../../api/node/api-metrics.ts';
import { serveMetrics, type MetricsServer } from '../../node-support/serve-metrics.ts';
import type { JobStatus } from '../../api/protocol/job-status.ts';
import { call } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { startTestFarm, type NodeProcess } from '../support/farm.ts';
import { scenePath } from '../support/renderer.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
let apiMetrics: MetricsServer;
let node: NodeProcess;
let nodeMetricsUrl: string;

/** Prometheus text → value of the first sample whose name and labels match (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

const scrape = async (url: string) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/plain; version=0\.0\.4/);
  return res.text();
};

beforeAll(async () => {
  const metrics = createApiMetrics();
  farm = await startTestFarm({ leaseMs: 4000, metrics, api: { verification: { sampleRate: 0 } } });
  apiMetrics = await serveMetrics(metrics.registry, { port: 0 });
  // Per-slot leasing: one lease call per task, which the lease-call counts below assert (batched nodes take most
  // tasks with their completions, so they make fewer lease calls than tasks).
  node = farm.spawnNode('metrics-1', { concurrency: 1, args: ['--metrics-port', '0', '--leasing', 'per-slot'] });
  nodeMetricsUrl = await waitFor('the node metrics URL', async () => node.log.join('\n').match(/metrics on (http:\/\/\S+)/)?.[1]);
}, 120_000);

afterAll(async () => {
  await apiMetrics?.close();
  await farm?.close();
});

describe('/metrics on the API and a render node', () => {
  it('counters move when a job runs', async () => {
    const apiBefore = await scrape(apiMetrics.url);
    const nodeBefore = await scrape(nodeMetricsUrl);
    expect(sample(nodeBefore, 'tessera_node_tasks_total', { kind: 'render', outcome: 'done' })).toBe(0);
    expect(sample(nodeBefore, 'tessera_node_sessions')).toBe(0);
    expect(sample(apiBefore, 'tessera_api_jobs', { state: 'done' })).toBe(0);

    const scene = await call(farm.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('animated-trs'))), type: 'model/gltf-binary' });
    const job = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId: scene.body.sceneId, frames: '0-1', size: '160x120', tile: 80 } });
    expect(job.status).toBe(201);
    await waitFor('the job', async () => {
      const s = (await call<JobStatus>(farm.url, 'GET', `/v1/jobs/${job.body.jobId}`)).body;
      if (s.state === 'failed') throw Object.assign(new Error(s.error ?? 'failed'), { fatal: true });
      return s.state === 'done' ? s : undefined;
    });

    const api = await scrape(apiMetrics.url);
    expect(sample(api, 'tessera_api_jobs', { state: 'done' })).toBe(1);
    // 2 frames × 4 tiles and 2 stitches.
    expect(sample(api, 'tessera_api_tasks', { kind: 'render', state: 'done' })).toBe(8);
    expect(sample(api, 'tessera_api_tasks', { kind: 'stitch', state: 'done' })).toBe(2);
    expect(sample(api, 'tessera_api_lease_seconds_count', { result: 'task' })).toBe(10);
    expect(sample(api, 'tessera_api_http_requests_total', { method: 'POST', status: '201' })).toBeGreaterThanOrEqual(2);
    expect(sample(api, 'tessera_api_nodes', { set: 'recent' })).toBe(1);
    expect(sample(api, 'tessera_api_storage_errors_total', { op: 'get' })).toBe(0);

    // The node counts a task once its completion call returns, which can be just after the API marked the job done.
    const after = await waitFor('the node to count its last task', async () => {
      const text = await scrape(nodeMetricsUrl);
      const done = (kind: string) => sample(text, 'tessera_node_tasks_total', { kind, outcome: 'done' }) ?? 0;
      return done('render') + done('stitch') >= 10 && sample(text, 'tessera_node_running_tasks') === 0 ? text : undefined;
    });
    expect(sample(after, 'tessera_node_tasks_total', { kind: 'render', outcome: 'done' })).toBe(8);
    expect(sample(after, 'tessera_node_tasks_total', { kind: 'stitch', outcome: 'done' })).toBe(2);
    expect(sample(after, 'tessera_node_render_ms_count')).toBe(8);
    expect(sample(after, 'tessera_node_encode_ms_count', { kind: 'stitch' })).toBe(2);
    // One render process: the scene is downloaded once, then found loaded.
    expect(sample(after, 'tessera_node_scene_cache_total', { result: 'download' })).toBe(1);
    expect(sample(after, 'tessera_node_scene_cache_total', { result: 'memory' })).toBe(7);
    expect(sample(after, 'tessera_node_lease_wait_seconds_count', { result: 'task' })).toBe(10);
    expect(sample(after, 'tessera_node_running_tasks')).toBe(0);
    expect(after).toMatch(/tessera_node_info\{node_id="node_metrics-1_[^"]+",version="[^"]+",gl_renderer="[^"]+",tiles_per_second="[\d.]+"\} 1/);
  });
});
