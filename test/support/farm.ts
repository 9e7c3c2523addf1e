import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE_RATE } from '../../api/core/verification-policy.ts';
import { startHarness, type HarnessOptions } from '../api/support/api-harness.ts';
import { BIN, ROOT } from './tessera-cli.ts';


export interface NodeProcess {
  name: string;
  child: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

export interface SpawnNodeOptions {
  /** Tasks at once (default 2). */
  concurrency?: number;
  /** Extra environment, e.g. `{ TESSERA_TEST_FAULT: 'truncate' }` for a misbehaving node. */
  env?: Record<string, string>;
  /** More `tessera node start` options, e.g. `['--location', '52.37,4.90']`. */
  args?: string[];
}

/** A real render node in its own process (`tessera node start`), as farm up runs it. */
export function spawnNode(api: string, name: string, options: SpawnNodeOptions = {}): NodeProcess {
  const args = ['node', 'start', '--api', api, '--name', name, '--concurrency', String(options.concurrency ?? 2), '--cache', join(tmpdir(), `tessera-test-cache-${name}-${process.pid}`), ...(options.args ?? [])];
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, DISPLAY: '', TESSERA_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log: string[] = [];
  child.stderr!.on('data', (d) => log.push(...String(d).split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { name, child, log, exited };
}

/**
 * Local S3 + API (in this process, restartable on the same port and data) for farm tests, and the render
 * nodes started on it (`spawnNode`), which `close()` kills before it stops the servers.
 */
export async function startTestFarm(opts: HarnessOptions = {}) {
  // The farm as shipped: verification at its default sample rate unless the test sets one.
  const harness = await startHarness({ ...opts, api: { ...opts.api, verification: { sampleRate: SAMPLE_RATE, ...opts.api?.verification } } });
  const nodes: NodeProcess[] = [];
  return {
    dir: harness.dir,
    s3: harness.s3,
    faults: harness.faults,
    get url() {
      return harness.url;
    },
    /** Every node started on this farm, in start order (killed ones included). */
    nodes,
    /** Start a render node on this farm. */
    spawnNode(name: string, options?: SpawnNodeOptions): NodeProcess {
      const node = spawnNode(harness.url, name, options);
      nodes.push(node);
      return node;
    },
    restartApi: (downMs = 500) => harness.restart(downMs),
    async close() {
      for (const n of nodes) n.child.kill('SIGKILL');
      await Promise.all(nodes.map((n) => n.exited));
      await harness.close();
    },
  };
}
