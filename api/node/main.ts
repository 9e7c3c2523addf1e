/**
 * `npx tsx api/node/main.ts` (the same as `tessera api start` without flags): the API as a process.
 * Configuration from the environment (api-config.ts), JSON logs on stderr, clean stop on SIGTERM/SIGINT.
 * Without TESSERA_S3_ENDPOINT it starts a local S3 server in the data dir, so one command gives a working API
 * on a laptop. The operator's admin key is TESSERA_API_KEY, or one created (and printed) on the first start
 * and kept in the data dir.
 */
import pino from 'pino';
import { stderrLogDestination } from '../../node-support/stderr-log-destination.ts';
import { isTesseraError } from '../protocol/errors.ts';
import { readApiConfig } from './api-config.ts';
import { serveApi } from './serve-api.ts';

async function main(): Promise<void> {
  const config = readApiConfig();
  const logger = pino({ name: 'tessera-api', level: config.logLevel }, stderrLogDestination());
  const api = await serveApi(config, logger);
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await api.close();
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
