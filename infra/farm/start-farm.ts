import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { startApi } from '../../api/node/start-api.ts';
import { SAMPLE_RATE } from '../../api/core/verification-policy.ts';
import { startLocalS3 } from '../../api/node/local-s3.ts';
import { operatorKey, type OperatorKey } from '../../api/node/operator-key.ts';
import { TesseraError } from '../../api/protocol/errors.ts';
import { FarmNodeProcess } from './farm-node-process.ts';
import { rasterThreadsFor } from '../../render-node/agent/raster-threads.ts';
import { formatLogLine } from './format-log-line.ts';

export interface FarmOptions {
  /** Render nodes to start, each in its own process. */
  nodes?: number;
  /** API port; 0 picks a free one. */
  port?: number;
  host?: string;
  /** Where the API database, the stored objects and the nodes' scene caches go. */
  dataDir?: string;
  /**
   * Tasks each node runs at once: rendering is serialized on the node's GL context, encoding and I/O overlap.
   * Absent: farmNodeConcurrency (the nodes share this machine's cores rather than each taking two).
   */
  nodeConcurrency?: number;
  /** How the nodes lease tasks (see RenderNodeOptions.leasing); the node's default when absent. */
  nodeLeasing?: 'batched' | 'per-slot';
  /** The nodes' GL backends (see RenderNodeOptions.backend); the node's default (headless-gl) when absent. */
  nodeBackend?: 'auto' | 'chromium' | 'headless-gl';
  /** Receives each line of the combined log, prefixed by its source (`[api] …`, `[node-1] …`). */
  log?: (line: string) => void;
  /** Longest to wait for every node to register. */
  readyTimeoutMs?: number;
  /** Share of render results re-issued to another node for verification (0 – 1). */
  verifyRate?: number;
}

export const FARM_DEFAULTS = {
  nodes: 2,
  port: 8080,
  host: '127.0.0.1',
  /** Most tasks one node runs at once when nodeConcurrency is not given (see farmNodeConcurrency). */
  nodeConcurrency: 2,
  nodeLeasing: 'batched' as 'batched' | 'per-slot',
  nodeBackend: 'headless-gl' as 'auto' | 'chromium' | 'headless-gl',
  dataDir: '.data/farm',
  readyTimeoutMs: 180_000,
  verifyRate: SAMPLE_RATE,
  log: (line: string) => process.stdout.write(line + '\n'),
} satisfies Required<FarmOptions>;

export interface Farm {
  /** The API's base URL. */
  url: string;
  /** The admin API key clients use (TESSERA_API_KEY, or the one saved in the data dir, or a new one). */
  apiKey: OperatorKey;
  dataDir: string;
  nodes: FarmNodeProcess[];
  /** Settles when every node has registered with the API; rejects if one keeps dying or the wait times out. */
  ready: Promise<void>;
  /** Stop the nodes (each drains first), then the API, then storage. Safe to call again. */
  stop(): Promise<void>;
  /** Kill the nodes at once (a second Ctrl-C); the servers end with this process. */
  kill(): void;
}

/**
 * Slots per node when `farm up` is not told: the farm's nodes all render on this machine, so they share its
 * cores (at least one slot each, at most FARM_DEFAULTS.nodeConcurrency). Two nodes on two cores get one slot
 * each rather than two apiece: four render processes on two cores only took turns (`npm run bench:farm`).
 */
export function farmNodeConcurrency(nodes: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(FARM_DEFAULTS.nodeConcurrency, Math.floor(cores / Math.max(1, nodes))));
}

/**
 * A whole farm on this machine: a local S3 server and the API in this process, and `nodes` render nodes as
 * child processes (one GL context each), with one combined log. The API runs in-process because it needs no
 * isolation (no GL, no scene code) and so starts in milliseconds and stops in order with the rest.
 */
export async function startFarm(options: FarmOptions = {}): Promise<Farm> {
  // Options left undefined keep their defaults.
  const opts = { ...FARM_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Required<FarmOptions>;
  const dataDir = resolve(opts.dataDir);
  const say = (source: string) => (line: string) => opts.log(`[${source}] ${line}`);
  const farmLog = say('farm');

  await mkdir(join(dataDir, 'api'), { recursive: true });
  const apiKey = await operatorKey(dataDir);
  const s3 = await startLocalS3({ dir: join(dataDir, 's3') });
  say('s3')(`listening at ${s3.endpoint} (bucket ${s3.bucket}, objects in ${join(dataDir, 's3')})`);
  const apiLog = say('api');
  const logger = pino({ level: process.env.TESSERA_LOG_LEVEL ?? 'info' }, { write: (chunk: string) => chunk.split('\n').forEach((l) => l && apiLog(formatLogLine(l))) });
  let api: Awaited<ReturnType<typeof startApi>>;
  try {
    api = await startApi({
      port: opts.port,
      host: opts.host,
      dataDir: join(dataDir, 'api'),
      s3,
      logger,
      // One inspection thread from the start: the first upload need not wait the ~0.7 s a thread takes to start.
      inspection: { prewarm: 1 },
      api: {
        apiKeys: [{ key: apiKey.key, name: 'farm operator', role: 'admin' }],
        verification: { sampleRate: opts.verifyRate },
        // Every node of a farm on one machine advertises a loopback probe URL: let `tessera node doctor` check it.
        probeCheck: { allowPrivateAddresses: true },
        // Per-hop stamps of each task for `npm run bench:farm` (api/core/timeline.ts).
        timeline: process.env.TESSERA_TIMELINE === '1',
      },
    });
  } catch (cause) {
    await s3.close().catch(() => {});
    if ((cause as NodeJS.ErrnoException)?.code === 'EADDRINUSE') {
      throw new TesseraError('BAD_REQUEST', `port ${opts.port} on ${opts.host} is in use; stop what runs there or choose another with --port`, { cause });
    }
    throw cause;
  }

  const concurrency = options.nodeConcurrency ?? farmNodeConcurrency(opts.nodes);
  // The nodes' render processes share this machine: when their slots together fill its cores, each draws on its
  // own thread rather than start a rasterizer thread per core (an LP_NUM_THREADS of the operator's wins).
  const rasterThreads = process.env.LP_NUM_THREADS?.trim() ? undefined : rasterThreadsFor(opts.nodes * concurrency);
  const nodes = Array.from(
    { length: opts.nodes },
    (_, i) =>
      new FarmNodeProcess({
        name: `node-${i + 1}`,
        api: api.url,
        cacheDir: join(dataDir, 'cache', `node-${i + 1}`),
        concurrency,
        rasterThreads,
        // Each node's share of the cores: a node alone may draw a lone task on all of them (its wide render
        // process), co-located nodes only on theirs, so two busy nodes never run a rasterizer thread per core each.
        cores: Math.max(1, Math.floor(availableParallelism() / opts.nodes)),
        leasing: opts.nodeLeasing,
        backend: opts.nodeBackend,
        log: say(`node-${i + 1}`),
      }),
  );
  for (const node of nodes) node.start();
  const killAll = () => nodes.forEach((n) => n.kill());
  // Never leave nodes behind, however this process ends.
  process.once('exit', killAll);

  let timer: NodeJS.Timeout | undefined;
  const ready = Promise.race([
    Promise.all(nodes.map((n) => n.registered)).then(() => undefined),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TesseraError('UNAVAILABLE', `the render nodes did not all register within ${opts.readyTimeoutMs / 1000} s; see their log lines above`)), opts.readyTimeoutMs);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
  ready.catch(() => {});

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      farmLog(`stopping: draining ${nodes.length} node(s)`);
      const outcomes = await Promise.all(nodes.map((n) => n.stop()));
      nodes.forEach((n, i) => say(n.name)(outcomes[i] === 'killed' ? 'killed: it did not drain in time' : 'stopped'));
      await api.close();
      apiLog('stopped');
      await s3.close();
      say('s3')('stopped');
      process.off('exit', killAll);
    })());

  return { url: api.url, apiKey, dataDir, nodes, ready, stop, kill: killAll };
}
