/**
 * Starts the edge API on Node: SQLite job store under the data dir, S3 blob store, readScene inspector,
 * served by @hono/node-server. `close()` stops accepting connections, answers waiting long-polls (204)
 * and ends event streams at once, then releases the database and the S3 client.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApi } from '../core/create-api.ts';
import type { ApiOptions } from '../core/api-options.ts';
import type { Logger } from '../core/logger.ts';
import type { SceneLimits } from '../protocol/render-spec.ts';
import type { ApiMetrics } from './api-metrics.ts';
import { createNodeSceneInspector } from './node-scene-inspector.ts';
import { createPixelImageComparer } from './pixel-image-comparer.ts';
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
  /** Everything else createApi takes (body limits, retry policy, re-check period…). */
  api?: Omit<ApiOptions, 'shutdown'>;
  /** Count requests, lease latency, storage errors and database states into these metrics (see api-metrics.ts). */
  metrics?: ApiMetrics;
}

export interface RunningApi {
  url: string;
  port: number;
  /** Stop serving and release everything; safe to call twice. */
  close(): Promise<void>;
}

/** How long close() lets in-flight requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 2000;

/** Start the API; resolves once it listens. */
export async function startApi(options: StartApiOptions): Promise<RunningApi> {
  const host = options.host ?? '127.0.0.1';
  await mkdir(options.dataDir, { recursive: true });
  const jobs = createSqliteJobStore(options.dataDir);
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
  const apiBlobs = metrics ? metrics.instrumentBlobs(blobs) : blobs;
  metrics?.watchDatabase(path.join(options.dataDir, JOB_DB_FILE));
  const app = createApi(
    { jobs, sessions, blobs: apiBlobs, inspector: createNodeSceneInspector({ limits: options.sceneLimits }), logger: options.logger, comparer: createPixelImageComparer(apiBlobs) },
    {
      ...options.api,
      policy: { ...options.api?.policy, ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}) },
      shutdown: shutdown.signal,
    },
  );

  const webRoot = options.webRoot ?? (hasWebAssets() ? WEB_DIST : false);
  const fetch = webRoot ? withWebAssets(app.fetch, webRoot) : app.fetch;
  const server = serve({ fetch: metrics ? metrics.instrumentFetch(fetch) : fetch, port: options.port ?? 0, hostname: host });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (err) {
    blobs.close();
    sessions.close();
    await jobs.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  options.logger?.info({ url }, 'API listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      shutdown.abort();
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
      blobs.close();
      sessions.close();
      await jobs.close();
      options.logger?.info({ url }, 'API stopped');
    })());

  return { url, port, close };
}
