import pino, { type Logger } from 'pino';

/** A structured (JSON) logger on stderr; level from TESSERA_LOG_LEVEL, else `level`. */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level: process.env.TESSERA_LOG_LEVEL ?? level, base: { name } }, pino.destination(2));
}
export type { Logger };
