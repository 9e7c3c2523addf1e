import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { formatLogLine } from './format-log-line.ts';

const BIN = fileURLToPath(new URL('../bin/tessera.mjs', import.meta.url));
/** Set for a farm's nodes: stop when stdin ends (the farm process that holds its other end is gone). */
export const STOP_ON_STDIN_END = 'TESSERA_NODE_STOP_ON_STDIN_END';

export interface FarmNodeOptions {
  name: string;
  api: string;
  cacheDir: string;
  concurrency?: number;
  /** How the node leases tasks (its --leasing); the node's default when absent. */
  leasing?: 'batched' | 'per-slot';
  /** The node's GL backends (its --backend); the node's default (headless-gl) when absent. */
  backend?: 'auto' | 'chromium' | 'headless-gl';
  /**
   * llvmpipe threads per batch render process (the node's --raster-threads); the node's choice when absent. Not
   * LP_NUM_THREADS in the node's environment: its session render processes would inherit that, and a session's
   * frame time is what a person waits on (they keep Mesa's one thread per core unless the operator set it).
   */
  rasterThreads?: number;
  /** CPU cores the node's render processes may use (its share of the machine: `--cores`); all when absent. */
  cores?: number;
  /** Receives each output line of the node, formatted, without prefix. */
  log(line: string): void;
  /** A node that dies on its own is started again, at most this many times. */
  maxRestarts?: number;
  /** Longest a stopping node may drain before it is killed. */
  stopTimeoutMs?: number;
}

export const FARM_NODE_DEFAULTS = { maxRestarts: 3, stopTimeoutMs: 75_000, restartDelayMs: 1_000 };

/**
 * One render node of a local farm, in its own process (`tessera node start`): one GL context per process.
 * It runs in its own process group, so a Ctrl-C in the terminal reaches only the farm, which then stops the
 * nodes one signal each, in order; it stops on its own when the farm process dies (its stdin pipe closes).
 */
export class FarmNodeProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  private exited: Promise<number | null> = Promise.resolve(null);
  private readonly opts: FarmNodeOptions & typeof FARM_NODE_DEFAULTS;
  private onRegistered!: () => void;
  private onGaveUp!: (err: Error) => void;
  /** Settles when the node has registered with the API (after a restart too, the first time counts). */
  readonly registered: Promise<void>;

  constructor(options: FarmNodeOptions) {
    this.opts = { ...FARM_NODE_DEFAULTS, ...options };
    this.registered = new Promise((resolve, reject) => {
      this.onRegistered = resolve;
      this.onGaveUp = reject;
    });
    this.registered.catch(() => {});
  }

  get name(): string {
    return this.opts.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const { name, api, cacheDir, concurrency, cores, leasing, backend } = this.opts;
    const args = [BIN, 'node', 'start', '--api', api, '--name', name, '--cache', cacheDir];
    if (concurrency) args.push('--concurrency', String(concurrency));
    if (cores) args.push('--cores', String(cores));
    if (leasing) args.push('--leasing', leasing);
    if (backend) args.push('--backend', backend);
    if (this.opts.rasterThreads !== undefined) args.push('--raster-threads', String(this.opts.rasterThreads));
    // Its stdin is a pipe from this process that nothing writes to: when this process ends, however it ends (a
    // SIGKILL included), the kernel closes it and the node, told by TESSERA_NODE_STOP_ON_STDIN_END, stops too
    // rather than orphan (it is detached, so no terminal signal reaches it).
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, [STOP_ON_STDIN_END]: '1' } });
    child.stdin!.on('error', () => {});
    this.child = child;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        if (!line.trim()) return;
        // The agent logs `registered` once the API has accepted its card.
        if (line.includes('"msg":"registered"')) this.onRegistered();
        this.opts.log(formatLogLine(line, { loggerName: `node:${name}` }));
      });
    }
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.opts.log(`could not start: ${err.message}`);
        resolve(null);
      });
      child.once('exit', (code, signal) => {
        resolve(code);
        if (this.stopping) return;
        this.opts.log(`exited on its own (${signal ?? `code ${code}`})`);
        if (this.restarts >= this.opts.maxRestarts) {
          this.opts.log(`not restarting: it already restarted ${this.restarts} time(s)`);
          this.onGaveUp(new Error(`render node ${name} exited (${signal ?? `code ${code}`}) and was restarted ${this.restarts} time(s)`));
          return;
        }
        this.restarts++;
        setTimeout(() => this.stopping || this.start(), this.opts.restartDelayMs).unref();
      });
    });
  }

  /** SIGTERM (the node drains: finishes or hands back its tasks), then SIGKILL if it takes too long. */
  async stop(): Promise<'drained' | 'killed' | 'gone'> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return 'gone';
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), this.opts.stopTimeoutMs)));
    const outcome = await Promise.race([this.exited.then(() => 'exited' as const), late]);
    clearTimeout(timer);
    if (outcome === 'exited') return 'drained';
    child.kill('SIGKILL');
    await this.exited;
    return 'killed';
  }

  /** Kill at once (the farm's last resort, e.g. on a second Ctrl-C or when it exits). */
  kill(): void {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
