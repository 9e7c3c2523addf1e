/**
 * `npx tsx api/node/main.ts`: the API as a process. Configuration from the environment (api-config.ts),
 * JSON logs on stderr, clean stop on SIGTERM/SIGINT. Without TESSERA_S3_ENDPOINT it starts a local S3
 * server in the data dir, so one command gives a working API on a laptop. The operator's admin key is
 * TESSERA_API_KEY, or one created (and printed) on the first start and kept in the data dir.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { isTesseraError } from '../protocol/errors.ts';
import { readApiConfig } from './api-config.ts';
import { startLocalS3, type LocalS3 } from './local-s3.ts';
import { operatorKey } from './operator-key.ts';
import { startApi } from './start-api.ts';

async function main(): Promise<void> {
  const config = readApiConfig();
  const logger = pino({ name: 'tessera-api', level: config.logLevel }, pino.destination(2));
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
  const api = await startApi({
    host: config.host,
    port: config.port,
    dataDir: config.dataDir,
    s3,
    leaseMs: config.leaseMs,
    logger,
    api: {
      maxSceneBytes: config.maxSceneBytes,
      publicUrl: config.publicUrl,
      apiKeys: [{ key: admin.key, name: 'operator', role: 'admin' }],
      verification: config.verification,
      pricing: config.pricing,
      edgePop: config.edgePop,
    },
  });
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await api.close();
    await localS3?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  const message = isTesseraError(err) ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`${JSON.stringify({ level: 60, name: 'tessera-api', msg: `could not start: ${message}` })}\n`);
  process.exit(1);
});
