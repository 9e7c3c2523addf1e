import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TesseraError, type ErrorCode } from '../../api/protocol/errors.ts';
import type { CardBackend } from '../../api/protocol/node-card.ts';
import type { LeasedTask, UploadTicket } from '../../api/protocol/task.ts';
import type { RenderBackendChoice } from '../chromium/choose-backend.ts';
import type { GLBackendInfo } from '../gl/gl-backend.ts';
import type { Logger } from '../logger.ts';
import { killProcessTree, treeResidentBytesOver } from './process-tree-memory.ts';
import { SceneFaultError, type TaskOutcome } from './run-task.ts';
import type { RequestUpload } from './run-render-task.ts';

/** What a render process needs to know, passed in its environment. */
export interface WorkerSettings {
  cacheDir: string;
  maxLoadedScenes: number;
  maxTexturePixels: number;
  /** The GL backends the render process starts (default headless-gl). */
  backend?: RenderBackendChoice;
  /** Longest one call into the Chromium page may take before Chromium is killed (ms). */
  chromiumCallTimeoutMs?: number;
}

/**
 * Parent → render process. `ticket` answers the process's `upload` request of run `id`: the render process holds
 * no credentials, so the parent (the node agent) asks the API for the upload URL of the bytes it reports.
 */
export type WorkerRequest =
  | { type: 'describe'; id: number }
  | { type: 'run'; id: number; task: LeasedTask }
  | { type: 'ticket'; id: number; ticket?: UploadTicket; code?: ErrorCode; message?: string };
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'upload'; id: number; claim: { bytes: number; checksum: string } }
  | { type: 'described'; id: number; info: GLBackendInfo; version: string; tilesPerSecond: number; backends: CardBackend[] }
  /** A render task's pixels are drawn and read back: the GL context is free for the next task (encode and upload go on). */
  | { type: 'drawn'; id: number }
  | { type: 'done'; id: number; outcome: TaskOutcome }
  | { type: 'failed'; id: number; code?: ErrorCode; message: string; sceneFault: boolean };

export interface TaskSandboxOptions extends WorkerSettings {
  /** A task running longer than this is killed (with its process) and fails. */
  timeCapMs: number;
  /**
   * A render process whose resident memory passes this, with every process it started (Chromium's on that backend,
   * Pss: shared pages split between their sharers), is killed with them and its task fails.
   */
  memoryCapBytes: number;
  /**
   * llvmpipe's rasterizer threads per render process (its LP_NUM_THREADS; 0: it draws on the render process's own
   * thread). Absent: the environment's LP_NUM_THREADS, else Mesa's default (one per core).
   */
  rasterThreads?: number;
  log: Logger;
}

const WORKER = fileURLToPath(new URL('./task-worker.ts', import.meta.url));
// tsx's loader, so the render process runs TypeScript as the CLI does (resolved from here, not the cwd).
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const MEMORY_POLL_MS = 200;
const STARTUP_TIMEOUT_MS = 60_000;

/**
 * Runs tasks in a separate render process with time and memory caps. A task that blows a cap, or crashes the
 * process, kills only that process: the task fails with a clear reason and the next task gets a fresh one.
 */
export class TaskSandbox {
  private child?: ChildProcess;
  private starting?: Promise<ChildProcess>;
  private nextId = 1;
  /** Render processes stopped over the memory cap, with the bytes they used (their tasks' exit handlers say so). */
  private readonly overCap = new WeakMap<ChildProcess, number>();
  /** Requests (tasks, describe) sent and not yet answered: the memory poll runs while there are any. */
  private inFlight = 0;
  /** The tree was measured since the last request ended: an idle process's memory does not grow, so polls pause. */
  private idleMeasured = false;

  constructor(private readonly options: TaskSandboxOptions) {}

  /** GL facts and measured speed of a render process, for the resource card. */
  async describe(): Promise<{ info: GLBackendInfo; version: string; tilesPerSecond: number; backends: CardBackend[] }> {
    const reply = await this.request({ type: 'describe', id: this.nextId++ }, STARTUP_TIMEOUT_MS, 'measuring the reference tile');
    if (reply.type !== 'described') throw new TesseraError('INTERNAL', `render process answered ${reply.type} to describe`);
    return reply;
  }

  /** Start the render process now (GL context, modules) rather than when the first task arrives. */
  async warm(): Promise<void> {
    await this.process();
  }

  /**
   * Run one task; throws TesseraError (SceneFaultError when a cap or a crash stopped it). `requestUpload` answers
   * the render process's request for the upload URL of its output (it runs here, in the agent, with the credentials).
   * `onDrawn`: called when a render task's pixels are drawn, so the caller may send the next task while this one
   * encodes and uploads (the render process draws one task at a time; its encoding runs on sharp's threads).
   */
  async run(task: LeasedTask, signal: AbortSignal, requestUpload: RequestUpload, onDrawn?: () => void): Promise<TaskOutcome> {
    const what = `${task.kind} task of frame ${task.frame}${task.tile ? ` tile ${task.tile.x},${task.tile.y}` : ''}`;
    const reply = await this.request({ type: 'run', id: this.nextId++, task }, this.options.timeCapMs, what, signal, (claim, child, id) => {
      requestUpload(task, claim, signal).then(
        (ticket) => child.connected && child.send({ type: 'ticket', id, ticket } satisfies WorkerRequest),
        (err: unknown) => child.connected && child.send({ type: 'ticket', id, code: err instanceof TesseraError ? err.code : 'UNAVAILABLE', message: (err as Error)?.message ?? String(err) } satisfies WorkerRequest),
      );
    }, onDrawn);
    if (reply.type === 'done') return reply.outcome;
    if (reply.type === 'failed') {
      const code = reply.code ?? 'RENDER_FAILED';
      throw reply.sceneFault ? new SceneFaultError(code, reply.message) : new TesseraError(code, reply.message);
    }
    throw new TesseraError('INTERNAL', `render process answered ${reply.type} to a task`);
  }

  /** Stop the render process and every process it started (Chromium's); resolves once they were sent SIGKILL. */
  async dispose(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await killProcessTree(child.pid, () => child.kill('SIGKILL'));
  }

  private request(
    message: WorkerRequest,
    capMs: number,
    what: string,
    signal?: AbortSignal,
    onUpload?: (claim: { bytes: number; checksum: string }, child: ChildProcess, id: number) => void,
    onDrawn?: () => void,
  ): Promise<WorkerReply> {
    return this.process().then(
      (child) =>
        new Promise<WorkerReply>((resolve, reject) => {
          const id = message.id;
          let settled = false;
          this.inFlight++;
          this.idleMeasured = false;
          const finish = (fn: () => void) => {
            if (settled) return;
            settled = true;
            this.inFlight--;
            clearTimeout(timer);
            child.off('message', onMessage);
            child.off('exit', onExit);
            signal?.removeEventListener('abort', onAbort);
            fn();
          };
          const kill = (err: TesseraError) => {
            this.forget(child);
            // Chromium's processes (on that backend) go with it: a SIGKILLed render process cannot close them.
            void killProcessTree(child.pid, () => child.kill('SIGKILL'));
            finish(() => reject(err));
          };
          // Once drawn, the process may be drawing the next task: giving up on this one must not kill that one.
          let drawn = false;
          const onMessage = (reply: WorkerReply) => {
            if (!('id' in reply) || reply.id !== id) return;
            if (reply.type === 'drawn') {
              drawn = true;
              onDrawn?.();
            } else if (reply.type === 'upload') onUpload?.(reply.claim, child, id);
            else finish(() => resolve(reply));
          };
          const onExit = (code: number | null, sig: NodeJS.Signals | null) => {
            this.forget(child);
            const over = this.overCap.get(child);
            if (over !== undefined) {
              return finish(() => reject(new SceneFaultError('SCENE_LIMIT_EXCEEDED', `the ${what} used ${mib(over)} MiB (its render process and the processes it started, Chromium's included), over the memory cap of ${mib(this.options.memoryCapBytes)} MiB, and was stopped`)));
            }
            finish(() => reject(new SceneFaultError('RENDER_FAILED', `the render process died during the ${what} (${sig ?? `exit code ${code}`})`)));
          };
          const onAbort = () => {
            const err = new TesseraError('LEASE_LOST', `the ${what} was abandoned: ${String(signal?.reason ?? 'aborted')}`);
            // A drawn task's encode ends on its own and its upload is refused (its result is dropped); an undrawn
            // task's process is stopped.
            if (!drawn) return kill(err);
            const refuse = (reply: WorkerReply) => {
              if (!('id' in reply) || reply.id !== id) return;
              if (reply.type === 'upload' && child.connected) child.send({ type: 'ticket', id, code: 'LEASE_LOST', message: err.message } satisfies WorkerRequest);
              if (reply.type === 'done' || reply.type === 'failed' || reply.type === 'upload') child.off('message', refuse);
            };
            child.on('message', refuse);
            finish(() => reject(err));
          };
          const timer = setTimeout(() => kill(new SceneFaultError('SCENE_LIMIT_EXCEEDED', `the ${what} ran past the time cap of ${Math.round(capMs / 1000)} s and was stopped`)), capMs);
          child.on('message', onMessage);
          child.on('exit', onExit);
          signal?.addEventListener('abort', onAbort, { once: true });
          child.send(message);
        }),
    );
  }

  /**
   * The memory cap, for the process's whole life (a task shorter than a poll is still measured: the tree's memory
   * stays after it, Chromium's above all): every MEMORY_POLL_MS while a request is in flight, and once more after the
   * last one ended (then none until the next: an idle process's memory does not grow), the render process and every
   * process it started (Pss, as a session's: process-tree-memory.ts, read only when their VmRSS passes the cap; on the
   * Chromium backend most of a task's memory is in Chromium's GPU and renderer processes, not the render process's
   * own). Over the cap, the tree is stopped; the task it was running fails with SCENE_LIMIT_EXCEEDED (its exit
   * handler reads why here) and the next task gets a fresh process.
   */
  private watchMemory(child: ChildProcess): void {
    let measuring = false;
    const poll = setInterval(async () => {
      if (measuring || this.overCap.has(child) || (this.inFlight === 0 && this.idleMeasured)) return;
      measuring = true;
      const idle = this.inFlight === 0;
      const bytes = await treeResidentBytesOver(child.pid, this.options.memoryCapBytes).finally(() => (measuring = false));
      if (idle && this.inFlight === 0) this.idleMeasured = true;
      if (bytes !== null && child.exitCode === null && child.signalCode === null && !this.overCap.has(child)) {
        this.overCap.set(child, bytes);
        this.options.log.warn({ pid: child.pid, mib: mib(bytes), capMib: mib(this.options.memoryCapBytes) }, 'render process over the memory cap: stopped with the processes it started');
        this.forget(child);
        void killProcessTree(child.pid, () => child.kill('SIGKILL'));
      }
    }, MEMORY_POLL_MS);
    poll.unref();
    child.once('exit', () => clearInterval(poll));
  }

  private forget(child: ChildProcess): void {
    if (this.child === child) this.child = undefined;
  }

  /** The running render process, started on first use and again after one was killed. */
  private process(): Promise<ChildProcess> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return Promise.resolve(this.child);
    this.starting ??= new Promise<ChildProcess>((resolve, reject) => {
      const { cacheDir, maxLoadedScenes, maxTexturePixels, backend, chromiumCallTimeoutMs } = this.options;
      const settings: WorkerSettings = { cacheDir, maxLoadedScenes, maxTexturePixels, backend, chromiumCallTimeoutMs };
      const child = fork(WORKER, [], {
        execArgv: ['--import', TSX],
        env: { ...process.env, ...(this.options.rasterThreads === undefined ? {} : { LP_NUM_THREADS: String(this.options.rasterThreads) }), TESSERA_WORKER_SETTINGS: JSON.stringify(settings) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new TesseraError('GL_UNAVAILABLE', `the render process did not start within ${STARTUP_TIMEOUT_MS / 1000} s`));
      }, STARTUP_TIMEOUT_MS);
      child.once('message', (m: WorkerReply) => {
        clearTimeout(timer);
        if (m.type === 'ready') resolve(child);
        else reject(new TesseraError('INTERNAL', `render process said ${m.type} before ready`));
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new TesseraError('GL_UNAVAILABLE', `the render process exited while starting (${sig ?? `exit code ${code}`}); is headless-gl built and Xvfb installed?`));
      });
    }).then(
      (child) => {
        this.starting = undefined;
        this.child = child;
        this.idleMeasured = false; // a new process: measured at its first poll
        this.watchMemory(child);
        this.options.log.debug?.({ pid: child.pid }, 'render process started');
        return child;
      },
      (err) => {
        this.starting = undefined;
        throw err;
      },
    );
    return this.starting;
  }
}

const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);
