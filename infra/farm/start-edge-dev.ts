/**
 * The edge API under `wrangler dev` (workerd, the Worker and its coordinator Durable Object with local
 * SQLite storage) with a local S3 server (s3rver) for its blobs: what `npm run dev:edge` runs, and what
 * the edge end-to-end test starts. Settings reach the Worker as `--var`s, the S3 keys included (in
 * production they are `wrangler secret`s). Resolves once the API answers /v1/health.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { startLocalS3, type LocalS3 } from '../../api/node/local-s3.ts';
import { operatorKey, type OperatorKey } from '../../api/node/operator-key.ts';

export interface EdgeDevOptions {
  /** wrangler dev's port (default 8787). */
  port?: number;
  /** Where the Durable Object's storage and the stored objects are kept (default .data/edge). */
  dataDir?: string;
  /** s3rver's port (default: a free one). */
  s3Port?: number;
  /** The operator's admin API key (the Worker's TESSERA_API_KEY); default: operatorKey() of the data dir. */
  apiKey?: string;
  /** Longest to wait for the API to answer. */
  readyTimeoutMs?: number;
  /** Receives each line wrangler prints. */
  log?: (line: string) => void;
}

export interface EdgeDev {
  url: string;
  /** The admin API key clients send as `Authorization: Bearer <key>`, and where it came from. */
  apiKey: OperatorKey;
  s3: LocalS3;
  /** Stop wrangler dev and s3rver. */
  close(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, '../..');
const WRANGLER = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');

/** Start s3rver and `wrangler dev` on 127.0.0.1; see the module comment. */
export async function startEdgeDev(options: EdgeDevOptions = {}): Promise<EdgeDev> {
  const port = options.port ?? 8787;
  const dataDir = resolve(ROOT, options.dataDir ?? '.data/edge');
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  await mkdir(dataDir, { recursive: true });
  const apiKey: OperatorKey = options.apiKey ? { key: options.apiKey, source: 'env' } : await operatorKey(dataDir);
  const s3 = await startLocalS3({ dir: join(dataDir, 's3'), port: options.s3Port });
  const vars: Record<string, string> = {
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_BUCKET: s3.bucket,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    TESSERA_API_KEY: apiKey.key,
  };
  const args = [WRANGLER, 'dev', '--config', 'infra/wrangler.jsonc', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', join(dataDir, 'wrangler'), '--show-interactive-dev-session=false', '--log-level', 'warn'];
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`);
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    // No telemetry prompt or update check on CI machines without a network.
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_SEND_ERROR_REPORTS: 'false', CI: process.env.CI ?? 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: wrangler starts a child CLI and workerd, and close() stops them all.
    detached: true,
  });
  let exited = false;
  const exit = new Promise<void>((r) => child.on('exit', () => ((exited = true), r())));
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop()!;
      for (const line of lines) if (line.trim()) log(`[wrangler] ${line}`);
    });
  }
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, name);
      } catch {
        // already gone
      }
    };
    if (!exited) {
      signal('SIGTERM');
      await Promise.race([exit, new Promise((r) => setTimeout(r, 5000))]);
    }
    signal('SIGKILL');
    await s3.close();
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) {
      await close();
      throw new Error('wrangler dev exited before the API answered; see its log above');
    }
    const ok = await fetch(`${url}/v1/health`).then((r) => r.ok, () => false);
    if (ok) return { url, apiKey, s3, close };
    if (Date.now() > deadline) {
      await close();
      throw new Error(`the edge API did not answer at ${url} within ${options.readyTimeoutMs ?? 60_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
