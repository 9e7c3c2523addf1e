/**
 * The self-hosted API as a process, from an ApiConfig (api-config.ts): a local S3 server in the data dir when no
 * S3 endpoint is configured, the operator's admin key (given or created once), the API, and optionally the
 * Prometheus metrics listener. Used by `tessera api start` and `npx tsx api/node/main.ts`.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../core/logger.ts';
import type { ApiConfig } from './api-config.ts';
import { createApiMetrics } from './api-metrics.ts';
import { startLocalS3, type LocalS3 } from './local-s3.ts';
import { serveMetrics, type MetricsServer } from '../../node-support/serve-metrics.ts';
import { operatorKey } from './operator-key.ts';
import { startApi } from './start-api.ts';

export interface ServedApi {
  url: string;
  /** The metrics URL, when metrics are on. */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

/** Start everything `config` asks for; resolves once the API listens. */
export async function serveApi(config: ApiConfig, logger: Logger): Promise<ServedApi> {
  let localS3: LocalS3 | undefined;
  if (!config.s3) {
    localS3 = await startLocalS3({ dir: path.join(config.dataDir, 's3') });
    logger.warn({ endpoint: localS3.endpoint }, 'TESSERA_S3_ENDPOINT is not set: using a local S3 server in the data dir');
  }
  const s3 = config.s3 ?? localS3!;
  await mkdir(config.dataDir, { recursive: true });
  const admin = await operatorKey(config.dataDir);
  if (admin.source === 'created') {
    logger.warn({ file: admin.file }, `created an admin API key (clients send it as TESSERA_API_KEY): ${admin.key}`);
  } else {
    logger.info({ source: admin.source, file: admin.file }, 'admin API key loaded');
  }
  const metrics = config.metrics.port === undefined ? undefined : createApiMetrics();
  let metricsServer: MetricsServer | undefined;
  const api = await startApi({
    host: config.host,
    port: config.port,
    dataDir: config.dataDir,
    s3,
    leaseMs: config.leaseMs,
    requestTimeoutMs: config.requestTimeoutMs,
    // A server starts one inspection thread right away: the first upload need not wait for it.
    inspection: { ...config.inspection, prewarm: 1 },
    logger,
    metrics,
    api: {
      maxSceneBytes: config.maxSceneBytes,
      publicUrl: config.publicUrl,
      apiKeys: [{ key: admin.key, name: 'operator', role: 'admin' }],
      verification: config.verification,
      pricing: config.pricing,
      edgePop: config.edgePop,
      routing: { popLearning: { trustClientPop: config.trustClientPop } },
      requireJoinToken: config.requireJoinToken,
      probeCheck: { allowPrivateAddresses: config.probeAllowPrivate },
      trust: { holdCreditOnProbation: config.holdCredit },
    },
  }).catch(async (err: unknown) => {
    await localS3?.close();
    throw err;
  });
  if (metrics) {
    metricsServer = await serveMetrics(metrics.registry, { host: config.metrics.host, port: config.metrics.port! });
    logger.info({ url: metricsServer.url }, 'metrics listening');
  }
  return {
    url: api.url,
    metricsUrl: metricsServer?.url,
    async close() {
      await metricsServer?.close();
      await api.close();
      metrics?.close();
      await localS3?.close();
    },
  };
}
