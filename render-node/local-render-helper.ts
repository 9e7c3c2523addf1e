import { fork, type ChildProcess } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TesseraError, type ErrorCode } from '../api/protocol/errors.ts';
import type { SceneLimits } from '../api/protocol/render-spec.ts';
import type { FrameQueue, LocalFrameDone, LocalFrameJob } from './local-frames.ts';

/** parent → helper */
export type HelperRequest =
  | { type: 'load'; scene: string; limits: SceneLimits }
  | { type: 'frame'; index: number; frame: number; job: LocalFrameJob };
/** helper → parent */
export type HelperReply =
  | { type: 'ready'; renderer: string }
  | { type: 'done'; done: LocalFrameDone }
  | { type: 'failed'; index?: number; code: ErrorCode; message: string };

const ENTRY = fileURLToPath(new URL('./local-render-helper-process.ts', import.meta.url));
// tsx's loader, so the helper runs TypeScript as the CLI does (resolved from here, not the cwd).
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** Frames sent ahead to a helper: one drawing, one waiting, so it never idles for a round trip. */
const IN_FLIGHT = 2;

export interface LocalRenderHelperOptions {
  /** The scene file (the helper reads and checks it itself). */
  scene: string;
  limits: SceneLimits;
  /** Extra environment (the helper inherits this process's, DISPLAY of its Xvfb included). */
  env?: Record<string, string>;
}

/**
 * One more render process for a local animation (`renderLocal`): headless-gl in a child process that loads the
 * same scene and renders the frames it takes from the shared queue, encoding each on its own libuv threads
 * while it draws the next and writing the file itself. It renders with the same code, so its pixels are the
 * same as this process's. It only ever helps: frames it held when it died go back to the queue.
 */
export class LocalRenderHelper {
  private readonly child: ChildProcess;
  private readonly ready: Promise<boolean>;
  private readonly held = new Map<number, { index: number; frame: number }>();
  private gone = false;
  private isReady = false;
  private queue?: FrameQueue;
  private job?: LocalFrameJob;
  private onDone?: (d: LocalFrameDone) => void;
  private failure?: Error;
  private settled?: () => void;
  /** Removing the temporary files a dead helper left half-written. */
  private cleanup: Promise<void> = Promise.resolve();
  /** Frames this helper wrote. */
  framesDone = 0;
  /** Why it stopped helping, if it did (a note for the summary, not an error). */
  lostReason?: string;

  constructor(options: LocalRenderHelperOptions) {
    this.child = fork(ENTRY, [], {
      execArgv: ['--import', TSX],
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise<boolean>((resolve) => {
      this.child.on('message', (m: HelperReply) => {
        if (m.type === 'ready') {
          this.isReady = true;
          resolve(true);
        } else if (m.type === 'done') this.frameDone(m.done);
        else if (!this.isReady) {
          // It could not load what this process loaded: it just does not help.
          resolve(false);
          this.lost(`helper render process could not load the scene: ${m.message}`);
          this.stop();
        } else this.fail(m);
      });
      this.child.once('exit', (code, signal) => {
        resolve(false);
        this.lost(`helper render process exited (${signal ?? `exit code ${code}`})`);
      });
      this.child.once('error', (err) => {
        resolve(false);
        this.lost(`helper render process failed: ${err.message}`);
      });
    });
    this.send({ type: 'load', scene: options.scene, limits: options.limits });
  }

  /** The helper's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves true once the helper has loaded the scene, false if it never will. */
  whenReady(): Promise<boolean> {
    return this.ready;
  }

  /** Start taking frames from `queue` as soon as the helper is ready (frames left by then). */
  attach(queue: FrameQueue, job: LocalFrameJob, onDone: (d: LocalFrameDone) => void): void {
    this.queue = queue;
    this.job = job;
    this.onDone = onDone;
    void this.ready.then((ok) => ok && this.fill());
  }

  /**
   * Wait until the helper holds no frame (the caller's queue is empty by then); throws the error of a frame the
   * helper could not render (the same error this process would give). Frames of a helper that died are back in
   * the queue.
   */
  async settle(): Promise<void> {
    if (this.held.size && !this.gone && !this.failure) await new Promise<void>((resolve) => (this.settled = resolve));
    await this.cleanup;
    if (this.failure) throw this.failure;
  }

  /** End the helper (it has nothing left to write once settled). */
  stop(): void {
    this.gone = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }

  private fill(): void {
    while (!this.gone && !this.failure && this.queue && this.held.size < IN_FLIGHT) {
      const item = this.queue.take();
      if (!item) break;
      this.held.set(item.index, item);
      this.send({ type: 'frame', ...item, job: this.job! });
    }
    if (!this.held.size) this.settled?.();
  }

  private frameDone(done: LocalFrameDone): void {
    this.held.delete(done.index);
    this.framesDone++;
    this.onDone?.(done);
    this.fill();
  }

  private fail(m: Extract<HelperReply, { type: 'failed' }>): void {
    this.failure = new TesseraError(m.code, m.message);
    if (m.index !== undefined) this.held.delete(m.index);
    this.settled?.();
  }

  private lost(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.lostReason = reason;
    // A frame it was writing stays a temporary file (writeAtomic never leaves a partial frame under the real
    // name): remove it, the frame is rendered again from the queue.
    if (this.job && this.child.pid) this.cleanup = removeTempFiles(this.job.outDir, this.child.pid);
    if (this.held.size) this.queue?.putBack([...this.held.values()]);
    this.held.clear();
    this.settled?.();
  }

  private send(m: HelperRequest): void {
    if (!this.child.connected) return;
    this.child.send(m, (err) => err && this.lost(`could not talk to the helper render process: ${err.message}`));
  }
}

/** Remove `dir`'s temporary files written by process `pid` (writeAtomic's `NAME.PID-N.tmp`). */
async function removeTempFiles(dir: string, pid: number): Promise<void> {
  const mine = new RegExp(`\\.${pid}-\\d+\\.tmp$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => mine.test(n)).map((n) => rm(join(dir, n), { force: true })));
}
