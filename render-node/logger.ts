import { openSync } from 'node:fs';
import pino, { type Logger } from 'pino';

let devNull: number | undefined;

/**
 * A structured (JSON) logger on stderr; level from TESSERA_LOG_LEVEL, else `level`. Once stderr's reader is gone
 * (EPIPE: a `farm up` killed outright), the logger writes to /dev/null: otherwise pino's flush at exit (sonic-boom's
 * flushSync, which retries any failed write every 100 ms) keeps the process from ever exiting.
 */
export function createLogger(name: string, level = 'info'): Logger {
  const destination = pino.destination(2);
  destination.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET' && err.code !== 'EBADF') return;
    devNull ??= openSync('/dev/null', 'w');
    (destination as unknown as { fd: number }).fd = devNull;
  });
  return pino({ name, level: process.env.TESSERA_LOG_LEVEL ?? level, base: { name } }, destination);
}
export type { Logger };
