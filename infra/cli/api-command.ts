import { Command } from 'commander';
import pino from 'pino';
import { stderrLogDestination } from '../../node-support/stderr-log-destination.ts';
import { readApiConfig } from '../../api/node/api-config.ts';
import { backupDatabase } from '../../api/node/backup-database.ts';
import { serveApi } from '../../api/node/serve-api.ts';

/** Flags of `api start` and the environment variables they set (a flag wins over the variable). */
const FLAG_ENV = {
  host: 'TESSERA_HOST',
  port: 'TESSERA_PORT',
  data: 'TESSERA_DATA_DIR',
  publicUrl: 'TESSERA_PUBLIC_URL',
  s3Endpoint: 'TESSERA_S3_ENDPOINT',
  s3PublicEndpoint: 'TESSERA_S3_PUBLIC_ENDPOINT',
  s3Region: 'TESSERA_S3_REGION',
  s3Bucket: 'TESSERA_S3_BUCKET',
  leaseMs: 'TESSERA_LEASE_MS',
  logLevel: 'TESSERA_LOG_LEVEL',
  metricsHost: 'TESSERA_METRICS_HOST',
  metricsPort: 'TESSERA_METRICS_PORT',
  verifyRate: 'TESSERA_VERIFY_SAMPLE_RATE',
} as const;

/** `tessera api start` (the self-hosted API) and `tessera api backup` (a consistent copy of its database). */
export function apiCommand(): Command {
  const api = new Command('api').description('Run the self-hosted Tessera API (Node, SQLite, S3-compatible storage).');
  api
    .command('start')
    .description(
      'Serve the API until SIGTERM/SIGINT. Configured by TESSERA_* environment variables (see README "Self-host the API"); ' +
        'these flags override them. S3 credentials only come from TESSERA_S3_ACCESS_KEY_ID / TESSERA_S3_SECRET_ACCESS_KEY; ' +
        'without TESSERA_S3_ENDPOINT a local S3 server runs in the data dir.',
    )
    .option('--host <host>', 'interface to listen on (TESSERA_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port, 0 for a free one (TESSERA_PORT, default 8787)')
    .option('--data <dir>', 'data dir: the SQLite database, the admin key file, local S3 objects (TESSERA_DATA_DIR, default .data/api)')
    .option('--public-url <url>', "the API's public URL, for the OpenAPI document (TESSERA_PUBLIC_URL)")
    .option('--s3-endpoint <url>', 'S3-compatible endpoint (TESSERA_S3_ENDPOINT)')
    .option('--s3-public-endpoint <url>', 'endpoint presigned URLs name, when nodes reach storage elsewhere (TESSERA_S3_PUBLIC_ENDPOINT)')
    .option('--s3-region <region>', 'TESSERA_S3_REGION (us-east-1)')
    .option('--s3-bucket <bucket>', 'TESSERA_S3_BUCKET (tessera)')
    .option('--lease-ms <ms>', 'task lease length (TESSERA_LEASE_MS, default 30000)')
    .option('--verify-rate <share>', 'share of render results re-rendered by another node, 0-1 (TESSERA_VERIFY_SAMPLE_RATE, default 0.03)')
    .option('--log-level <level>', 'pino level (TESSERA_LOG_LEVEL, default info)')
    .option('--metrics-port <port>', 'serve Prometheus GET /metrics on this port, 0 for a free one (TESSERA_METRICS_PORT; default off)')
    .option('--metrics-host <host>', 'interface of the metrics listener (TESSERA_METRICS_HOST, default 127.0.0.1)')
    .action(async (o: Partial<Record<keyof typeof FLAG_ENV, string>>) => {
      const env: Record<string, string | undefined> = { ...process.env };
      for (const [flag, name] of Object.entries(FLAG_ENV)) {
        const value = o[flag as keyof typeof FLAG_ENV];
        if (value !== undefined) env[name] = value;
      }
      const config = readApiConfig(env);
      const logger = pino({ name: 'tessera-api', level: config.logLevel }, stderrLogDestination());
      const served = await serveApi(config, logger);
      process.stdout.write(`tessera api: listening on ${served.url}${served.metricsUrl ? `, metrics on ${served.metricsUrl}` : ''}\n`);
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) {
          process.removeAllListeners(signal);
          process.once(signal, () => {
            logger.info({ signal }, 'stopping');
            served.close().then(() => process.exit(0), () => process.exit(1));
          });
        }
      });
    });
  api
    .command('backup')
    .description("Copy the API's SQLite database to FILE while it runs (SQLite online backup; checked, then renamed into place).")
    .requiredOption('--out <file>', 'where the copy goes, e.g. backups/tessera-$(date +%F).sqlite')
    .option('--data <dir>', "the API's data dir (TESSERA_DATA_DIR, default .data/api)")
    .action(async (o: { out: string; data?: string }) => {
      const dataDir = readApiConfig({ ...process.env, ...(o.data ? { TESSERA_DATA_DIR: o.data } : {}) }).dataDir;
      const { file, bytes } = await backupDatabase(dataDir, o.out);
      process.stdout.write(`backed up ${dataDir} to ${file} (${bytes} bytes)\n`);
    });
  return api;
}
