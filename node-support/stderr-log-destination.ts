import { openSync } from 'node:fs';
import pino, { type DestinationStream } from 'pino';

let devNull: number | undefined;

/** Write errors that mean stderr's reader is gone for good: nothing written to the fd will be read again. */
const READER_GONE = new Set(['EPIPE', 'ECONNRESET', 'EBADF']);

/**
 * pino's destination on stderr (fd 2) for every Node process of ours (the API, the render node, the CLI's), safe
 * when stderr's reader dies (a `farm up`, supervisor or `| tee` killed outright): the process still exits.
 *
 * sonic-boom 4.2.1's flushSync, which pino runs at exit, retries any failed write every 100 ms forever, EPIPE
 * included. With asynchronous writes a line logged just before `process.exit` ('stopping') is still buffered at
 * exit, so its first write happens inside that loop and the process never leaves. Writes here are synchronous
 * instead (as Node's own stderr is on pipes): the first failed write emits 'error' at once, pino then drops
 * further lines and stops flushing at exit, and this destination points at /dev/null from then on, so a manual
 * flush cannot hang either.
 */
export function stderrLogDestination(): DestinationStream {
  const destination = pino.destination({ dest: 2, sync: true });
  destination.on('error', (err: NodeJS.ErrnoException) => {
    if (!READER_GONE.has(err.code ?? '')) return;
    devNull ??= openSync('/dev/null', 'w');
    (destination as unknown as { fd: number }).fd = devNull;
  });
  return destination;
}
