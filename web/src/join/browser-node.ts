/**
 * A browser tab as a render node, on the same protocol as `tessera node start` (render-node/agent): register
 * with a card naming the tab's WebGL 2 renderer and limits, heartbeat (on the render node's schedule), long-poll for leases, render tiles with
 * the shared pipeline (FrameRenderer, scene loader, studio environment, tiling) on a WebGL 2 canvas, upload
 * PNG tiles through the presigned URLs, report. The card says `tilesOnly`: a tab encodes lossless PNG tiles
 * but not finished frames, so it never gets a stitch or a one-tile frame. Stop hands running leases back;
 * closing the tab does too (keepalive requests on pagehide), else they expire.
 */
import { REVISION } from 'three';
import { isTesseraError } from '../../../api/protocol/errors.ts';
import type { NodeLedger } from '../../../api/protocol/metering.ts';
import { NodeCard } from '../../../api/protocol/node-card.ts';
import type { LeasedTask } from '../../../api/protocol/task.ts';
import { digestSha256 } from '../../../render-node/agent/digest-sha256.ts';
import { MemorySceneCache } from '../../../render-node/agent/memory-scene-cache.ts';
import { NodeApi } from '../../../render-node/agent/node-api.ts';
import { measureReferenceTile } from '../../../render-node/agent/reference-tile.ts';
import { runRenderTask } from '../../../render-node/agent/run-render-task.ts';
import { isSceneFault } from '../../../render-node/agent/scene-fault.ts';
import { createCanvasGLBackend } from '../../../render-node/gl/canvas-gl-backend.ts';
import { encodePngTile } from '../../../render-node/output/encode-png-tile.ts';
import { FrameRenderer, type RawImage } from '../../../render-node/render/frame-renderer.ts';
import { browserRendererIdentity } from '../../../render-node/render/renderer-identity.ts';
import { createBitmapImageDecoder } from '../../../render-node/scene/bitmap-image-decoder.ts';
import referenceSceneUrl from '../../../scenes/textured-pbr.glb?url';
import { heartbeatDue, IDLE_HEARTBEAT_EVERY } from '../../../render-node/agent/heartbeat-schedule.ts';
import { every } from './heartbeat-ticker.ts';
import { createWorkerKtx2Transcoder } from './worker-ktx2.ts';

export interface BrowserNodeOptions {
  /** The API's base URL (the page's own origin when the API serves it). */
  api: string;
  name: string;
  /** The operator's join token, for an API that admits only nodes with one (kept in this page's memory only). */
  joinToken?: string;
  /** The canvas the renderer draws into (it is resized to each framebuffer). */
  canvas: HTMLCanvasElement;
  onEvent(event: BrowserNodeEvent): void;
}

export const BROWSER_NODE_DEFAULTS = {
  leaseWaitSeconds: 20,
  maxLoadedScenes: 2,
  /** Texture pixels one scene may decode: a tab shares the GPU and memory with the rest of the browser. */
  maxTexturePixels: 64 * 1024 * 1024,
};

/** One finished (or failed) task, as the page lists it. */
export interface TaskRecord {
  taskId: string;
  jobId: string;
  frame: number;
  tile: { x: number; y: number; width: number; height: number } | undefined;
  ok: boolean;
  ms: number;
  detail: string;
}

export type BrowserNodeEvent =
  | { type: 'status'; status: 'measuring' | 'registering' | 'waiting' | 'rendering' | 'stopping' | 'stopped'; detail?: string }
  | { type: 'registered'; nodeId: string; card: NodeCard }
  | { type: 'task'; record: TaskRecord; image?: RawImage }
  | { type: 'ledger'; ledger: NodeLedger['nodes'][number] | null }
  | { type: 'error'; message: string };

export interface BrowserNode {
  readonly nodeId: string;
  readonly card: NodeCard;
  /** Stop leasing, hand any running task back, stop heartbeating. */
  stop(): Promise<void>;
}

/** Measure, register and start working; resolves once registered. */
export async function startBrowserNode(options: BrowserNodeOptions): Promise<BrowserNode> {
  const emit = options.onEvent;
  const backend = createCanvasGLBackend(options.canvas);
  const version = browserRendererIdentity({ backend: backend.info.backend, three: REVISION, renderer: backend.info.renderer, encoder: 'fast-png' });
  // A WebGL 2 tab renders transmission and volume (three's transmission pass), as the Chromium backend does, and
  // says so in its card: it is then given scenes that need WebGL 2.
  const renderer = new FrameRenderer(backend, { images: createBitmapImageDecoder({ transcodeKtx2: createWorkerKtx2Transcoder() }), version, transmission: backend.info.webgl2 });
  emit({ type: 'status', status: 'measuring', detail: 'timing the reference tile' });
  const reference = new Uint8Array(await (await fetch(referenceSceneUrl)).arrayBuffer());
  const tilesPerSecond = await measureReferenceTile(renderer, reference, 3);
  const info = backend.info;
  const card = NodeCard.parse({
    name: options.name,
    version,
    cpu: { model: `browser (${navigator.userAgent.slice(0, 200)})`, cores: Math.max(1, Math.min(4096, navigator.hardwareConcurrency || 1)) },
    // navigator.deviceMemory (GiB, rounded and capped at 8 by the browser; Chromium only): a floor, not a measure.
    ramBytes: Math.round(((navigator as Navigator & { deviceMemory?: number }).deviceMemory ?? 1) * 1024 ** 3),
    gl: { renderer: info.renderer.slice(0, 256), vendor: info.vendor.slice(0, 256), version: info.version.slice(0, 256), maxTextureSize: info.maxTextureSize, maxViewport: info.maxViewport, backend: info.backend },
    backends: [{ id: info.backend, webgl2: info.webgl2, version }],
    tilesPerSecond: Math.min(tilesPerSecond, 10_000),
    concurrency: 1,
    tilesOnly: true,
  });
  const api = new NodeApi(options.api, options.joinToken || undefined);
  const scenes = new MemorySceneCache(renderer, { maxLoaded: BROWSER_NODE_DEFAULTS.maxLoadedScenes, maxTexturePixels: BROWSER_NODE_DEFAULTS.maxTexturePixels });
  emit({ type: 'status', status: 'registering' });
  const registered = await api.register(card);
  emit({ type: 'registered', nodeId: registered.nodeId, card });

  let running: { task: LeasedTask; abort: AbortController } | null = null;
  let stopping = false;
  const stopLeasing = new AbortController();

  /** The load the last heartbeat reported (null before the first). */
  let reportedLoad: number | null = null;
  const heartbeat = async () => {
    try {
      const load = running ? 1 : 0;
      reportedLoad = load;
      const ack = await api.heartbeat({ leaseIds: running ? [running.task.leaseId] : [], load, sentAt: Date.now(), peers: [] });
      if (running && ack.revoked.includes(running.task.leaseId)) running.abort.abort(new Error('lease revoked'));
    } catch (err) {
      emit({ type: 'error', message: `heartbeat failed: ${(err as Error).message}` });
    }
  };

  const refreshLedger = async () => {
    try {
      const ledger = await api.ledger();
      emit({ type: 'ledger', ledger: ledger.nodes.find((n) => n.nodeId === registered.nodeId) ?? null });
    } catch (err) {
      emit({ type: 'error', message: `ledger: ${(err as Error).message}` });
    }
  };

  // As `tessera node start` does (render-node/agent/heartbeat-schedule.ts): every interval while it holds a lease;
  // idle, its long-polls prove it alive, so every IDLE_HEARTBEAT_EVERY intervals (where a poll alone keeps it inside
  // the API's health window), and at the first interval after it went idle, so the API does not keep a stale load.
  // The ledger with each heartbeat, and every interval for a while after a task (results are credited when verified,
  // after the tab delivered them).
  let intervalsSinceBeat = 0;
  let intervalsSinceTask = Infinity;
  const stopHeartbeats = every(registered.heartbeatIntervalMs, () => {
    intervalsSinceBeat++;
    intervalsSinceTask++;
    const due =
      reportedLoad !== (running ? 1 : 0) ||
      heartbeatDue({
        leases: running ? 1 : 0,
        sessions: 0,
        unsentMeasurements: 0,
        intervalsSinceLast: intervalsSinceBeat,
        leaseWaitMs: BROWSER_NODE_DEFAULTS.leaseWaitSeconds * 1000,
        heartbeatIntervalMs: registered.heartbeatIntervalMs,
        pollsForTasks: true,
      });
    if (due) {
      intervalsSinceBeat = 0;
      void heartbeat();
    }
    if (due || intervalsSinceTask <= IDLE_HEARTBEAT_EVERY) void refreshLedger();
  });

  // The tab closes: hand the running lease back with a request the browser sends even as the page goes away.
  const onPageHide = () => {
    if (running) api.failOnUnload(running.task.taskId, { leaseId: running.task.leaseId, reason: 'browser tab closed', sceneFault: false });
  };
  addEventListener('pagehide', onPageHide);

  const execute = async (task: LeasedTask) => {
    const abort = new AbortController();
    running = { task, abort };
    const started = performance.now();
    const tile = task.tile ?? undefined;
    const base = { taskId: task.taskId, jobId: task.jobId, frame: task.frame, tile };
    emit({ type: 'status', status: 'rendering', detail: `job ${task.jobId.slice(0, 16)} frame ${task.frame}${tile ? ` tile ${tile.x},${tile.y}` : ''}` });
    let image: RawImage | undefined;
    try {
      // Yield to the page before the (synchronous) render so the status above is painted.
      await new Promise((r) => setTimeout(r, 0));
      const outcome = await runRenderTask(task, renderer, {
        scenes,
        encode: async (result, t) => {
          if (t.kind !== 'render' || t.final) throw new Error(`a tiles-only node was given a ${t.final ? 'finished frame' : t.kind} task`);
          image = result;
          return encodePngTile(result);
        },
        sha256: digestSha256,
        // A tab is its own node process: it asks the API for the upload URL of the bytes it reports.
        requestUpload: (t, claim, signal) => api.uploadTicket(t.taskId, { token: t.output.token, ...claim }, signal),
      }, abort.signal);
      const { sceneCache: _source, ...report } = outcome;
      await api.complete(task.taskId, { leaseId: task.leaseId, ...report });
      emit({ type: 'task', record: { ...base, ok: true, ms: Math.round(performance.now() - started), detail: `${outcome.bytes} bytes` }, image });
      void refreshLedger();
    } catch (err) {
      const reason = isTesseraError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
      emit({ type: 'task', record: { ...base, ok: false, ms: Math.round(performance.now() - started), detail: reason } });
      // Revoked (the API moved on) or stopped (stop() handed the lease back): nothing to report.
      if (abort.signal.aborted) return;
      await api.fail(task.taskId, { leaseId: task.leaseId, reason: reason.slice(0, 2000), sceneFault: isSceneFault(err) }).catch(() => {});
    } finally {
      running = null;
      intervalsSinceTask = 0;
    }
  };

  const loop = (async () => {
    let backoff = 500;
    void heartbeat();
    void refreshLedger();
    while (!stopping) {
      emit({ type: 'status', status: 'waiting', detail: 'waiting for a tile' });
      let task: LeasedTask | null;
      try {
        task = await api.lease(BROWSER_NODE_DEFAULTS.leaseWaitSeconds, stopLeasing.signal);
        backoff = 500;
      } catch (err) {
        if (stopping) return;
        emit({ type: 'error', message: `lease failed: ${(err as Error).message}` });
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10_000);
        continue;
      }
      if (task && !stopping) await execute(task);
      else if (task) await api.fail(task.taskId, { leaseId: task.leaseId, reason: 'node stopped', sceneFault: false }).catch(() => {});
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    nodeId: registered.nodeId,
    card,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        emit({ type: 'status', status: 'stopping' });
        stopLeasing.abort(new Error('stopping'));
        // Hand the running task back now, so another node takes it at once instead of after the lease expires.
        const held = running;
        if (held) {
          held.abort.abort(new Error('node stopped'));
          emit({ type: 'status', status: 'stopping', detail: 'handing the running task back' });
          await api.fail(held.task.taskId, { leaseId: held.task.leaseId, reason: 'node stopped', sceneFault: false }).catch(() => {});
        }
        // A render in progress runs to its end (WebGL cannot be interrupted); the loop then sees the stop.
        emit({ type: 'status', status: 'stopping', detail: 'finishing the render in progress' });
        await loop;
        stopHeartbeats();
        // The API learns at once that nothing runs here any more.
        await heartbeat();
        removeEventListener('pagehide', onPageHide);
        scenes.dispose();
        emit({ type: 'status', status: 'stopped' });
      })()),
  };
}
