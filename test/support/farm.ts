import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness } from '../api/support/api-harness.ts';
import { BIN, ROOT } from './tessera-cli.ts';


export interface TestNode {
  name: string;
  child: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

/** A real render node in its own process (`tessera node start`), as farm up runs it. */
export function spawnNode(api: string, name: string): TestNode {
  const child = spawn(process.execPath, [BIN, 'node', 'start', '--api', api, '--name', name, '--concurrency', '2', '--cache', join(tmpdir(), `tessera-test-cache-${name}-${process.pid}`)], {
    cwd: ROOT,
    env: { ...process.env, DISPLAY: '', TESSERA_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log: string[] = [];
  child.stderr!.on('data', (d) => log.push(...String(d).split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { name, child, log, exited };
}

/** Local S3 + API (in this process, restartable on the same port and data) for farm tests. */
export async function startTestFarm(opts: { leaseMs?: number } = {}) {
  const harness = await startHarness({ leaseMs: opts.leaseMs });
  return {
    dir: harness.dir,
    s3: harness.s3,
    get url() {
      return harness.url;
    },
    restartApi: (downMs = 500) => harness.restart(downMs),
    close: () => harness.close(),
  };
}
