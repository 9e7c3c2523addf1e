/**
 * A user-space TCP proxy that delays each direction by a changeable amount: netem for a kernel without
 * netem. Every chunk read on one side is written to the other `delayMs` later, in order (a chunk never
 * overtakes an earlier one when the delay drops), so a request/response round trip through it takes
 * 2 × delayMs more than without. `kill()` makes the target unreachable (connections cut, new ones refused).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface DelayProxyOptions {
  /** Where connections go. */
  target: { host?: string; port: number };
  /** Delay added to each direction (ms). */
  delayMs: number;
  /** Where the proxy listens (default 127.0.0.1, a free port). */
  host?: string;
  port?: number;
}

export interface DelayProxy {
  readonly port: number;
  /** `http://host:port` of the proxy. */
  readonly url: string;
  readonly delayMs: number;
  /** Change the delay of each direction from now on (chunks already in flight keep theirs). */
  setDelay(ms: number): void;
  /** Cut every connection and stop accepting: the target is gone, as far as clients can tell. */
  kill(): Promise<void>;
  /** Stop (same as kill; safe to call twice). */
  close(): Promise<void>;
}

/** Copy `from` → `to`, each chunk `delay()` ms late, in order; returns a function that cancels pending writes. */
function pipeDelayed(from: Socket, to: Socket, delay: () => number): () => void {
  const timers = new Set<NodeJS.Timeout>();
  let lastDue = 0;
  const later = (fn: () => void) => {
    // Never before an earlier chunk, even if the delay was lowered meanwhile.
    const now = performance.now();
    const due = Math.max(now + delay(), lastDue);
    lastDue = due;
    // Nothing to wait for (no delay, no earlier chunk pending): forward now. A 0 ms timer is a 1 ms one in Node,
    // which added ~1 ms to each direction of "loopback" (0 ms) figures (session bench uplink/downlink).
    if (due <= now && !timers.size) {
      fn();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, Math.max(0, due - performance.now()));
    timers.add(timer);
  };
  from.on('data', (chunk) => later(() => to.destroyed || to.write(chunk)));
  from.on('end', () => later(() => to.destroyed || to.end()));
  return () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  };
}

/** Start a proxy to `target`; resolves once it listens. */
export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  let delayMs = options.delayMs;
  const sockets = new Set<Socket>();
  const cancels = new Set<() => void>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server: Server = createServer((client) => {
    track(client);
    const upstream = createConnection({ host: options.target.host ?? '127.0.0.1', port: options.target.port });
    track(upstream);
    // Forward each chunk as it comes, like a router: Nagle's algorithm here (the default on Node sockets) would hold
    // a frame's last segment for the peer's delayed ACK (~40 ms on Linux) and add that to every round trip.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const down = pipeDelayed(client, upstream, () => delayMs);
    const up = pipeDelayed(upstream, client, () => delayMs);
    cancels.add(down);
    cancels.add(up);
    const fail = () => {
      down();
      up();
      cancels.delete(down);
      cancels.delete(up);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', fail);
    upstream.on('error', fail);
    client.on('close', () => setTimeout(() => upstream.destroy(), delayMs + 50).unref());
    upstream.on('close', () => setTimeout(() => client.destroy(), delayMs + 50).unref());
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;
  const kill = () =>
    (stopped ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const cancel of cancels) cancel();
      for (const s of sockets) s.destroy();
    }));
  return {
    port,
    url: `http://${host}:${port}`,
    get delayMs() {
      return delayMs;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    kill,
    close: kill,
  };
}
