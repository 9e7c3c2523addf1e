/**
 * The Node SceneInspector: readScene with glTF-Transform's NodeIO and draco3dgltf (see
 * scene-check/read-scene-inspector.ts, shared with the Workers API), run in worker threads
 * (scene-inspection-thread.ts) rather than on the API's event loop. A hostile but in-bounds scene can take seconds
 * of CPU and most of a gigabyte to check: on the API's own thread that stalled every other request (heartbeats,
 * leases, /v1/health) for as long, and a scene that ballooned the heap took the whole process down. Each thread has
 * a heap cap (`maxHeapMb`, the Worker's resourceLimits) and each inspection a wall-clock limit (`timeoutMs`); a thread
 * past either is ended and the upload refused with 413 SCENE_LIMIT_EXCEEDED naming the limit, and a thread that
 * dies for any other reason answers 500 INTERNAL. Either way the next inspection gets a fresh thread.
 *
 * Starting a thread (tsx, glTF-Transform, the Draco modules) costs a few hundred ms of CPU, so threads are started
 * on first use and kept for later inspections, up to `threads` at once (the API's sceneInspections.concurrent);
 * idle ones do not keep the process alive. The input's bytes are copied to the thread unless `transferInput` says
 * the caller is done with them (the API's own inspector: it hashes an upload before it inspects it and never reads
 * the input again); then they move, and the caller's arrays that spanned their whole buffer are detached. The
 * normalized GLB always moves back.
 * The heap cap bounds the JavaScript heap only: ArrayBuffers and the Draco/meshopt WebAssembly memory are outside
 * it, and are bounded by the scene limits (maxFileBytes, decoded bytes) instead.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TesseraError } from '../protocol/errors.ts';
import type { SceneLimits } from '../protocol/render-spec.ts';
import type { InspectedScene, SceneInput, SceneInspector } from '../../scene-check/scene-inspector.ts';
import type { InspectionReply, InspectionRequest, InspectionThreadData } from './scene-inspection-thread.ts';

export interface NodeSceneInspectorOptions {
  /** Caps on what a scene may cost (readScene's defaults when absent). */
  limits?: Partial<SceneLimits>;
  /** Inspection threads at once (more inspections wait for one); the API passes sceneInspections.concurrent. */
  threads?: number;
  /** Each thread's JavaScript heap cap, MiB (its resourceLimits.maxOldGenerationSizeMb; TESSERA_INSPECTION_HEAP_MB). */
  maxHeapMb?: number;
  /** Longest one inspection may take before its thread is ended, ms (TESSERA_INSPECTION_TIMEOUT_MS). */
  timeoutMs?: number;
  /**
   * Move the input's bytes to the thread instead of copying them (up to maxSceneBytes of memcpy on the caller's
   * thread): the caller's arrays are detached by `inspect`. Off by default, as the port promises nothing of the sort.
   */
  transferInput?: boolean;
  /**
   * Threads to start right away (at most `threads`), so the first upload does not wait the ~0.7 s a thread takes to
   * start: servers set 1 (`tessera api start`, `tessera farm up`); 0 starts them on first use (tests, tools).
   */
  prewarm?: number;
}

/**
 * Measured here (2 shared cores): 99,000 materials each drawn by its own primitive (198,000 objects, just under
 * maxObjects) check in 19 s under a 2048 MiB heap and in 29 s under 1024 MiB (collecting near the cap); the defaults
 * leave such a scene room on a slower machine while a thread's heap stays below the process's own.
 */
export const NODE_SCENE_INSPECTOR_DEFAULTS: Required<Omit<NodeSceneInspectorOptions, 'limits'>> = {
  threads: 2,
  maxHeapMb: 2048,
  timeoutMs: 120_000,
  transferInput: false,
  prewarm: 0,
};

/** A SceneInspector whose threads can be ended (the API ends them when it closes). */
export interface NodeSceneInspector extends SceneInspector {
  /** End every thread; an inspection in progress fails with UNAVAILABLE. Later inspections start new threads. */
  close(): Promise<void>;
}

/** The buffers of `views` to move rather than copy: each array's whole, ordinary ArrayBuffer, once. */
export function transferablesOf(views: Iterable<Uint8Array>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const v of views) {
    if (v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) buffers.add(v.buffer);
  }
  return [...buffers];
}

const THREAD_URL = new URL('./scene-inspection-thread.ts', import.meta.url).href;

/**
 * The code a thread boots with. tsx's loader does not follow into worker threads (under tsx in production, `tessera
 * api start`, nor under vitest): the thread registers it, then loads its TypeScript entry (as
 * render-node/agent/session-worker.ts does).
 */
function bootCode(): string {
  return `import(${JSON.stringify(tsxEsmApiUrl())}).then((m) => { m.register(); return import(${JSON.stringify(THREAD_URL)}); });`;
}

/** tsx's ESM API module as a file URL (vitest's module runner has no import.meta.resolve: read from tsx's exports). */
function tsxEsmApiUrl(): string {
  if (typeof import.meta.resolve === 'function') return import.meta.resolve('tsx/esm/api');
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  return new URL(exports['./esm/api'].import.default, pathToFileURL(manifest)).href;
}

/** Most time a thread may take to start (load its modules and the Draco decoder) before it is given up as failed. */
const THREAD_START_TIMEOUT_MS = 60_000;

interface Job {
  id: number;
  input: SceneInput;
  resolve(scene: InspectedScene): void;
  reject(err: unknown): void;
}

/** A SceneInspector backed by readScene on NodeIO, in worker threads with a heap cap and a time limit. */
export function createNodeSceneInspector(options: NodeSceneInspectorOptions = {}): NodeSceneInspector {
  const opts = { ...NODE_SCENE_INSPECTOR_DEFAULTS, ...definedOf(options) };
  for (const [name, value] of [['threads', opts.threads], ['maxHeapMb', opts.maxHeapMb], ['timeoutMs', opts.timeoutMs]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`scene inspector ${name} must be a whole number ≥ 1 (got ${value})`);
  }
  const data: InspectionThreadData = { limits: options.limits };
  const idle: Worker[] = [];
  const waiting: Job[] = [];
  const busy = new Map<Worker, { job: Job; timer?: NodeJS.Timeout }>();
  const live = new Set<Worker>();
  /** Threads that have loaded: an inspection's clock starts once its thread is ready, so a slow start costs no scene its time. */
  const ready = new WeakSet<Worker>();
  let nextId = 1;
  let boot: string | undefined;

  const heapLimit = () =>
    `Checking the scene needed more than the ${opts.maxHeapMb} MiB of memory one inspection may use (TESSERA_INSPECTION_HEAP_MB); make the scene smaller or simpler.`;

  /** The thread's job ends with `outcome`; the thread is ended too unless `keep`. */
  const finish = (worker: Worker, outcome: { scene: InspectedScene } | { err: unknown }, keep: boolean) => {
    const running = busy.get(worker);
    if (!running) return;
    busy.delete(worker);
    clearTimeout(running.timer);
    if ('scene' in outcome) running.job.resolve(outcome.scene);
    else running.job.reject(outcome.err);
    if (keep) {
      worker.unref();
      idle.push(worker);
    } else {
      drop(worker);
    }
    pump();
  };

  /** Start the clock of `worker`'s inspection. */
  const arm = (worker: Worker) => {
    const running = busy.get(worker);
    if (!running || running.timer) return;
    running.timer = setTimeout(() => {
      finish(
        worker,
        { err: new TesseraError('SCENE_LIMIT_EXCEEDED', `Checking the scene took longer than the ${opts.timeoutMs / 1000} s one inspection may take (TESSERA_INSPECTION_TIMEOUT_MS); make the scene smaller or simpler.`) },
        false,
      );
    }, opts.timeoutMs);
  };

  /** Forget and end `worker` (once). */
  const drop = (worker: Worker) => {
    if (!live.delete(worker)) return;
    const i = idle.indexOf(worker);
    if (i >= 0) idle.splice(i, 1);
    void worker.terminate();
  };

  const spawn = (): Worker => {
    const worker = new Worker((boot ??= bootCode()), {
      eval: true,
      workerData: data,
      resourceLimits: { maxOldGenerationSizeMb: opts.maxHeapMb },
    });
    live.add(worker);
    let failure: Error | undefined;
    const starting = setTimeout(() => {
      finish(worker, { err: new TesseraError('INTERNAL', `The scene check thread did not start within ${THREAD_START_TIMEOUT_MS / 1000} s.`) }, false);
      drop(worker);
    }, THREAD_START_TIMEOUT_MS);
    worker.on('message', (reply: InspectionReply | 'ready') => {
      if (reply === 'ready') {
        clearTimeout(starting);
        ready.add(worker);
        arm(worker);
      } else if (reply.ok) finish(worker, { scene: reply.scene }, true);
      else {
        const { code, message, retryAfterSeconds } = reply.error;
        finish(worker, { err: code ? new TesseraError(code, message, { retryAfterSeconds }) : new Error(message) }, true);
      }
    });
    worker.on('error', (err: Error & { code?: string }) => {
      failure = err;
      const outOfMemory = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      finish(
        worker,
        { err: outOfMemory ? new TesseraError('SCENE_LIMIT_EXCEEDED', heapLimit(), { cause: err }) : new TesseraError('INTERNAL', `The scene check failed: ${err.message}.`, { cause: err }) },
        false,
      );
      drop(worker);
    });
    worker.on('exit', (code) => {
      clearTimeout(starting);
      finish(worker, { err: new TesseraError('INTERNAL', `The scene check stopped unexpectedly (thread exit code ${code}).`, { cause: failure }) }, false);
      drop(worker);
    });
    return worker;
  };

  /** Hand waiting jobs to idle threads, starting threads up to `threads`. */
  const pump = () => {
    while (waiting.length > 0) {
      const worker = idle.pop() ?? (live.size < opts.threads ? spawn() : undefined);
      if (!worker) return;
      const job = waiting.shift()!;
      busy.set(worker, { job });
      worker.ref();
      if (ready.has(worker)) arm(worker);
      send(worker, { id: job.id, input: job.input }, opts.transferInput);
    }
  };

  for (let i = 0; i < Math.min(opts.prewarm, opts.threads); i++) {
    const worker = spawn();
    worker.unref();
    idle.push(worker);
  }

  return {
    inspect(input: SceneInput): Promise<InspectedScene> {
      return new Promise<InspectedScene>((resolve, reject) => {
        waiting.push({ id: nextId++, input, resolve, reject });
        pump();
      });
    },
    async close() {
      for (const job of waiting.splice(0)) job.reject(new TesseraError('UNAVAILABLE', 'The API is stopping; retry the upload.'));
      const all = [...idle, ...busy.keys()];
      for (const worker of busy.keys()) finish(worker, { err: new TesseraError('UNAVAILABLE', 'The API is stopping; retry the upload.') }, false);
      for (const worker of all) drop(worker);
      await Promise.all(all.map((w) => w.terminate()));
    },
  };
}

/** Post `request`, moving its bytes when asked and they can move (a buffer the caller shares with others is copied). */
function send(worker: Worker, request: InspectionRequest, transfer: boolean): void {
  if (!transfer) return worker.postMessage(request);
  const views = request.input.kind === 'bytes' ? [request.input.bytes] : [...request.input.files.values()];
  try {
    worker.postMessage(request, transferablesOf(views));
  } catch {
    // An untransferable buffer (Node's pool, say): copied instead.
    worker.postMessage(request);
  }
}

/** `options` without its undefined fields, so they keep the defaults. */
function definedOf<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
