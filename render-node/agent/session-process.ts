/**
 * The parent's handle on a session's render process (session-worker.ts): start it, load the scene, render
 * poses one at a time. A process that crashes, blows its memory cap or takes too long for a frame is
 * killed; the session then ends with a reason (the node itself carries on).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ErrorCode } from '../../api/protocol/errors.ts';
import type { EyePose, SessionRender } from '../../api/protocol/session.ts';
import type { StartView } from '../render/stereo-renderer.ts';

export interface SessionWorkerSettings {
  cacheDir: string;
  maxTexturePixels: number;
}

export type SessionWorkerRequest =
  | { type: 'load'; scene: { id: string; url: string }; render: SessionRender }
  | { type: 'frame'; id: number; eyes: EyePose[] };

export type SessionWorkerReply =
  | { type: 'ready' }
  | { type: 'loaded'; start: StartView }
  | { type: 'load-failed'; message: string; code?: ErrorCode; sceneFault: boolean }
  | { type: 'frame'; id: number; image: Uint8Array; depth: Uint8Array | null; width: number; height: number; renderMs: number; encodeMs: number; workMs: number }
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
  /** The round trip to the render process less its own work (both IPC hops, its event loop's wait). */
  ipcMs: number;
}

const WORKER = fileURLToPath(new URL('./session-worker.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export class SessionProcess {
  readonly #child: ChildProcess;
  readonly #options: SessionProcessOptions;
  readonly #ready: Promise<void>;
  #nextId = 1;
  #dead: string | null = null;
  readonly #memoryTimer: NodeJS.Timeout;
  /** Settles when the process exits, with why. */
  readonly exited: Promise<string>;

  constructor(options: SessionProcessOptions) {
    this.#options = options;
    const settings: SessionWorkerSettings = { cacheDir: options.cacheDir, maxTexturePixels: options.maxTexturePixels };
    this.#child = fork(WORKER, [], {
      execArgv: ['--import', TSX],
      env: { ...process.env, TESSERA_SESSION_SETTINGS: JSON.stringify(settings) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Frames travel as binary, not as JSON arrays of numbers.
      serialization: 'advanced',
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, sig) => {
        this.#dead ??= `the session's render process exited (${sig ?? `exit code ${code}`})`;
        clearInterval(this.#memoryTimer);
        resolve(this.#dead);
      });
    });
    this.#ready = this.#wait((m) => m.type === 'ready', options.loadTimeoutMs, 'start').then(() => undefined);
    this.#memoryTimer = setInterval(async () => {
      const rss = await residentBytes(this.#child.pid);
      if (rss > options.memoryCapBytes) this.kill(`the session's render process used ${Math.round(rss / 2 ** 20)} MiB, over its cap of ${Math.round(options.memoryCapBytes / 2 ** 20)} MiB`);
    }, 500);
    this.#memoryTimer.unref();
  }

  /** Load the scene; resolves with the session's start view, rejects with why it failed. */
  async load(scene: { id: string; url: string }, render: SessionRender): Promise<StartView> {
    await this.#ready;
    const reply = this.#wait((m) => m.type === 'loaded' || m.type === 'load-failed', this.#options.loadTimeoutMs, 'scene load');
    this.#child.send({ type: 'load', scene, render } satisfies SessionWorkerRequest);
    const m = await reply;
    if (m.type === 'load-failed') throw new Error(`the scene could not be loaded: ${m.message}`);
    return (m as Extract<SessionWorkerReply, { type: 'loaded' }>).start;
  }

  /** Render and encode one pose. */
  async frame(eyes: EyePose[]): Promise<RenderedFrame> {
    const id = this.#nextId++;
    const t0 = performance.now();
    const reply = this.#wait((m) => (m.type === 'frame' || m.type === 'frame-failed') && m.id === id, this.#options.frameTimeoutMs, 'frame');
    this.#child.send({ type: 'frame', id, eyes } satisfies SessionWorkerRequest);
    const m = await reply;
    if (m.type === 'frame-failed') throw new Error(`rendering failed: ${m.message}`);
    const f = m as Extract<SessionWorkerReply, { type: 'frame' }>;
    const ipcMs = Math.max(0, performance.now() - t0 - (f.workMs ?? 0));
    return { image: f.image, depth: f.depth ?? null, width: f.width, height: f.height, renderMs: f.renderMs, encodeMs: f.encodeMs, ipcMs };
  }

  /** Stop the process (idempotent). */
  kill(reason = 'session ended'): void {
    this.#dead ??= reason;
    clearInterval(this.#memoryTimer);
    this.#child.kill('SIGKILL');
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

async function residentBytes(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
