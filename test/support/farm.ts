import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApi } from '../../api/node/start-api.ts';
import { startLocalS3 } from '../../api/node/local-s3.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'infra', 'bin', 'tessera.mjs');

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
  const dir = mkdtempSync(join(tmpdir(), 'tessera-farm-'));
  const s3 = await startLocalS3({ dir: join(dir, 's3') });
  const config = { dataDir: join(dir, 'api'), s3, leaseMs: opts.leaseMs };
  let api = await startApi({ ...config, port: 0, host: '127.0.0.1' });
  const port = api.port;
  const farm = {
    dir,
    s3,
    get url() {
      return api.url;
    },
    async restartApi(downMs = 500) {
      await api.close();
      await new Promise((r) => setTimeout(r, downMs));
      api = await startApi({ ...config, port, host: '127.0.0.1' });
    },
    async close() {
      await api.close();
      await s3.close();
    },
  };
  return farm;
}
