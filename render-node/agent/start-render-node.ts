import { availableParallelism, hostname, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { isTesseraError } from '../../api/protocol/errors.ts';
import type { NodeCard } from '../../api/protocol/node-card.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import { createLogger, type Logger } from '../logger.ts';
import type { GeoPoint } from '../../api/protocol/latency.ts';
import { NetworkMeasurements } from './network-measurements.ts';
import { NodeApi } from './node-api.ts';
import { serveMetrics } from '../../node-support/serve-metrics.ts';
import { NodeMetrics } from './node-metrics.ts';
import { startProbeServer } from './probe-server.ts';
import { createResourceCard } from './resource-card.ts';
import type { RenderBackendChoice } from '../chromium/choose-backend.ts';
import { claimedBackends, claimedTilesPerSecond, hoardsTasks, holdUntilRevoked } from './test-fault.ts';
import { isSceneFault } from './run-task.ts';
import { TaskSandbox } from './task-sandbox.ts';
import { rasterThreadsFor, wideRasterThreadsFor } from './raster-threads.ts';
import { heartbeatDue } from './heartbeat-schedule.ts';
import { SessionHost, type SessionEncodePipeline } from './session-host.ts';
import { fromBase64Url } from '../../api/protocol/session-ticket.ts';
import { MAX_REPORTED_SCENES } from '../../api/protocol/node-messages.ts';
import { cachedSceneIds } from './scene-cache.ts';

export interface RenderNodeOptions {
  /** Base URL of the edge API, e.g. http://127.0.0.1:8080 */
  api: string;
  /** A join token from the operator (`tessera keys create --role node`), for APIs that require one to register. */
  joinToken?: string;
  name?: string;
  region?: string;
  /** Tasks in flight at once (rendering is serialized on one GL context; I/O and encoding overlap). */
  concurrency?: number;
  cacheDir?: string;
  /** Longest a drain waits for running tasks before handing them back. */
  drainTimeoutMs?: number;
  /** Longest one task may run (default 10 min). */
  taskTimeCapMs?: number;
  /** Most resident memory one render process may use (default: 60% of RAM shared by the slots, at least 2 GiB). */
  taskMemoryCapBytes?: number;
  logger?: Logger;
  /** Port of the node's GET /ping (0: a free one). */
  probePort?: number;
  /** Interface GET /ping listens on (default every interface). */
  probeHost?: string;
  /** The ping URL to advertise when clients reach the node elsewhere (a proxy, NAT); default: where it listens. */
  probeUrl?: string;
  /** Where the node is (lat/lon): helps the API choose which nodes a located client should ping. */
  location?: GeoPoint;
  /** Interactive sessions served at once (each in its own render process); 0 serves none. */
  sessionSlots?: number;
  /** PEM certificate and key: the public server (GET /ping, session WebSockets) speaks https and wss://. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Serve Prometheus `GET /metrics` on this port (0: a free one) of `metricsHost` (default 127.0.0.1); unset: off. */
  metricsPort?: number;
  metricsHost?: string;
  /**
   * How the node asks for work. `batched` (default): one long-poll leases up to the free slots, each completion
   * leases the next tasks in the same call, and up to `leaseAhead` task waits on the node so a slot starts its
   * next render the moment the previous one ends (its report travels meanwhile). `per-slot`: every slot
   * long-polls for one task and reports it before asking again (what nodes did before batching; kept for the
   * farm bench's before/after and for APIs that predate batching).
   */
  leasing?: 'batched' | 'per-slot';
  /** Lease-ahead tasks to hold beyond the slots when batched: 0 or 1 (the API allows one). */
  leaseAhead?: number;
  /**
   * The GL backends each render process runs (`tessera node start --backend`): `headless-gl` (WebGL 1, the
   * default), `chromium` (WebGL 2 in headless Chromium, for every scene) or `auto` (both: Chromium only for scenes
   * that need WebGL 2, and only when Chromium starts here). The card lists them; with a WebGL 2 one, the node is
   * given transmission and volume scenes.
   */
  backend?: RenderBackendChoice;
  /** Longest one render call into Chromium may take before Chromium is killed and the task fails (ms). */
  chromiumCallTimeoutMs?: number;
  /**
   * llvmpipe rasterizer threads per batch render process (LP_NUM_THREADS; 0: each draws on its own thread). Absent:
   * LP_NUM_THREADS from the environment when set, else `rasterThreadsFor(concurrency, cores)`. Session render processes
   * are not given it: they inherit the environment (LP_NUM_THREADS when the operator set it, else Mesa's one
   * rasterizer thread per core), because a session is latency-bound.
   */
  rasterThreads?: number;
  /**
   * CPU cores this node's render processes may use (`tessera node start --cores`; default: all of this machine's).
   * `tessera farm up` gives each of its nodes its share. When the slots' render processes draw on one rasterizer
   * thread each (so busy slots do not take turns on the cores), the node keeps one more, *wide* batch render process
   * with a rasterizer thread per core for a task that runs alone on the node (a single frame, a job's last frame):
   * `wideRasterThreadsFor` (raster-threads.ts).
   */
  cores?: number;
  /** Whether a session frame's encode overlaps the next pose's render (SessionHostOptions.encode; default overlap). */
  sessionEncode?: SessionEncodePipeline;
}

export const RENDER_NODE_DEFAULTS = {
  /** A task running longer is stopped (its render process killed) and fails. */
  taskTimeCapMs: 10 * 60_000,
  concurrency: 2,
  drainTimeoutMs: 60_000,
  // The API's longest: idle, a node's polls are what proves it alive (heartbeat-schedule.ts), one request each.
  leaseWaitSeconds: 25,
  maxLoadedScenes: 4,
  maxTexturePixels: 256 * 1024 * 1024,
  sessionSlots: 2,
  leasing: 'batched' as 'batched' | 'per-slot',
  leaseAhead: 1,
  backend: 'headless-gl' as RenderBackendChoice,
  chromiumCallTimeoutMs: 5 * 60_000,
};

export interface RenderNodeHandle {
  nodeId: string;
  card: NodeCard;
  /** The node's metrics (counted whether or not they are served). */
  metrics: NodeMetrics;
  /** Where `GET /metrics` is served, when metricsPort was given. */
  metricsUrl: string | undefined;
  /** Stop leasing, finish (or hand back) running tasks, release the GL context. */
  stop(): Promise<void>;
  /** Settles when the node has stopped. */
  stopped: Promise<void>;
}

interface Running {
  task: LeasedTask;
  abort: AbortController;
}

/** Start a render node: register with a resource card, heartbeat, lease tasks, render, upload, report. */
export async function startRenderNode(options: RenderNodeOptions): Promise<RenderNodeHandle> {
  // Options left undefined keep their defaults (a spread would overwrite them with undefined).
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RenderNodeOptions;
  const opts = { ...RENDER_NODE_DEFAULTS, ...given };
  const name = opts.name ?? `${hostname()}-${process.pid}`;
  const log = opts.logger ?? createLogger(`node:${name}`);
  const envThreads = process.env.LP_NUM_THREADS?.trim() ? Number(process.env.LP_NUM_THREADS) : undefined;
  const cores = Math.max(1, Math.floor(opts.cores ?? availableParallelism()));
  const rasterThreads = opts.rasterThreads ?? (envThreads !== undefined && Number.isInteger(envThreads) && envThreads >= 0 ? envThreads : rasterThreadsFor(opts.concurrency, cores));
  const wideThreads = wideRasterThreadsFor(opts.concurrency, rasterThreads, cores);
  // Every worker slot renders in its own process with time and memory caps: a hostile scene kills only that.
  // With `wideThreads`, one more (the last): the wide render process, for a task that runs alone on the node.
  const sandboxes = Array.from(
    { length: opts.concurrency + (wideThreads === undefined ? 0 : 1) },
    (_, i) =>
      new TaskSandbox({
        cacheDir: opts.cacheDir ?? join(tmpdir(), 'tessera-scene-cache'),
        maxLoadedScenes: opts.maxLoadedScenes,
        maxTexturePixels: opts.maxTexturePixels,
        backend: opts.backend,
        // Below the task cap, so a hung page fails the task as a render failure (retried elsewhere), not a scene fault.
        chromiumCallTimeoutMs: Math.min(opts.chromiumCallTimeoutMs, Math.max(opts.taskTimeCapMs - 5000, opts.taskTimeCapMs * 0.8)),
        timeCapMs: opts.taskTimeCapMs,
        memoryCapBytes: opts.taskMemoryCapBytes ?? defaultMemoryCap(opts.concurrency),
        rasterThreads: i < opts.concurrency ? rasterThreads : wideThreads,
        log,
      }),
  );
  const wide = wideThreads === undefined ? undefined : sandboxes[opts.concurrency];
  // Clients and peers time round trips to this node through GET /ping; its URL goes in the card.
  const probe = await startProbeServer({ port: opts.probePort, host: opts.probeHost, publicUrl: opts.probeUrl, tls: opts.tls });
  const described = await sandboxes[0].describe();
  // The other slots' render processes start now, not when the first job's tasks arrive (seconds of start-up
  // that would otherwise compete with that job's first renders); a failure shows again at the first task.
  for (const sandbox of sandboxes.slice(1)) void sandbox.warm().catch((err) => log.warn({ err: (err as Error).message }, 'render process did not start; will retry with a task'));
  const card = createResourceCard({ ...described, tilesPerSecond: claimedTilesPerSecond(described.tilesPerSecond), backends: claimedBackends(described.backends) }, {
    name,
    region: opts.region,
    concurrency: opts.concurrency,
    probeUrl: probe.url,
    location: opts.location,
    sessionSlots: opts.sessionSlots,
    sessionUrl: probe.sessionUrl,
    // Sessions render where batch renders do: a node with Chromium (--backend chromium or auto) serves WebGL 2 scenes.
    sessionWebgl2: described.backends?.some((b) => b.id === 'chromium' && b.webgl2) ?? false,
  });
  const api = new NodeApi(opts.api, opts.joinToken);
  // Before registering: a metrics port that is taken fails the start without leaving a registered node behind.
  const metrics = new NodeMetrics();
  const metricsServer = opts.metricsPort === undefined ? undefined : await serveMetrics(metrics.registry, { host: opts.metricsHost, port: opts.metricsPort });
  if (metricsServer) log.info({ url: metricsServer.url }, 'metrics listening');
  let identity: { nodeId: string; secret: Uint8Array | null } = { nodeId: '', secret: null };
  const register = async () => {
    const r = await registerWithRetry(api, card, log);
    probe.setNodeId(r.nodeId, r.probeKey);
    metrics.describe(r.nodeId, card.version, card.gl.renderer, card.tilesPerSecond);
    identity = { nodeId: r.nodeId, secret: r.ticketSecret ? fromBase64Url(r.ticketSecret) : null };
    return r;
  };
  // Sessions: each in its own render process, clients connect to the public server with a ticket.
  const sessions = new SessionHost({
    slots: opts.sessionSlots,
    identity: () => identity,
    log,
    cacheDir: opts.cacheDir ?? join(tmpdir(), 'tessera-scene-cache'),
    maxTexturePixels: opts.maxTexturePixels,
    memoryCapBytes: opts.taskMemoryCapBytes ?? defaultMemoryCap(opts.concurrency),
    backend: opts.backend,
    // A scene load in the page; each frame has the session's own cap (frameTimeoutMs), which kills the process.
    chromiumCallTimeoutMs: opts.chromiumCallTimeoutMs,
    encode: opts.sessionEncode,
  });
  sessions.attach(probe.server);
  const registered = await register();
  log.info({ nodeId: registered.nodeId, tilesPerSecond: card.tilesPerSecond, gl: card.gl.renderer, probeUrl: probe.url, rasterThreads: rasterThreads ?? 'per core', ...(wideThreads === undefined ? {} : { wideRasterThreads: wideThreads }) }, 'registered');
  const network = new NetworkMeasurements({
    apiBaseUrl: opts.api,
    onPeerError: (peer, err) => log.debug({ peer: peer.nodeId, url: peer.probeUrl, err: (err as Error)?.message }, 'peer ping failed'),
  });

  const running = new Map<string, Running>();
  /** When each leased task reached this node (epoch ms), by lease id, until it starts. */
  const arrivedAt = new Map<string, number>();
  /** Leased tasks no slot has started yet (batched leasing), in lease order. */
  const queued: LeasedTask[] = [];
  /** Slots whose render process is free (batched leasing). */
  const idleSlots = Array.from({ length: opts.concurrency }, (_, i) => i);
  /** When each slot last became free: the gap until its next task starts is that task's lease cost. */
  const slotFreedAt = idleSlots.map(() => performance.now());
  /** Wakes the batched leaser when a slot frees (it asks for work only while it has room). */
  let roomChanged: () => void = () => {};
  const ahead = Math.max(0, Math.min(1, Math.floor(opts.leaseAhead)));
  /** Tasks the node may still take: free slots, plus the lease-ahead allowance. */
  const room = () => opts.concurrency + ahead - running.size - queued.length;
  const stopLeasing = new AbortController();
  let stopping = false;

  const heartbeat = async () => {
    try {
      const fields = network.heartbeatFields();
      const sentAt = performance.now();
      // The scene cache, so the API can prefer this node for work on scenes it already holds (a hint to the API).
      const scenes = await cachedSceneIds(opts.cacheDir ?? join(tmpdir(), 'tessera-scene-cache'), MAX_REPORTED_SCENES);
      // Queued lease-ahead tasks are listed too: the node starts each the moment a slot frees.
      const ack = await api.heartbeat({ leaseIds: [...running.keys(), ...queued.map((t) => t.leaseId)], load: running.size / opts.concurrency, sentAt: Date.now(), sessions: sessions.reports(), scenes, ...fields });
      network.onAck(ack, sentAt, performance.now(), fields.peers);
      sessions.revoke(ack.revokedSessions);
      for (const leaseId of ack.revoked) {
        const waiting = queued.findIndex((t) => t.leaseId === leaseId);
        if (waiting >= 0) log.warn({ taskId: queued.splice(waiting, 1)[0].taskId }, 'lease revoked; dropping a queued task');
        arrivedAt.delete(leaseId);
        const r = running.get(leaseId);
        if (r) {
          log.warn({ taskId: r.task.taskId }, 'lease revoked; abandoning task');
          r.abort.abort(new Error('lease revoked'));
        }
      }
    } catch (err) {
      if (isTesseraError(err, 'NODE_NOT_FOUND') || isTesseraError(err, 'UNAUTHORIZED')) {
        log.warn('the API no longer knows this node; registering again');
        await register().catch(() => {});
      } else log.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
  };
  // Idle, the long-polls prove the node alive: heartbeats only now and then (heartbeat-schedule.ts).
  let intervalsSinceLast = 0;
  const tick = () => {
    intervalsSinceLast++;
    const due = heartbeatDue({
      leases: running.size + queued.length,
      sessions: sessions.reporting,
      unsentMeasurements: network.unsent,
      intervalsSinceLast,
      leaseWaitMs: opts.leaseWaitSeconds * 1000,
      heartbeatIntervalMs: registered.heartbeatIntervalMs,
      pollsForTasks: opts.concurrency > 0,
    });
    if (!due) return;
    intervalsSinceLast = 0;
    void heartbeat();
  };
  const heartbeatTimer = setInterval(tick, registered.heartbeatIntervalMs);
  // One at once: the RTT measurements, the coordinate and the peers to ping start a heartbeat earlier.
  void heartbeat();

  const worker = async (index: number) => {
    let backoff = 500;
    while (!stopping) {
      let task: LeasedTask | null;
      const leaseStarted = performance.now();
      try {
        task = await api.lease(opts.leaseWaitSeconds, stopLeasing.signal);
        backoff = 500;
        metrics.leaseWaited((performance.now() - leaseStarted) / 1000, task ? 'task' : 'empty');
      } catch (err) {
        if (stopping) return;
        metrics.leaseWaited((performance.now() - leaseStarted) / 1000, 'error');
        if (isTesseraError(err, 'NODE_NOT_FOUND') || isTesseraError(err, 'UNAUTHORIZED')) await register().catch(() => {});
        else log.warn({ worker: index, err: (err as Error).message }, 'lease failed; retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 10_000);
        continue;
      }
      if (!task) continue;
      arrivedAt.set(task.leaseId, epochMs());
      await execute(task, index, performance.now() - leaseStarted);
    }
  };

  /**
   * `leaseMs`: how long the slot waited for this task: the lease call that brought it (per-slot leasing), or the gap
   * since the slot's previous task left its render process (batched), waiting for work included. The per-task
   * costs go in the log: `slotMs`, how long it held its render slot (until drawn, batched); `runMs`, until its render
   * process answered (encode and upload included); `completeMs`, its report.
   */
  const execute = async (task: LeasedTask, slot: number, leaseMs: number, onRunEnd: () => void = () => {}) => {
    const receivedAt = arrivedAt.get(task.leaseId) ?? epochMs();
    arrivedAt.delete(task.leaseId);
    // Alone on the node (nothing else drawing, encoding or reporting, nothing queued): the wide render process draws
    // it on every core, once it holds the task's scene (warmWide). While it runs, `running` is not empty, so the
    // wide process never has two tasks at once.
    const sandbox = wide && !wideBusy && running.size === 0 && queued.length === 0 && (task.kind !== 'render' || wideScenes.has(task.scene.id)) ? wide : sandboxes[slot];
    const abort = new AbortController();
    running.set(task.leaseId, { task, abort });
    metrics.taskStarted();
    const started = performance.now();
    let outcomeLabel: 'done' | 'failed' | 'abandoned' = 'failed';
    let counted: Parameters<NodeMetrics['taskEnded']>[2];
    const where = { taskId: task.taskId, jobId: task.jobId, kind: task.kind, frame: task.frame, tile: task.tile, attempt: task.attempt };
    let reporting = false;
    try {
      const t0 = performance.now();
      const startedAt = epochMs();
      let slotMs: number | undefined;
      // The render process reports its output; this process (the one with the node token) asks for its upload URL.
      // The render process is free for the next task once this one's pixels are drawn (it encodes and uploads
      // meanwhile, as `tessera render --local` overlaps them), or once it answers, whatever the answer.
      // (A test hoarder holds the lease and never runs the task: test-fault.ts.)
      const ran = hoardsTasks()
        ? holdUntilRevoked(abort.signal)
        : sandbox.run(
          task,
          abort.signal,
          (t, claim, signal) => api.uploadTicket(t.taskId, { token: t.output.token, ...claim }, signal),
          () => {
            slotMs = performance.now() - t0;
            onRunEnd();
          },
        );
      void ran.then(onRunEnd, onRunEnd);
      const { sceneCache, ...outcome } = await ran;
      const t1 = performance.now();
      const ranAt = epochMs();
      reporting = true;
      // Batched: the report leases what the node has room for, so the next task needs no lease call of its own.
      // This task's lease ends with the report: its place counts as room.
      const wanted = opts.leasing === 'batched' && !stopping ? room() + 1 : 0;
      const ack = await api.complete(task.taskId, { leaseId: task.leaseId, ...outcome, ...(wanted > 0 ? { next: { max: Math.min(wanted, opts.concurrency), ahead } } : {}) });
      if (ack.next?.length) accept(ack.next);
      outcomeLabel = 'done';
      counted = { timings: outcome.timings, sceneCache, totalMs: performance.now() - started };
      // `at`: epoch-ms stamps (high-resolution clock) of the task's arrival, its render process's start and answer and
      // the completion's acknowledgement, which bench:farm lines up with the API's and the client's (timeline.ts).
      const at = { received: round2(receivedAt), started: round2(startedAt), ran: round2(ranAt), acked: round2(epochMs()) };
      const costs = { ...(sandbox === wide ? { wide: true } : {}), leaseMs: round1(leaseMs), slotMs: round1(slotMs ?? t1 - t0), runMs: round1(t1 - t0), completeMs: round1(performance.now() - t1), timings: mapValues(outcome.timings, round1), at };
      log.info({ ...where, ms: Math.round(Object.values(outcome.timings).reduce((a, b) => a + b, 0)), costs }, 'task done');
    } catch (err) {
      if (abort.signal.aborted) {
        outcomeLabel = 'abandoned';
        return; // revoked: the API already moved on
      }
      const reason = isTesseraError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
      log.warn({ ...where, reason }, 'task failed');
      // The API refused the stored output and failed the attempt itself: there is no lease left to report on.
      if (reporting && isTesseraError(err, 'OUTPUT_CORRUPT')) return;
      await api.fail(task.taskId, { leaseId: task.leaseId, reason, sceneFault: isSceneFault(err) }).catch((e) => log.warn({ err: (e as Error).message }, 'could not report failure'));
    } finally {
      running.delete(task.leaseId);
      metrics.taskEnded(task.kind, stopping && outcomeLabel === 'abandoned' ? 'handed_back' : outcomeLabel, counted);
      if (sandbox === wide && outcomeLabel !== 'done') wideScenes.clear(); // it may have been killed: its scenes went with it
      warmWide(task);
    }
  };

  /**
   * Scenes the wide render process holds (loaded, shaders compiled), oldest first, as many as its scene cache keeps.
   * A lone task goes there only for one of these: a first draw there would load the scene and compile its shaders
   * (hundreds of ms), more than drawing on one thread costs.
   */
  const wideScenes = new Set<string>();
  let wideBusy = false;
  /**
   * Once the node is idle after a render task whose scene the wide process lacks: draw a small frame of it there
   * (untimed, unreported), so the next lone task of that scene is drawn wide. A task that arrives meanwhile goes to
   * a slot.
   */
  const warmWide = (task: LeasedTask) => {
    if (!wide || wideBusy || stopping || task.kind !== 'render' || running.size > 0 || queued.length > 0 || wideScenes.has(task.scene.id)) return;
    wideBusy = true;
    // The same view (projection, shadows, ssaa: the same shader programs) at about 160 pixels wide.
    const d = Math.max(1, Math.ceil(task.view.width / 160));
    const small: LeasedTask = { ...task, tile: undefined, final: true, view: { ...task.view, width: Math.max(1, Math.floor(task.view.width / d)), height: Math.max(1, Math.floor(task.view.height / d)) }, output: { ...task.output, inlineMaxBytes: task.output.maxBytes } };
    const started = performance.now();
    wide
      .run(small, stopLeasing.signal, () => Promise.reject(new Error('a warm-up frame is never uploaded')))
      .then(
        () => log.info({ scene: task.scene.id, ms: round1(performance.now() - started) }, 'wide render process warmed'),
        (err: unknown) => log.debug?.({ scene: task.scene.id, err: (err as Error)?.message }, 'wide render process warm-up failed'),
      )
      .finally(() => {
        // Held from now on either way (a failed warm-up still loaded the scene, or the draw will show the problem).
        wideScenes.delete(task.scene.id);
        wideScenes.add(task.scene.id);
        while (wideScenes.size > opts.maxLoadedScenes) wideScenes.delete(wideScenes.values().next().value!);
        wideBusy = false;
      });
  };

  /** Batched leasing: queue leased tasks and start each on a free slot (queued ones wait there as lease-ahead). */
  const accept = (tasks: LeasedTask[]) => {
    // A report that was on its way when the drain began may still bring tasks: hand them back at once.
    if (stopping) return void handBack(tasks);
    const now = epochMs();
    for (const t of tasks) arrivedAt.set(t.leaseId, now);
    queued.push(...tasks);
    dispatch();
  };
  const handBack = (tasks: LeasedTask[]) =>
    Promise.all(tasks.map((task) => api.fail(task.taskId, { leaseId: task.leaseId, reason: 'node shutting down', sceneFault: false }).catch(() => {})));
  const dispatch = () => {
    while (!stopping && queued.length > 0 && idleSlots.length > 0) {
      const task = queued.shift()!;
      const slot = idleSlots.shift()!;
      let freed = false;
      const free = () => {
        if (freed) return;
        freed = true;
        slotFreedAt[slot] = performance.now();
        idleSlots.push(slot);
        dispatch();
      };
      void execute(task, slot, performance.now() - slotFreedAt[slot], free).finally(() => {
        free();
        roomChanged();
      });
    }
  };
  const batchedLeaser = async () => {
    let backoff = 500;
    while (!stopping) {
      const wanted = room();
      if (wanted <= 0) {
        await new Promise<void>((resolve) => (roomChanged = resolve));
        continue;
      }
      const leaseStarted = performance.now();
      try {
        const tasks = await api.leaseBatch(opts.leaseWaitSeconds, Math.min(wanted, opts.concurrency), ahead, stopLeasing.signal);
        backoff = 500;
        metrics.leaseWaited((performance.now() - leaseStarted) / 1000, tasks.length ? 'task' : 'empty');
        accept(tasks);
      } catch (err) {
        if (stopping) return;
        metrics.leaseWaited((performance.now() - leaseStarted) / 1000, 'error');
        if (isTesseraError(err, 'NODE_NOT_FOUND') || isTesseraError(err, 'UNAUTHORIZED')) await register().catch(() => {});
        else log.warn({ err: (err as Error).message }, 'lease failed; retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  };
  /** Settles once every task the batched leaser took has ended. */
  const batchedDrained = async () => {
    while (running.size > 0) await new Promise<void>((resolve) => (roomChanged = resolve));
  };

  /** Long-polls for sessions placed on this node (apart from the task slots, so a busy node still takes them). */
  const sessionLeaser = async () => {
    let backoff = 500;
    while (!stopping && opts.sessionSlots > 0) {
      try {
        const lease = await api.leaseSession(opts.leaseWaitSeconds, stopLeasing.signal);
        backoff = 500;
        if (lease) sessions.accept(lease);
      } catch (err) {
        if (stopping) return;
        if (isTesseraError(err, 'NODE_NOT_FOUND') || isTesseraError(err, 'UNAUTHORIZED')) await register().catch(() => {});
        else log.warn({ err: (err as Error).message }, 'session lease failed; retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  };
  const taskLoops = opts.leasing === 'batched' ? [batchedLeaser().then(batchedDrained)] : Array.from({ length: opts.concurrency }, (_, i) => worker(i));
  const workers = [...taskLoops, sessionLeaser()];
  let stopPromise: Promise<void> | undefined;
  const stop = () =>
    (stopPromise ??= (async () => {
      stopping = true;
      stopLeasing.abort(new Error('draining'));
      roomChanged();
      log.info({ running: running.size, queued: queued.length }, 'draining');
      // Leased but not started: handed back at once, so another node takes them now instead of after expiry.
      await handBack(queued.splice(0));
      const drained = Promise.all(workers).then(() => true);
      const finished = await Promise.race([drained, sleep(opts.drainTimeoutMs).then(() => false)]);
      if (!finished) {
        // Hand unfinished work back so another node picks it up at once instead of after lease expiry.
        await Promise.all(
          [...running.values()].map(({ task, abort }) => {
            abort.abort(new Error('node shutting down'));
            return api.fail(task.taskId, { leaseId: task.leaseId, reason: 'node shutting down', sceneFault: false }).catch(() => {});
          }),
        );
      }
      await sessions.close();
      // The API learns the sessions ended from one last heartbeat.
      await heartbeat();
      clearInterval(heartbeatTimer);
      await probe.close();
      await metricsServer?.close();
      await Promise.all(sandboxes.map((sandbox) => sandbox.dispose()));
      log.info('stopped');
    })());
  return { nodeId: registered.nodeId, card, metrics, metricsUrl: metricsServer?.url, stop, get stopped() {
    return stopPromise ?? Promise.all(workers).then(() => undefined);
  } };
}

async function registerWithRetry(api: NodeApi, card: NodeCard, log: Logger) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api.register(card);
    } catch (err) {
      // No join token, a revoked or wrong one: retrying will not help.
      if (attempt >= 30 || isTesseraError(err, 'UNAUTHORIZED') || isTesseraError(err, 'FORBIDDEN')) throw err;
      log.warn({ err: (err as Error).message }, 'registration failed; retrying');
      await sleep(Math.min(500 * 2 ** attempt, 5_000));
    }
  }
}

/** 60% of this machine's memory shared by the render processes, and never under 2 GiB. */
function defaultMemoryCap(slots: number): number {
  return Math.max(2 * 1024 ** 3, Math.floor((totalmem() * 0.6) / slots));
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
/** Epoch milliseconds from the high-resolution clock (fractional): lines up with other processes' stamps on this host. */
const epochMs = () => performance.timeOrigin + performance.now();
const mapValues = (o: Record<string, number>, f: (x: number) => number) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());
