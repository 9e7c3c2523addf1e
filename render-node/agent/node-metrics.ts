/**
 * A render node's Prometheus metrics (prom-client), served by `serveMetrics` (node-support). The listener is separate
 * from the public probe server (which anyone on the internet may ping) and binds 127.0.0.1 unless told
 * otherwise: task counts and timings are for the operator's Prometheus, not for clients.
 */
import client from 'prom-client';
import type { SceneSource } from './scene-cache.ts';

/** How a leased task ended on this node. */
export type TaskOutcomeLabel = 'done' | 'failed' | 'abandoned' | 'handed_back';

const MS_BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];

export class NodeMetrics {
  readonly registry = new client.Registry();
  readonly #tasks = new client.Counter({ name: 'tessera_node_tasks_total', help: 'Tasks this node leased, by kind and outcome (done, failed, abandoned: lease revoked, handed_back: drain).', labelNames: ['kind', 'outcome'], registers: [this.registry] });
  readonly #renderMs = new client.Histogram({ name: 'tessera_node_render_ms', help: 'GPU render time of render tasks (pose + draw), ms.', buckets: MS_BUCKETS, registers: [this.registry] });
  readonly #encodeMs = new client.Histogram({ name: 'tessera_node_encode_ms', help: 'Encode time of task outputs (PNG/WebP/JPEG), ms.', labelNames: ['kind'], buckets: MS_BUCKETS, registers: [this.registry] });
  readonly #taskMs = new client.Histogram({ name: 'tessera_node_task_ms', help: 'Whole task time from lease to upload, ms.', labelNames: ['kind'], buckets: MS_BUCKETS, registers: [this.registry] });
  readonly #leaseWait = new client.Histogram({ name: 'tessera_node_lease_wait_seconds', help: 'How long lease long-polls waited: result task, empty (none within the wait) or error.', labelNames: ['result'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 20, 30], registers: [this.registry] });
  readonly #sceneCache = new client.Counter({ name: 'tessera_node_scene_cache_total', help: 'Scene lookups of render tasks: memory (loaded in the render process), disk (node cache) or download (from storage).', labelNames: ['result'], registers: [this.registry] });
  readonly #running = new client.Gauge({ name: 'tessera_node_running_tasks', help: 'Tasks running now.', registers: [this.registry] });
  /** Interactive sessions served by this node; 0 until the node serves sessions (VR streaming). */
  readonly sessions = new client.Gauge({ name: 'tessera_node_sessions', help: 'Interactive sessions open on this node (0 until sessions are served).', registers: [this.registry] });
  readonly #info = new client.Gauge({ name: 'tessera_node_info', help: 'Always 1; labels say what this node is.', labelNames: ['node_id', 'version', 'gl_renderer', 'tiles_per_second'], registers: [this.registry] });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'tessera_node_' });
    this.sessions.set(0);
  }

  describe(nodeId: string, version: string, glRenderer: string, tilesPerSecond: number): void {
    this.#info.reset();
    this.#info.set({ node_id: nodeId, version, gl_renderer: glRenderer, tiles_per_second: String(tilesPerSecond) }, 1);
  }

  leaseWaited(seconds: number, result: 'task' | 'empty' | 'error'): void {
    this.#leaseWait.observe({ result }, seconds);
  }

  taskStarted(): void {
    this.#running.inc();
  }

  taskEnded(kind: string, outcome: TaskOutcomeLabel, result?: { timings: Record<string, number>; sceneCache?: SceneSource; totalMs: number }): void {
    this.#running.dec();
    this.#tasks.inc({ kind, outcome });
    if (!result) return;
    this.#taskMs.observe({ kind }, result.totalMs);
    if (result.timings.render !== undefined) this.#renderMs.observe(result.timings.render);
    if (result.timings.encode !== undefined) this.#encodeMs.observe({ kind }, result.timings.encode);
    if (result.sceneCache) this.#sceneCache.inc({ result: result.sceneCache });
  }
}
