/**
 * Starts the edge API on Node: SQLite job store under the data dir, S3 blob store, readScene inspector (in worker
 * threads, node-scene-inspector.ts), served by @hono/node-server. `close()` stops accepting connections, answers
 * waiting long-polls (204) and ends event streams at once, then releases the database, the S3 client and the
 * inspection threads.
 */
import { createHmac } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApi } from '../core/create-api.ts';
import type { ApiOptions } from '../core/api-options.ts';
import { silentLogger, type Logger } from '../core/logger.ts';
import { API_DEFAULTS } from '../core/api-options.ts';
import type { ApiContext } from '../core/api-context.ts';
import { pruneDelayMs } from '../core/prune-schedule.ts';
import { PRUNE_SWEEP_INTERVAL_MS, sweepDuePrunes } from '../core/prune-sweep.ts';
import type { SceneLimits } from '../protocol/render-spec.ts';
import type { ApiMetrics } from './api-metrics.ts';
import { createNodeSceneInspector, type NodeSceneInspector, type NodeSceneInspectorOptions } from './node-scene-inspector.ts';
import { INSPECTION_SLOT_DEFAULTS } from '../core/inspection-slots.ts';
import type { SceneInspector } from '../../scene-check/scene-inspector.ts';
import { createPixelImageComparer } from './pixel-image-comparer.ts';
import { createPublicOnlyFetch } from './public-only-fetch.ts';
import { createS3BlobStore, type S3Config } from './s3-blob-store.ts';
import { createSqliteJobStore, JOB_DB_FILE } from './sqlite-job-store.ts';
import { createSqliteSessionStore } from './sqlite-session-store.ts';
import { hasWebAssets, WEB_DIST, withWebAssets } from './web-assets.ts';

export interface StartApiOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where the database lives. */
  dataDir: string;
  s3: S3Config;
  /** Task lease length (default 30 s); tests shorten it. */
  leaseMs?: number;
  logger?: Logger;
  /** Caps on what an uploaded scene may cost. */
  sceneLimits?: Partial<SceneLimits>;
  /**
   * The web dashboard's built files, served at `/` beside the API (default web/dist when it has been built;
   * `false`: API only).
   */
  webRoot?: string | false;
  /** The scene inspector (default: readScene on NodeIO under sceneLimits, in worker threads); tests wrap it. */
  inspector?: SceneInspector;
  /**
   * The default inspector's per-inspection heap cap and time limit (node-scene-inspector.ts defaults); it runs
   * `api.sceneInspections.concurrent` threads.
   */
  inspection?: Pick<NodeSceneInspectorOptions, 'maxHeapMb' | 'timeoutMs' | 'prewarm'>;
  /**
   * Most time a request may take to arrive, headers and body (Node's requestTimeout; default
   * REQUEST_TIMEOUT_MS): a client that trickles a body is cut off with 408 then. Answers (long-polls, event
   * streams) are not counted: the clock stops once the request has arrived.
   */
  requestTimeoutMs?: number;
  /** Most time a request's headers may take to arrive (Node's headersTimeout; default HEADERS_TIMEOUT_MS). */
  headersTimeoutMs?: number;
  /** Everything else createApi takes (body limits, retry policy, re-check period…). */
  api?: Omit<ApiOptions, 'shutdown'>;
  /** Count requests, lease latency, storage errors and database states into these metrics (see api-metrics.ts). */
  metrics?: ApiMetrics;
  /**
   * How often the storage clean-up sweep runs (ms; default PRUNE_SWEEP_INTERVAL_MS): it prunes ended jobs whose
   * upload URLs have all expired (prune-sweep.ts). It also runs once at start, for what came due while the API was down.
   */
  pruneSweepMs?: number;
}

export interface RunningApi {
  url: string;
  port: number;
  /** Stop serving and release everything; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Node's own default lets a request arrive over 300 s, so a client that sends headers and then a byte at a time holds
 * a connection and its buffered body for five minutes (slowloris). The largest body the API reads itself is a direct
 * scene upload; the SDK sends those only up to 32 MiB (directUploadMaxBytes) and larger scenes to storage through a
 * presigned PUT, so 120 s allows 32 MiB at 2.2 Mbit/s (a maxSceneBytes body of 256 MiB needs 18 Mbit/s: slower
 * links use the presigned upload, which storage times). Every other body (JSON, inline outputs ≤ 8 MiB, sampled
 * frames) is smaller still.
 */
export const REQUEST_TIMEOUT_MS = 120_000;
/** Honest clients send their headers in one packet: 20 s covers any real round trip with retransmits. */
export const HEADERS_TIMEOUT_MS = 20_000;

/** How long close() lets in-flight requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 2000;

/** Start the API; resolves once it listens. */
export async function startApi(options: StartApiOptions): Promise<RunningApi> {
  const host = options.host ?? '127.0.0.1';
  await mkdir(options.dataDir, { recursive: true });
  const jobs = createSqliteJobStore(options.dataDir, { pruneDelayMs: pruneDelayMs(options.api?.nodeUrlSeconds ?? API_DEFAULTS.nodeUrlSeconds) });
  const sessions = createSqliteSessionStore(options.dataDir);
  let blobs;
  try {
    blobs = await createS3BlobStore(options.s3);
  } catch (err) {
    sessions.close();
    await jobs.close();
    throw err;
  }
  const shutdown = new AbortController();
  const metrics = options.metrics;
  // Threads for the slots' inspections, so an upload that waited for a slot never waits for a thread too. The upload's
  // bytes move to the thread: the scene routes hash an upload before it is inspected and never read it after.
  const ownInspector: NodeSceneInspector | undefined = options.inspector
    ? undefined
    : createNodeSceneInspector({
        limits: options.sceneLimits,
        threads: options.api?.sceneInspections?.concurrent ?? INSPECTION_SLOT_DEFAULTS.concurrent,
        transferInput: true,
        ...options.inspection,
      });
  const apiBlobs = metrics ? metrics.instrumentBlobs(blobs) : blobs;
  metrics?.watchDatabase(path.join(options.dataDir, JOB_DB_FILE));
  const app = createApi(
    { jobs, sessions, blobs: apiBlobs, inspector: options.inspector ?? ownInspector!, logger: options.logger, comparer: createPixelImageComparer(apiBlobs), hmacSha256Sync, publicFetch: createPublicOnlyFetch() },
    {
      ...options.api,
      policy: { ...options.api?.policy, ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}) },
      shutdown: shutdown.signal,
    },
  );

  const webRoot = options.webRoot ?? (hasWebAssets() ? WEB_DIST : false);
  const fetch = webRoot ? withWebAssets(app.fetch, webRoot) : app.fetch;
  const requestTimeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS, requestTimeout);
  const server = serve({
    fetch: metrics ? metrics.instrumentFetch(fetch) : fetch,
    port: options.port ?? 0,
    hostname: host,
    // Node checks both timeouts every connectionsCheckingInterval (30 s by default): a quarter of the shorter one.
    serverOptions: { requestTimeout, headersTimeout, connectionsCheckingInterval: Math.max(25, Math.min(30_000, Math.floor(headersTimeout / 4))) },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (err) {
    await ownInspector?.close();
    blobs.close();
    sessions.close();
    await jobs.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const sweeper = startPruneSweeper({ jobs, blobs: apiBlobs, logger: options.logger ?? silentLogger }, options.pruneSweepMs ?? PRUNE_SWEEP_INTERVAL_MS);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  options.logger?.info({ url }, 'API listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      shutdown.abort();
      await sweeper.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Answered long-polls leave keep-alive connections idle after close() began; keep closing those.
      const sweep = setInterval(() => {
        if ('closeIdleConnections' in server) server.closeIdleConnections();
      }, 20);
      const timer = setTimeout(() => {
        if ('closeAllConnections' in server) server.closeAllConnections();
      }, CLOSE_GRACE_MS);
      await closed;
      clearInterval(sweep);
      clearTimeout(timer);
      await ownInspector?.close();
      blobs.close();
      sessions.close();
      await jobs.close();
      options.logger?.info({ url }, 'API stopped');
    })());

  return { url, port, close };
}

/**
 * Run the storage clean-up sweep now and every `intervalMs`, one sweep at a time (a sweep stopped at its limit is
 * followed by another at once). The timer does not keep the process alive: the marks are in the store, so a sweep
 * missed by a stop is made by the next start. `stop()` waits for the sweep in progress.
 */
function startPruneSweeper(ctx: Pick<ApiContext, 'jobs' | 'blobs' | 'logger'>, intervalMs: number): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  let stopped = false;
  const sweep = (): void => {
    if (running || stopped) return;
    running = (async () => {
      try {
        while (!stopped && (await sweepDuePrunes(ctx, Date.now())).more);
      } catch (err) {
        ctx.logger.warn({ err }, 'storage clean-up sweep failed; trying again at the next one');
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(sweep, Math.max(10, intervalMs));
  timer.unref();
  sweep();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/** HMAC-SHA256 with node:crypto, at once (ApiDeps.hmacSha256Sync). */
function hmacSha256Sync(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(data).digest());
}
