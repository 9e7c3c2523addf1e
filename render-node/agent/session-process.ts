/**
 * The parent's handle on a session's render process (session-worker.ts): start it, load the scene, render
 * poses. A frame comes back in two steps: `rendered` (the process's GL thread is free: send it the next pose)
 * and `done` (the encoded frame, from the process's encoder thread over the frame pipe), so one frame is encoded
 * while the next one renders. A process that crashes, blows its memory cap or takes too long for a frame is
 * killed; the session then ends with a reason (the node itself carries on).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ErrorCode } from '../../api/protocol/errors.ts';
import { SESSION_CLOSE, type EyePose, type SessionCloseCode, type SessionRender } from '../../api/protocol/session.ts';
import { killProcessTree, treeResidentBytesOver } from './process-tree-memory.ts';
import type { RenderBackend, RenderBackendChoice } from '../chromium/choose-backend.ts';
import type { SessionEncodeIn } from '../chromium/render-host-api.ts';
import type { StartView } from '../render/stereo-renderer.ts';
import { RecordReader } from './frame-records.ts';
import type { FrameRecordHeader } from './session-encoder.ts';

/** The render process's end of the frame pipe (after stdin, stdout, stderr and the IPC channel). */
export const FRAME_PIPE_FD = 4;

export interface SessionWorkerSettings {
  cacheDir: string;
  maxTexturePixels: number;
  /** The node's `--backend`: a session's scene renders on the backend batch rendering would choose for it. */
  backend?: RenderBackendChoice;
  /** Longest one call into the Chromium page may take (a frame, the scene load), ms. */
  chromiumCallTimeoutMs?: number;
  /** On Chromium, where frames are encoded: in the page (canvas.toBlob, default) or here (pixels read back, sharp). */
  encodeIn?: SessionEncodeIn;
}

export type SessionWorkerRequest =
  | { type: 'load'; scene: { id: string; url: string }; render: SessionRender }
  | { type: 'frame'; id: number; eyes: EyePose[] };

export type SessionWorkerReply =
  | { type: 'ready' }
  | { type: 'loaded'; start: StartView; backend: RenderBackend }
  | { type: 'load-failed'; message: string; code?: ErrorCode; sceneFault: boolean }
  /** The frame is drawn and read back (its encoded image follows on the frame pipe); the GL thread is free. */
  | { type: 'rendered'; id: number; width: number; height: number; renderMs: number }
  | { type: 'frame-failed'; id: number; message: string };

export interface SessionProcessOptions extends SessionWorkerSettings {
  /** Longest the process may take to start and load the scene. */
  loadTimeoutMs: number;
  /** Longest one frame may take. */
  frameTimeoutMs: number;
  /** Resident memory cap of the process. */
  memoryCapBytes: number;
}

export interface RenderedFrame {
  image: Uint8Array;
  /** The `rg8-mm-png` depth image, when the session asked for depth. */
  depth: Uint8Array | null;
  width: number;
  height: number;
  renderMs: number;
  encodeMs: number;
  /** The round trip to the render process less its render and encode (IPC hops, the threads' waits). */
  ipcMs: number;
}

/** One frame in the render process: drawn first, then encoded. */
export interface FrameJob {
  /** Settles when the render process may take the next pose (rejects when the frame failed). */
  rendered: Promise<{ renderMs: number }>;
  /** Settles with the encoded frame. */
  done: Promise<RenderedFrame>;
}

interface PendingFrame {
  sentAt: number;
  renderMs: number | null;
  width: number;
  height: number;
  rendered: { resolve: (v: { renderMs: number }) => void; reject: (e: Error) => void };
  done: { resolve: (v: RenderedFrame) => void; reject: (e: Error) => void };
  timer: NodeJS.Timeout;
  /** The encoded frame, when it came on the frame pipe before the render process's `rendered` reply (IPC). */
  encoded?: { header: FrameRecordHeader; parts: Buffer[] };
}

const WORKER = fileURLToPath(new URL('./session-worker.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export class SessionProcess {
  readonly #child: ChildProcess;
  readonly #options: SessionProcessOptions;
  readonly #ready: Promise<void>;
  #nextId = 1;
  #dead: string | null = null;
  #closeCode: SessionCloseCode | undefined;
  readonly #memoryTimer: NodeJS.Timeout;
  readonly #frames = new Map<number, PendingFrame>();
  /** Settles when the process exits, with why. */
  readonly exited: Promise<string>;

  constructor(options: SessionProcessOptions) {
    this.#options = options;
    const settings: SessionWorkerSettings = { cacheDir: options.cacheDir, maxTexturePixels: options.maxTexturePixels, backend: options.backend, chromiumCallTimeoutMs: options.chromiumCallTimeoutMs, encodeIn: options.encodeIn };
    this.#child = fork(WORKER, [], {
      execArgv: ['--import', TSX],
      env: { ...process.env, TESSERA_SESSION_SETTINGS: JSON.stringify(settings) },
      // fd 4: the frame pipe its encoder thread writes encoded frames to (FRAME_PIPE_FD).
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
      // Frames travel as binary, not as JSON arrays of numbers.
      serialization: 'advanced',
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, sig) => {
        this.#dead ??= `the session's render process exited (${sig ?? `exit code ${code}`})`;
        clearInterval(this.#memoryTimer);
        this.#failFrames(new Error(this.#dead));
        resolve(this.#dead);
      });
    });
    this.#ready = this.#wait((m) => m.type === 'ready', options.loadTimeoutMs, 'start').then(() => undefined);
    this.#child.on('message', (m: SessionWorkerReply) => this.#onReply(m));
    const reader = new RecordReader();
    const pipe = this.#child.stdio[FRAME_PIPE_FD]!;
    pipe.on('error', () => {});
    pipe.on('data', (chunk: Buffer) => {
      try {
        for (const { header, parts } of reader.push(chunk)) this.#onEncoded(header as unknown as FrameRecordHeader, parts);
      } catch (err) {
        this.kill(`the session's render process sent a malformed frame: ${(err as Error).message}`);
      }
    });
    // The cap covers the process and everything it started: on the Chromium backend, Chromium's own processes.
    this.#memoryTimer = setInterval(async () => {
      // Pss read only when the tree's VmRSS passes the cap (process-tree-memory.ts): smaps_rollup costs the frames CPU.
      const rss = await treeResidentBytesOver(this.#child.pid, options.memoryCapBytes);
      if (rss !== null && !this.#dead) {
        this.#closeCode = SESSION_CLOSE.OVER_MEMORY_CAP;
        // Short: a close reason holds 123 bytes.
        this.kill(`memory cap: the session's processes (Chromium included) used ${Math.round(rss / 2 ** 20)} MiB, over the node's cap of ${Math.round(options.memoryCapBytes / 2 ** 20)} MiB`);
      }
    }, 500);
    this.#memoryTimer.unref();
  }

  /** Load the scene; resolves with the session's start view and the backend it renders on, rejects with why it failed. */
  async load(scene: { id: string; url: string }, render: SessionRender): Promise<{ start: StartView; backend: RenderBackend }> {
    await this.#ready;
    const reply = this.#wait((m) => m.type === 'loaded' || m.type === 'load-failed', this.#options.loadTimeoutMs, 'scene load');
    this.#child.send({ type: 'load', scene, render } satisfies SessionWorkerRequest);
    const m = await reply;
    if (m.type === 'load-failed') throw new Error(`the scene could not be loaded: ${m.message}`);
    const { start, backend } = m as Extract<SessionWorkerReply, { type: 'loaded' }>;
    return { start, backend };
  }

  /** Render and encode one pose: `rendered` when the process can take the next pose, `done` with the frame. */
  frame(eyes: EyePose[]): FrameJob {
    const id = this.#nextId++;
    let rendered!: PendingFrame['rendered'];
    let done!: PendingFrame['done'];
    const job: FrameJob = {
      rendered: new Promise((resolve, reject) => (rendered = { resolve, reject })),
      done: new Promise((resolve, reject) => (done = { resolve, reject })),
    };
    // Whoever awaits only one of them must not leave the other's rejection unhandled.
    job.rendered.catch(() => {});
    job.done.catch(() => {});
    if (this.#dead) {
      const err = new Error(this.#dead);
      rendered.reject(err);
      done.reject(err);
      return job;
    }
    const timeoutMs = this.#options.frameTimeoutMs;
    const timer = setTimeout(() => {
      const err = new Error(`the frame took longer than ${timeoutMs} ms`);
      this.#settle(id, err);
      this.kill(err.message);
    }, timeoutMs);
    this.#frames.set(id, { sentAt: performance.now(), renderMs: null, width: 0, height: 0, rendered, done, timer });
    this.#child.send({ type: 'frame', id, eyes } satisfies SessionWorkerRequest);
    return job;
  }

  #onReply(m: SessionWorkerReply): void {
    if (m.type === 'rendered') {
      const f = this.#frames.get(m.id);
      if (!f) return;
      f.renderMs = m.renderMs;
      f.width = m.width;
      f.height = m.height;
      f.rendered.resolve({ renderMs: m.renderMs });
      if (f.encoded) this.#onEncoded(f.encoded.header, f.encoded.parts);
    } else if (m.type === 'frame-failed') this.#settle(m.id, new Error(`rendering failed: ${m.message}`));
  }

  #onEncoded(header: FrameRecordHeader, parts: Buffer[]): void {
    const f = this.#frames.get(header.id);
    if (!f) return;
    if (!header.ok || !parts[0]) return this.#settle(header.id, new Error(`encoding failed: ${header.message ?? 'no image'}`));
    // The frame pipe and the IPC channel are separate: on a busy machine the encoded frame can arrive before the
    // `rendered` reply that precedes it. Keep it until that reply comes (the frame's timeout still applies).
    if (f.renderMs === null) {
      f.encoded = { header, parts };
      return;
    }
    clearTimeout(f.timer);
    this.#frames.delete(header.id);
    const ipcMs = Math.max(0, performance.now() - f.sentAt - f.renderMs - header.encodeMs);
    f.done.resolve({ image: parts[0], depth: parts[1] ?? null, width: f.width, height: f.height, renderMs: f.renderMs, encodeMs: header.encodeMs, ipcMs });
  }

  /** Fail frame `id` (both steps; a step that settled already stays so). */
  #settle(id: number, err: Error): void {
    const f = this.#frames.get(id);
    if (!f) return;
    clearTimeout(f.timer);
    this.#frames.delete(id);
    f.rendered.reject(err);
    f.done.reject(err);
  }

  #failFrames(err: Error): void {
    for (const id of [...this.#frames.keys()]) this.#settle(id, err);
  }

  /** Stop the process (idempotent). */
  kill(reason = 'session ended'): void {
    this.#dead ??= reason;
    clearInterval(this.#memoryTimer);
    this.#failFrames(new Error(this.#dead));
    // Chromium (on that backend) goes with it: SIGKILL leaves the process no time to close it, so end its children too.
    void killProcessTree(this.#child.pid, () => this.#child.kill('SIGKILL'));
  }

  /** The render process's pid (undefined once it could not start). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The close code the session's end calls for, when its process was stopped for a reason with its own (memory). */
  get closeCode(): SessionCloseCode | undefined {
    return this.#closeCode;
  }

  /** Wait for a reply matching `match`, or fail on timeout or process exit. */
  #wait(match: (m: SessionWorkerReply) => boolean, timeoutMs: number, what: string): Promise<SessionWorkerReply> {
    return new Promise((resolve, reject) => {
      if (this.#dead) return reject(new Error(this.#dead));
      const done = () => {
        clearTimeout(timer);
        this.#child.off('message', onMessage);
        this.#child.off('exit', onExit);
      };
      const onMessage = (m: SessionWorkerReply) => {
        if (!match(m)) return;
        done();
        resolve(m);
      };
      const onExit = () => {
        done();
        reject(new Error(this.#dead ?? 'the render process exited'));
      };
      const timer = setTimeout(() => {
        done();
        this.kill(`the ${what} took longer than ${timeoutMs} ms`);
        reject(new Error(`the ${what} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.#child.on('message', onMessage);
      this.#child.on('exit', onExit);
    });
  }
}
