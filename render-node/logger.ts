import pino, { type Logger } from 'pino';
import { stderrLogDestination } from '../node-support/stderr-log-destination.ts';

/**
 * A structured (JSON) logger on stderr; level from TESSERA_LOG_LEVEL, else `level`. It writes to /dev/null once
 * stderr's reader is gone, so a node whose `farm up` was killed outright still exits (stderr-log-destination.ts).
 */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level: process.env.TESSERA_LOG_LEVEL ?? level, base: { name } }, stderrLogDestination());
}
export type { Logger };
