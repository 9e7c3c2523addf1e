/**
 * A latency lab: a real farm on loopback (local S3, the API, render nodes as `tessera node start` processes) where
 * each node's public server (GET /ping, session WebSockets) sits behind its own delay proxy, so a client — the
 * test — measures very different RTTs and nothing else tells the nodes apart. Shared by the job and the session
 * latency labs (test/routing/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTesseraClient, type NodeView, type TesseraClient } from '../../api/client/index.ts';
import { startLocalS3, type LocalS3 } from '../../api/node/local-s3.ts';
import { startApi, type RunningApi, type StartApiOptions } from '../../api/node/start-api.ts';
import { TEST_API_KEY, withTestKey } from './api-harness.ts';
import { startDelayProxy, type DelayProxy } from './delay-proxy.ts';
import { BIN, ROOT } from './tessera-cli.ts';

export interface LabNode {
  /** Its name, region and label in messages. */
  label: string;
  delayMs: number;
  proxy: DelayProxy;
  child: ChildProcess;
  log: string[];
  /** Its node id, once registered. */
  id: string;
  exited: Promise<unknown>;
}

export interface LatencyLabOptions {
  /** Temporary folder prefix. */
  name: string;
  leaseMs: number;
  /** API options (the test key is added). */
  api?: StartApiOptions['api'];
  /** The lab's nodes: a label, the delay of each direction to its public server, and flags of its own (e.g. `--location`). */
  nodes: ReadonlyArray<{ label: string; delayMs: number; args?: readonly string[] }>;
  /** Extra `tessera node start` flags for every node (e.g. `--concurrency 1`). */
  nodeArgs: readonly string[];
}

export interface LatencyLab {
  dir: string;
  s3: LocalS3;
  api: RunningApi;
  client: TesseraClient;
  nodes: LabNode[];
  /** The healthy nodes as the API listed them once all had registered. */
  listed: NodeView[];
  byLabel(label: string): LabNode;
  /** A node id's lab label (or the id). */
  labelOf(nodeId: string | undefined | null): string;
  /** Poll `probe` every 100 ms until it returns a value; on time-out the error shows each node's last log lines. */
  waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** A port free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Start S3, the API and the lab's nodes, and wait until every node is registered and healthy. */
export async function startLatencyLab(options: LatencyLabOptions): Promise<LatencyLab> {
  const dir = mkdtempSync(join(tmpdir(), `${options.name}-`));
  const s3 = await startLocalS3({ dir: join(dir, 's3') });
  const api = await startApi({ dataDir: join(dir, 'api'), s3, leaseMs: options.leaseMs, port: 0, api: withTestKey(options.api) });
  const client = createTesseraClient({ baseUrl: api.url, apiKey: TEST_API_KEY });
  const nodes: LabNode[] = [];

  /** A real render node whose public server is reached through a delay proxy, as clients and peers see it. */
  async function startNode(label: string, delayMs: number, own: readonly string[] = []): Promise<LabNode> {
    const probePort = await freePort();
    const proxy = await startDelayProxy({ target: { port: probePort }, delayMs });
    const args = [BIN, 'node', 'start', '--api', api.url, '--name', label, '--region', label, ...options.nodeArgs, ...own];
    args.push('--cache', join(dir, `cache-${label}`), '--probe-host', '127.0.0.1', '--probe-port', String(probePort), '--probe-url', proxy.url);
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, DISPLAY: '', TESSERA_LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
    const log: string[] = [];
    child.stderr!.on('data', (d) => log.push(...String(d).split('\n').filter(Boolean)));
    return { label, delayMs, proxy, child, log, id: '', exited: new Promise((r) => child.on('exit', r)) };
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${nodes.map((n) => `[${n.label}] ${n.log.slice(-5).join('\n')}`).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  for (const n of options.nodes) nodes.push(await startNode(n.label, n.delayMs, n.args));
  const listed = await waitFor(`${nodes.length} healthy nodes`, async () => {
    const { nodes: up } = await client.nodes({ healthy: true });
    return up.length === nodes.length ? up : undefined;
  });
  for (const n of nodes) n.id = listed.find((v) => v.card.name === n.label)!.nodeId;

  return {
    dir,
    s3,
    api,
    client,
    nodes,
    listed,
    byLabel: (label) => nodes.find((n) => n.label === label)!,
    labelOf: (nodeId) => nodes.find((n) => n.id === nodeId)?.label ?? String(nodeId),
    waitFor,
    async close() {
      for (const n of nodes) n.child.kill('SIGKILL');
      await Promise.all(nodes.map((n) => n.exited));
      for (const n of nodes) await n.proxy.close();
      await api.close();
      await s3.close();
    },
  };
}
