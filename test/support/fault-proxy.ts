/**
 * An HTTP proxy that fails a share of the requests passing through it, for putting flaky storage in front
 * of s3rver: each request is, with probability `failureRate` (seeded), answered 500 or 503 with an S3-style
 * error body, or cut with a connection reset — before it reaches the target, or after the target handled
 * it (the worst case for a PUT: stored, yet the client saw it fail). Everything else is forwarded as is,
 * Host header included, so presigned URLs signed for the proxy's address stay valid.
 * It counts what it did, and every PUT the target accepted per object key (objects written more than once).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createRandom } from '../../api/core/routing/seeded-random.ts';

export type InjectedFault = '500' | '503' | 'reset-before' | 'reset-after';

export interface FaultProxyOptions {
  /** Where requests go, e.g. s3rver's `http://127.0.0.1:PORT`. */
  target: string;
  /** Share of requests that fail (default 0.2). */
  failureRate?: number;
  /** Seed of the fault draws (default 1). */
  seed?: number;
  /** Where the proxy listens (default 127.0.0.1, a free port). */
  host?: string;
  port?: number;
}

export interface FaultCounts {
  requests: number;
  forwarded: number;
  injected: Record<InjectedFault, number>;
}

export interface FaultProxy {
  readonly url: string;
  readonly port: number;
  readonly counts: FaultCounts;
  /** Successful (2xx) PUTs the target answered, by object path (bucket/key, no query). */
  readonly puts: Map<string, number>;
  /** Change the share of failing requests from now on. */
  setFailureRate(rate: number): void;
  close(): Promise<void>;
}

const FAULTS: InjectedFault[] = ['500', '503', 'reset-before', 'reset-after'];
const S3_ERRORS = {
  '500': { code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  '503': { code: 'SlowDown', message: 'Please reduce your request rate.' },
} as const;

/** Start a fault-injecting proxy; resolves once it listens. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const random = createRandom(options.seed ?? 1);
  let failureRate = options.failureRate ?? 0.2;
  const counts: FaultCounts = { requests: 0, forwarded: 0, injected: { '500': 0, '503': 0, 'reset-before': 0, 'reset-after': 0 } };
  const puts = new Map<string, number>();
  const sockets = new Set<Socket>();

  const reset = (req: IncomingMessage) => {
    req.socket.resetAndDestroy();
  };

  const forward = (req: IncomingMessage, res: ServerResponse, cutAfter: boolean) => {
    counts.forwarded++;
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const path = (req.url ?? '').split('?')[0];
        if (req.method === 'PUT' && (answer.statusCode ?? 0) < 300) puts.set(path, (puts.get(path) ?? 0) + 1);
        if (cutAfter) {
          // The target did the work; the client never hears of it.
          answer.resume();
          answer.on('end', () => reset(req));
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => reset(req));
    req.pipe(upstream);
  };

  const server: Server = createServer((req, res) => {
    counts.requests++;
    const fault = random() < failureRate ? FAULTS[Math.floor(random() * FAULTS.length)] : null;
    if (fault) counts.injected[fault]++;
    if (fault === 'reset-before') return reset(req);
    if (fault === '500' || fault === '503') {
      const { code, message } = S3_ERRORS[fault];
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
      // Drain the request first, as a real server would before answering.
      req.resume();
      req.on('end', () => res.writeHead(Number(fault), { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body));
      return;
    }
    forward(req, res, fault === 'reset-after');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    counts,
    puts,
    setFailureRate(rate) {
      failureRate = rate;
    },
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      })),
  };
}
